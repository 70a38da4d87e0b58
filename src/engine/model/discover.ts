import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { isModelFileName } from './formats';

const SKIPPED_DIRS = new Set(['node_modules', '.git', 'dist', 'out', '.venv', 'venv', '__pycache__']);

/** Model files under `dir` (recursively, skipping dependency and build folders), sorted. */
export async function findModelFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(d: string): Promise<void> {
    const entries = await fs.readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED_DIRS.has(e.name) && !e.name.startsWith('.')) await walk(full);
      } else if (isModelFileName(e.name)) {
        found.push(full);
      }
    }
  }
  await walk(dir);
  return found.sort();
}

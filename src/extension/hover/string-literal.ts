/**
 * Resolving the string literal under the cursor to a workspace image or array. Pure: no `vscode`
 * import; the hover provider checks which candidate exists through `workspace.fs`.
 */
import * as path from 'node:path';

export const HOVER_INPUT_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.npy'] as const;

export interface StringLiteral {
  value: string;
  /** Columns of the literal's content (inside the quotes), end exclusive. */
  start: number;
  end: number;
}

/**
 * The single-line string literal containing column `character` of `line` (quotes '…', "…", `…`,
 * with Python prefixes r/b/f/u in any case), or undefined. Escapes are honoured when scanning; the
 * value is the raw content (paths rarely contain escapes; `r"C:\x"` keeps its backslashes).
 */
export function stringLiteralAt(line: string, character: number): StringLiteral | undefined {
  let quote: string | undefined;
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\' && line[i + 1] !== undefined) {
        i++;
        continue;
      }
      if (ch === quote) {
        if (character >= start - 1 && character <= i) return { value: line.slice(start, i), start, end: i };
        quote = undefined;
      }
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
      start = i + 1;
    }
  }
  return undefined;
}

/** Whether a literal looks like a path to a supported input (before touching the file system). */
export function looksLikeInputPath(value: string): boolean {
  if (value.length === 0 || value.length > 1024 || /[\n\0]/.test(value) || /^[a-z]+:\/\//i.test(value)) return false;
  return (HOVER_INPUT_EXTENSIONS as readonly string[]).includes(path.extname(value).toLowerCase());
}

/**
 * Absolute candidates for `value`, most specific first: itself when absolute (or `~/`), otherwise
 * relative to the document's folder, then to each workspace folder (scripts are often run from
 * the root). Duplicates removed.
 */
export function candidatePaths(value: string, documentDir: string, workspaceRoots: readonly string[], home?: string): string[] {
  if (!looksLikeInputPath(value)) return [];
  if (value.startsWith('~/') && home) return [path.join(home, value.slice(2))];
  if (path.isAbsolute(value)) return [path.normalize(value)];
  const out: string[] = [];
  for (const base of [documentDir, ...workspaceRoots]) {
    const p = path.resolve(base, value);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

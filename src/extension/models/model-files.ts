/**
 * The Models view's content built from a plain file list. Pure: no `vscode` import; the tree
 * provider gathers paths and mtimes through `workspace.findFiles` / `workspace.fs` and calls these.
 */
import * as path from 'node:path';

/** Model files the engine loads: ONNX, Keras (.keras, legacy .h5/.hdf5) and TF.js (model.json). */
export const MODEL_GLOB = '**/{*.onnx,*.keras,*.h5,*.hdf5,model.json,*.model.json}';
export const EXCLUDE_GLOB = '**/{node_modules,.git,.venv,venv,__pycache__}/**';
export const SAMPLE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.npy'] as const;

export function isModelFile(file: string): boolean {
  const base = path.basename(file).toLowerCase();
  return ['.onnx', '.keras', '.h5', '.hdf5'].includes(path.extname(base)) || base === 'model.json' || base.endsWith('.model.json');
}

export function isSampleFile(file: string): boolean {
  return (SAMPLE_EXTENSIONS as readonly string[]).includes(path.extname(file).toLowerCase());
}

export interface ModelEntry {
  path: string;
  /** File name shown as the label. */
  label: string;
  /** Folder relative to its workspace root ('' at the root), shown as the description. */
  folder: string;
}

/** Model files (absolute paths) → sorted entries; files under skipped folders and non-models dropped. */
export function modelEntries(files: readonly string[], workspaceRoots: readonly string[]): ModelEntry[] {
  const seen = new Set<string>();
  const out: ModelEntry[] = [];
  for (const f of files) {
    if (!isModelFile(f) || seen.has(f)) continue;
    if (f.split(/[\\/]/).some((part) => part === 'node_modules' || part === '.git')) continue;
    seen.add(f);
    const root = workspaceRoots.find((r) => f === r || f.startsWith(r + path.sep));
    const folder = root ? path.relative(root, path.dirname(f)) : path.dirname(f);
    out.push({ path: f, label: path.basename(f), folder: folder.split(path.sep).join('/') });
  }
  return out.sort((a, b) => a.folder.localeCompare(b.folder) || a.label.localeCompare(b.label));
}

/** The sidecar config's path for a model. */
export function sidecarPath(modelPath: string): string {
  return `${modelPath}.lens.json`;
}

export interface SidecarSummary {
  /** e.g. "1×28×28 NCHW"; undefined when the sidecar says nothing about the input. */
  input?: string;
  labels?: string[] | string;
  /** Absolute samples folder, when the sidecar names one. */
  samplesDir?: string;
}

/** What the tree shows from a sidecar (tolerant: the engine validates; a bad field is just not shown). */
export function summarizeSidecar(modelPath: string, json: unknown): SidecarSummary {
  const out: SidecarSummary = {};
  if (typeof json !== 'object' || json === null) return out;
  const j = json as { input?: { size?: unknown; channels?: unknown; layout?: unknown }; labels?: unknown; samples?: unknown };
  const inp = j.input;
  if (inp && Array.isArray(inp.size) && inp.size.length === 2) {
    const c = typeof inp.channels === 'number' ? inp.channels : '?';
    out.input = `${c}×${inp.size.join('×')}${typeof inp.layout === 'string' ? ` ${inp.layout}` : ''}`;
  }
  if (Array.isArray(j.labels) && j.labels.every((l) => typeof l === 'string')) out.labels = j.labels as string[];
  else if (typeof j.labels === 'string') out.labels = j.labels;
  if (typeof j.samples === 'string' && j.samples.trim() !== '') out.samplesDir = path.resolve(path.dirname(modelPath), j.samples);
  return out;
}

/**
 * Sample folders for a model: the sidecar's, else the configured folders (relative to the model's
 * folder, then absolute), de-duplicated.
 */
export function sampleFolders(modelPath: string, sidecar: SidecarSummary, configured: readonly string[]): string[] {
  const dirs: string[] = [];
  if (sidecar.samplesDir) dirs.push(sidecar.samplesDir);
  for (const c of configured) {
    const d = path.resolve(path.dirname(modelPath), c);
    if (!dirs.includes(d)) dirs.push(d);
  }
  return dirs;
}

/** Sample files from a folder listing (names), sorted naturally (digit_2 before digit_10). */
export function sampleFiles(dir: string, names: readonly string[]): string[] {
  return names
    .filter(isSampleFile)
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
    .map((n) => path.join(dir, n));
}

/** The most recently modified model (ties: the later path), or undefined. */
export function latestModel(entries: readonly { path: string; mtime: number }[]): string | undefined {
  let best: { path: string; mtime: number } | undefined;
  for (const e of entries) {
    if (!best || e.mtime > best.mtime || (e.mtime === best.mtime && e.path > best.path)) best = e;
  }
  return best?.path;
}

/** One-line description of a labels field for the tree. */
export function describeLabels(labels: string[] | string | undefined): string | undefined {
  if (labels === undefined) return undefined;
  if (typeof labels === 'string') return labels;
  const shown = labels.slice(0, 5).join(', ');
  return labels.length > 5 ? `${labels.length}: ${shown}, …` : `${labels.length}: ${shown}`;
}

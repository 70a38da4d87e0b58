/** Model files of the workspace, found with `workspace.findFiles` and stamped with `workspace.fs.stat`. */
import * as vscode from 'vscode';
import type { FileStamp } from '../engine/result-cache';
import { EXCLUDE_GLOB, latestModel, MODEL_GLOB } from './model-files';

export async function findModelUris(token?: vscode.CancellationToken): Promise<vscode.Uri[]> {
  return vscode.workspace.findFiles(MODEL_GLOB, EXCLUDE_GLOB, 500, token);
}

export async function stampOf(file: string): Promise<FileStamp> {
  const s = await vscode.workspace.fs.stat(vscode.Uri.file(file));
  return { path: file, mtime: s.mtime, size: s.size };
}

export async function exists(file: string): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(vscode.Uri.file(file));
    return true;
  } catch {
    return false;
  }
}

/** The most recently modified model file of the workspace ("latest exported model"). */
export async function findLatestModel(): Promise<string | undefined> {
  const uris = await findModelUris();
  const stamps = await Promise.all(uris.map((u) => stampOf(u.fsPath).catch(() => undefined)));
  return latestModel(stamps.filter((s): s is FileStamp => s !== undefined));
}

export async function readJson(file: string): Promise<unknown> {
  try {
    const bytes = await vscode.workspace.fs.readFile(vscode.Uri.file(file));
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    return undefined;
  }
}

export function workspaceRoots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
}

/**
 * Hover on a string literal naming an image or .npy in the workspace: the image, the active
 * model's top-k and the attribution overlay (method from `attributionLens.hoverMethod`), rendered
 * by the engine to PNG and inlined as data: URIs. Cached (see ExplainCache), so the second hover
 * over the same files is answered from memory.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExplainCache } from '../engine/explain-cache';
import { errorMessage, isCancellation } from '../engine/engine-host';
import type { ModelState } from '../models/model-state';
import { findLatestModel } from '../models/workspace-models';
import { encodeBytes } from '../../protocol/codecs';
import type { Settings } from '../settings';
import { candidatePaths, stringLiteralAt } from './string-literal';
import { escapeHtml } from '../../engine/render/html';

export const HOVER_LANGUAGES = ['python', 'typescript', 'javascript', 'typescriptreact', 'javascriptreact'];

/** Images larger than this are not inlined (a hover is no place for a 20 MB photo). */
const MAX_INLINE_BYTES = 1_500_000;
const SHOWN_SIZE = 112;

export class ImageHoverProvider implements vscode.HoverProvider {
  constructor(
    private readonly explanations: ExplainCache,
    private readonly state: ModelState,
    private readonly settings: () => Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<vscode.Hover | undefined> {
    const settings = this.settings();
    if (!settings.hoverEnabled) return undefined;
    const line = document.lineAt(position.line).text;
    const literal = stringLiteralAt(line, position.character);
    if (!literal) return undefined;
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const file = await firstExisting(candidatePaths(literal.value, path.dirname(document.uri.fsPath), roots));
    if (!file || token.isCancellationRequested) return undefined;
    const range = new vscode.Range(position.line, literal.start, position.line, literal.end);

    const md = new vscode.MarkdownString(undefined, true);
    md.supportHtml = true;
    md.isTrusted = { enabledCommands: ['attributionLens.pickModel', 'attributionLens.explainImage'] };
    md.appendMarkdown(`**${escapeMd(path.basename(file))}**\n\n`);
    const original = await this.originalImage(file);

    if (!vscode.workspace.isTrusted) {
      if (original) md.appendMarkdown(img(original, 'input'));
      md.appendMarkdown(`\n\n${vscode.l10n.t('Trust this workspace to see the model\'s explanation.')}`);
      return new vscode.Hover(md, range);
    }
    const model = this.state.activeModel ?? (await findLatestModel());
    if (!model) {
      if (original) md.appendMarkdown(img(original, 'input'));
      md.appendMarkdown(`\n\n${vscode.l10n.t('No model file (.onnx) in this workspace.')}`);
      return new vscode.Hover(md, range);
    }

    const controller = new AbortController();
    const sub = token.onCancellationRequested(() => controller.abort());
    try {
      const result = await this.explanations.explain(
        { model, input: file, methods: [{ method: settings.hoverMethod }], topK: settings.topK, opacity: settings.overlayOpacity },
        { signal: controller.signal },
      );
      const m = result.methods[0];
      const overlay = m?.png && !m.error && m.png.byteLength > 0 ? `data:image/png;base64,${encodeBytes(new Uint8Array(m.png))}` : undefined;
      md.appendMarkdown(
        [original ?? result.inputImage, overlay]
          .map((uri, i) => (uri ? img(uri, i === 0 ? 'input' : m.method) : ''))
          .filter(Boolean)
          .join('&nbsp;&nbsp;'),
      );
      md.appendMarkdown('\n\n');
      md.appendMarkdown(
        result.topK.map((p, i) => `${i === 0 ? '**' : ''}${escapeMd(p.label)}${i === 0 ? '**' : ''} ${(p.probability * 100).toFixed(1)}%`).join(' · '),
      );
      md.appendMarkdown(`\n\n${escapeMd(m?.method ?? settings.hoverMethod)}${m ? ` · ${Math.round(m.ms)} ms` : ''} · ${escapeMd(path.basename(model))}`);
      if (m?.error) md.appendMarkdown(`\n\n${escapeMd(m.error)}`);
      md.appendMarkdown(` · [${vscode.l10n.t('Explain…')}](command:attributionLens.explainImage?${encodeURIComponent(JSON.stringify([vscode.Uri.file(file)]))})`);
      return new vscode.Hover(md, range);
    } catch (err) {
      if (isCancellation(err)) return undefined;
      this.log.warn(`hover on ${file}: ${errorMessage(err)}`);
      if (original) md.appendMarkdown(img(original, 'input'));
      md.appendMarkdown(`\n\n${escapeMd(errorMessage(err))}`);
      return new vscode.Hover(md, range);
    } finally {
      sub.dispose();
    }
  }

  private async originalImage(file: string): Promise<string | undefined> {
    const ext = path.extname(file).toLowerCase();
    if (ext === '.npy') return undefined;
    try {
      const uri = vscode.Uri.file(file);
      const stat = await vscode.workspace.fs.stat(uri);
      if (stat.size > MAX_INLINE_BYTES) return undefined;
      const bytes = await vscode.workspace.fs.readFile(uri);
      const mime = ext === '.png' ? 'image/png' : 'image/jpeg';
      return `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
    } catch {
      return undefined;
    }
  }
}

async function firstExisting(candidates: readonly string[]): Promise<string | undefined> {
  for (const c of candidates) {
    try {
      const s = await vscode.workspace.fs.stat(vscode.Uri.file(c));
      if (s.type & vscode.FileType.File) return c;
    } catch {
      // next candidate
    }
  }
  return undefined;
}

function img(src: string, alt: string): string {
  return `<img src="${src}" width="${SHOWN_SIZE}" height="${SHOWN_SIZE}" alt="${escapeHtml(alt)}">`;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!<>|]/g, '\\$&');
}

/** The `attributionLens.*` settings, read in one place. */
import * as vscode from 'vscode';
import type { BackendChoice, MethodSettings } from '../protocol/engine';

export const SECTION = 'attributionLens';

export interface Settings {
  backend: BackendChoice;
  /** Methods of "Explain" (panel and pinned-sample re-runs). */
  methods: string[];
  hoverMethod: string;
  hoverEnabled: boolean;
  overlayOpacity: number;
  topK: number;
  /** Extra sample folders, relative to each model's folder (the sidecar's `samples` comes first). */
  sampleFolders: string[];
  /** Number of results kept in memory (hover overlays and explanations). */
  cacheSize: number;
  /** Re-explain the pinned samples when a model file is re-exported. */
  liveReexplain: boolean;
  /** Also run the sanity checks on the first pinned sample then. */
  liveSanity: boolean;
  sanityMethods: string[];
  /** Engine pool workers for batched passes; 0 keeps the engine on one thread. */
  engineWorkers: number;
  /** ONNX Runtime for ONNX models' plain gradients and forward passes, when installed. */
  nativeRuntime: boolean;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    backend: c.get<BackendChoice>('backend', 'auto'),
    methods: c.get<string[]>('methods', ['saliency', 'integrated_gradients', 'gradcam']),
    hoverMethod: c.get<string>('hoverMethod', 'saliency'),
    hoverEnabled: c.get<boolean>('hover.enabled', true),
    overlayOpacity: c.get<number>('overlayOpacity', 0.6),
    topK: c.get<number>('topK', 3),
    sampleFolders: c.get<string[]>('sampleFolders', []),
    cacheSize: c.get<number>('cacheSize', 64),
    liveReexplain: c.get<boolean>('liveReexplain', true),
    liveSanity: c.get<boolean>('liveSanity', false),
    sanityMethods: c.get<string[]>('sanityMethods', []),
    engineWorkers: c.get<number>('engineWorkers', 0),
    nativeRuntime: c.get<boolean>('nativeRuntime', true),
  };
}

export function methodSettings(ids: readonly string[]): MethodSettings[] {
  return ids.map((method) => ({ method }));
}

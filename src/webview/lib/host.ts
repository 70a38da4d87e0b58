/**
 * The page's link to its host: VS Code's webview API when there is one (acquired once, as VS Code
 * allows), otherwise — the static report, a test page — a stand-in that keeps state in memory
 * and turns exports into downloads.
 */
import type { PanelToHost } from '../../protocol/panels';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare const acquireVsCodeApi: (() => VsCodeApi) | undefined;

export interface Host {
  /** True inside VS Code: requests (explain again, export) go to the extension. */
  readonly embedded: boolean;
  post(message: PanelToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
}

function download(name: string, href: string): void {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  a.click();
}

function standalone(): Host {
  let state: unknown;
  return {
    embedded: false,
    post(message) {
      if (message.type === 'export' && message.format === 'png') download(message.name, message.dataUri);
    },
    getState: () => state,
    setState: (s) => {
      state = s;
    },
  };
}

function embedded(api: VsCodeApi): Host {
  return {
    embedded: true,
    post: (message) => api.postMessage(message),
    getState: () => api.getState(),
    setState: (s) => api.setState(s),
  };
}

let host: Host | undefined;

export function getHost(): Host {
  host ??= typeof acquireVsCodeApi === 'function' ? embedded(acquireVsCodeApi()) : standalone();
  return host;
}

/** A JSON download in the standalone page (inside VS Code the host saves the view itself). */
export function downloadJson(name: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
  download(name, url);
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

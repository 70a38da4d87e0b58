/**
 * What every panel page does with its host: restore the state VS Code kept while the panel was
 * hidden, listen to (validated) host messages, save state, and say it is ready.
 */
import { isHostToPanel, isPanelView, type HostToPanel, type PanelKind, type PanelView } from '../../protocol/panels';
import { getHost } from './host';

export interface SavedState<V extends PanelView, U> {
  view?: V;
  ui?: Partial<U>;
}

/** The saved state, if it still validates (it may come from an older version of the panel). */
export function restoreState<V extends PanelView, U extends object>(kind: PanelKind): SavedState<V, U> {
  const saved = getHost().getState() as { view?: unknown; ui?: unknown } | undefined;
  if (!saved || typeof saved !== 'object') return {};
  return {
    view: isPanelView(saved.view, kind) ? (saved.view as V) : undefined,
    ui: typeof saved.ui === 'object' && saved.ui !== null ? (saved.ui as Partial<U>) : undefined,
  };
}

export function saveState<V extends PanelView, U>(state: SavedState<V, U>): void {
  getHost().setState(state);
}

/**
 * Calls `onMessage` with each valid message for a `kind` panel; anything else (another
 * extension's message, a malformed view) is dropped. Then tells the host the page is ready.
 */
export function connect(kind: PanelKind, onMessage: (message: HostToPanel) => void): void {
  window.addEventListener('message', (event: MessageEvent) => {
    if (isHostToPanel(event.data, kind)) onMessage(event.data);
  });
  getHost().post({ type: 'ready' });
}

/** Marks the first heatmap drawn from data (what the first-paint measurement reads). */
export function markPainted(): void {
  if (performance.getEntriesByName('attribution-lens:first-heatmap').length === 0) performance.mark('attribution-lens:first-heatmap');
}

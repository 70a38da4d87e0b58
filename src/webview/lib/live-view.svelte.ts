/**
 * A panel's view and busy state. Live (in VS Code): seeded from the state VS Code kept while the
 * panel was hidden, then replaced by the host's validated messages, and saved back with the
 * panel's display choices. Not live (the static report): the given view, nothing else.
 */
import { onMount, untrack } from 'svelte';
import type { HostToPanel, PanelView } from '../../protocol/panels';
import { connect, restoreState, saveState } from './panel';

export type MethodMessage = Extract<HostToPanel, { type: 'method' }>;

export class LiveView<V extends PanelView, U extends object> {
  view = $state.raw<V | undefined>();
  busy = $state.raw<{ label?: string } | undefined>();
  readonly live: boolean;
  /** The display choices saved with the view, to start from. */
  readonly savedUi: Partial<U> | undefined;

  /** Call during a component's initialisation (it registers an onMount). */
  constructor(kind: V['kind'], props: () => { view?: V; live?: boolean }, onMethod?: (message: MethodMessage, panel: LiveView<V, U>) => void) {
    // The props seed the panel once; later views arrive as messages.
    const initial = untrack(() => {
      const { live, view } = props();
      return { live: live === true, view };
    });
    const saved = initial.live ? restoreState<V, U>(kind) : {};
    this.live = initial.live;
    this.view = initial.view ?? saved.view;
    this.savedUi = saved.ui;
    onMount(() => {
      if (!this.live) return;
      connect(kind, (message) => {
        if (message.type === 'show') this.view = message.view as V;
        else if (message.type === 'busy') this.busy = message.busy ? { label: message.label } : undefined;
        else onMethod?.(message, this);
      });
    });
  }

  save(ui: U): void {
    if (this.live) saveState<V, U>({ view: this.view, ui });
  }
}

import { mount } from 'svelte';
import { isPanelView, type PanelView } from '../../protocol/panels';
import '../lib/theme.css';
import Report from './Report.svelte';

/** The report's data, inlined by the CLI; every section is validated like a panel's message. */
function readData(): { title: string; generated: string; backend: string; model: string; sections: PanelView[]; invalid: number } {
  const raw = JSON.parse(document.getElementById('report-data')?.textContent ?? '{}') as Record<string, unknown>;
  const all = Array.isArray(raw.sections) ? (raw.sections as unknown[]) : [];
  const sections = all.filter((s): s is PanelView => isPanelView(s));
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { title: str(raw.title) || 'Attribution Lens report', generated: str(raw.generated), backend: str(raw.backend), model: str(raw.model), sections, invalid: all.length - sections.length };
}

mount(Report, { target: document.body, props: readData() });

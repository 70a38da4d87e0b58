/**
 * Reading the worker's sanity / Sensitivity-n answers (typed `unknown` in the protocol: the JSON
 * the CLI writes) defensively, for the status bar and the stepping-stone panel. Pure.
 */

export interface SanityVerdict {
  method: string;
  passed: boolean;
  meanSpearmanAbs: number | null;
}

export interface SanitySummary {
  verdicts: SanityVerdict[];
  passed: number;
  total: number;
  mode?: string;
  targetLabel?: string;
}

/** The per-method verdicts of a sanity result, or undefined when it does not have that shape. */
export function summarizeSanity(result: unknown): SanitySummary | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as { methods?: unknown; mode?: unknown; targetLabel?: unknown };
  if (!Array.isArray(r.methods)) return undefined;
  const verdicts: SanityVerdict[] = [];
  for (const m of r.methods as unknown[]) {
    if (typeof m !== 'object' || m === null) continue;
    const mm = m as { method?: unknown; verdict?: { passed?: unknown; meanSpearmanAbs?: unknown } };
    if (typeof mm.method !== 'string' || typeof mm.verdict?.passed !== 'boolean') continue;
    const rho = mm.verdict.meanSpearmanAbs;
    verdicts.push({ method: mm.method, passed: mm.verdict.passed, meanSpearmanAbs: typeof rho === 'number' && Number.isFinite(rho) ? rho : null });
  }
  return {
    verdicts,
    passed: verdicts.filter((v) => v.passed).length,
    total: verdicts.length,
    mode: typeof r.mode === 'string' ? r.mode : undefined,
    targetLabel: typeof r.targetLabel === 'string' ? r.targetLabel : undefined,
  };
}

/** "digit_cnn.onnx: 6/6 sanity checks pass" */
export function sanityStatusText(modelName: string, s: SanitySummary): string {
  return `${modelName}: ${s.passed}/${s.total} sanity checks pass`;
}

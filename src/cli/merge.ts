import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../engine/errors';

/**
 * `merge`: the JSON lines of dataset runs of `evaluate` or `sanity` (all shards of one run) into
 * one summary. A single unsharded run builds its `--summary` with the same code, from its own lines
 * parsed back, so the two agree to the last bit: records are put in dataset order before any sum.
 */

/** What every line says about the run that wrote it; equal across the shards of one run. */
export interface RunInfo {
  command: 'evaluate' | 'sanity';
  /** evaluate: the metric; sanity: the randomization mode. */
  metric?: string;
  mode?: string;
  /** Model and dataset file names (not paths: shards may run in different directories). */
  model: string;
  dataset: string;
  /** Inputs the whole run covers (after --limit), over all shards. */
  size: number;
  methods: string[];
  /** Options that change the numbers (method options, metric flags, seeds, target). */
  options: Record<string, unknown>;
}

/** One line: one input's result. */
export interface InputRecord {
  index: number;
  id: string;
  label?: number;
  shard: string | null;
  run: RunInfo;
  target: number;
  prediction: { class: number; label: string; probability: number; logit: number };
  result: Record<string, unknown>;
  timings?: Record<string, unknown>;
}

export const MERGE_HELP = `Usage: attribution-lens merge F1.jsonl [F2.jsonl ...] [--out summary.json] [--allow-partial]

Joins the JSON lines written by 'evaluate' or 'sanity' on a dataset (--input an IDX file or a
folder), typically one file per --shard i/n, and writes the summary one unsharded run gives:
  evaluate completeness   per method: mean, median and max of delta, |delta|, |delta|/|ΔF|
  evaluate sensitivity-n  per method: mean Pearson r at every n over the inputs
  evaluate alignment      per method: mean and median of ‖P_T a‖/‖a‖ and of its ratio to random
  sanity                  per method: pass rate, mean and median of ρ(|·|)
plus the accuracy when the inputs have labels. Every file must come from the same run (model,
dataset, metric, methods and options); an input found twice is an error, and so are missing
inputs unless --allow-partial.

  --out FILE.json      write the summary; without it the summary JSON goes to stdout
  --allow-partial      summarise the inputs present even when some are missing
  -h, --help           this help

Exit code 2 with one line naming the file and line on a malformed or mismatched line.
`;

// ---------------------------------------------------------------------------------------------
// statistics

export interface Stats {
  /** Finite values summarised. */
  n: number;
  /** Values that were undefined (NaN, null in JSON). */
  undefined: number;
  mean: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
}

/** Mean (summed in the order given), median, extremes of the finite values. */
export function stats(values: readonly (number | null | undefined)[]): Stats {
  const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const sorted = [...finite].sort((a, b) => a - b);
  const n = finite.length;
  let sum = 0;
  for (const v of finite) sum += v;
  const median = n === 0 ? null : n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    n,
    undefined: values.length - n,
    mean: n === 0 ? null : sum / n,
    median,
    min: n === 0 ? null : sorted[0],
    max: n === 0 ? null : sorted[n - 1],
  };
}

// ---------------------------------------------------------------------------------------------
// summaries per kind of run

type Json = Record<string, unknown>;
type Summarizer = (records: InputRecord[], run: RunInfo) => Json;

const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Entries of result.methods (an array of { method, ... }) of every record, per method id. */
function perMethod(records: InputRecord[], run: RunInfo): Map<string, Json[]> {
  const out = new Map<string, Json[]>(run.methods.map((id) => [id, []]));
  for (const r of records) {
    const entries = r.result.methods as Json[] | undefined;
    if (!Array.isArray(entries)) throw new InputError(`input ${r.id}: its result has no per-method entries`);
    for (const e of entries) out.get(String(e.method))?.push(e);
  }
  return out;
}

const completenessSummary: Summarizer = (records, run) => {
  const methods: Json = {};
  for (const [id, entries] of perMethod(records, run)) {
    methods[id] = {
      delta: stats(entries.map((e) => num(e.delta))),
      absoluteDelta: stats(entries.map((e) => num(e.absoluteDelta))),
      relativeDelta: stats(entries.map((e) => num(e.relativeDelta))),
    };
  }
  return { methods };
};

const sensitivitySummary: Summarizer = (records) => {
  const first = records[0].result;
  const grid = ['ns', 'fractions', 'features', 'subsets', 'patch', 'baseline'] as const;
  for (const r of records) {
    for (const key of grid) {
      if (JSON.stringify(r.result[key]) !== JSON.stringify(first[key])) {
        throw new InputError(`input ${r.id}: sensitivity-n ${key} differs from input ${records[0].id}'s`);
      }
    }
  }
  const ns = first.ns as number[];
  const curves: Json = {};
  const ids = Object.keys(first.curves as Json);
  for (const id of ids) {
    const perN = ns.map((_, k) => stats(records.map((r) => num((r.result.curves as Record<string, (number | null)[]>)[id]?.[k]))));
    curves[id] = {
      mean: perN.map((s) => s.mean),
      median: perN.map((s) => s.median),
      /** Inputs with a defined correlation at each n. */
      defined: perN.map((s) => s.n),
    };
  }
  return {
    ns,
    fractions: first.fractions,
    features: first.features,
    subsets: first.subsets,
    patch: first.patch,
    baseline: first.baseline,
    curves,
  };
};

const alignmentSummary: Summarizer = (records, run) => {
  const methods: Json = {};
  for (const [id, entries] of perMethod(records, run)) {
    methods[id] = { alignment: stats(entries.map((e) => num(e.alignment))), overRandom: stats(entries.map((e) => num(e.overRandom))) };
  }
  return { randomBaseline: stats(records.map((r) => num(r.result.randomBaseline))), methods };
};

const sanitySummary: Summarizer = (records, run) => {
  const methods: Json = {};
  for (const [id, entries] of perMethod(records, run)) {
    // Model randomization puts the verdict in `verdict`; data randomization on the entry itself.
    const verdicts = entries.map((e) => (e.verdict as Json | undefined) ?? e);
    const passed = verdicts.filter((v) => v.passed === true).length;
    methods[id] = {
      passed,
      passRate: entries.length > 0 ? passed / entries.length : null,
      meanSpearmanAbs: stats(verdicts.map((v) => num(v.meanSpearmanAbs))),
      ...(verdicts.some((v) => 'lastSpearmanAbs' in v) ? { lastSpearmanAbs: stats(verdicts.map((v) => num(v.lastSpearmanAbs))) } : {}),
    };
  }
  return { threshold: records[0].result.threshold ?? null, methods };
};

function summarizerOf(run: RunInfo): Summarizer {
  if (run.command === 'sanity') return sanitySummary;
  const byMetric: Record<string, Summarizer> = { completeness: completenessSummary, 'sensitivity-n': sensitivitySummary, alignment: alignmentSummary };
  const s = byMetric[run.metric ?? ''];
  if (!s) throw new InputError(`no summary for evaluate --metric ${run.metric}`);
  return s;
}

/**
 * The summary of the records of one run (any order, each input once): what `merge` writes and
 * what a one-run `--summary` writes.
 */
export function summarize(records: InputRecord[], options: { allowPartial?: boolean } = {}): Json {
  if (records.length === 0) throw new InputError('no input lines to summarise');
  const run = records[0].run;
  const sorted = [...records].sort((a, b) => a.index - b.index);
  const present = new Set(sorted.map((r) => r.index));
  const missing: number[] = [];
  for (let k = 0; k < run.size && missing.length < 1e6; k++) if (!present.has(k)) missing.push(k);
  if (missing.length > 0 && !options.allowPartial) {
    throw new InputError(
      `${missing.length} of the run's ${run.size} inputs are missing (positions ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}): merge every shard's file, or pass --allow-partial`,
    );
  }
  const labelled = sorted.filter((r) => typeof r.label === 'number');
  const correct = labelled.filter((r) => r.prediction.class === r.label).length;
  return {
    command: run.command,
    ...(run.metric !== undefined ? { metric: run.metric } : {}),
    ...(run.mode !== undefined ? { mode: run.mode } : {}),
    model: run.model,
    dataset: run.dataset,
    inputs: sorted.length,
    ...(missing.length > 0 ? { missing: missing.length } : {}),
    methods: run.methods,
    options: run.options,
    ...(labelled.length > 0 ? { accuracy: { labelled: labelled.length, correct, rate: correct / labelled.length } } : {}),
    summary: summarizerOf(run)(sorted, run),
  };
}

// ---------------------------------------------------------------------------------------------
// reading lines

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the shape of one parsed line; the message says what is wrong (the caller adds where). */
function checkRecord(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a JSON object';
  if (!Number.isInteger(v.index) || (v.index as number) < 0) return "no input 'index' (a non-negative integer): not a line of evaluate or sanity on a dataset";
  if (typeof v.id !== 'string') return "no input 'id'";
  const run = v.run;
  if (!isObject(run) || (run.command !== 'evaluate' && run.command !== 'sanity') || !Number.isInteger(run.size) || !Array.isArray(run.methods)) {
    return "no valid 'run' description (command, size, methods)";
  }
  if ((v.index as number) >= (run.size as number)) return `input index ${String(v.index)} is outside the run's ${String(run.size)} inputs`;
  if (!isObject(v.result)) return "no 'result' object";
  if (!isObject(v.prediction)) return "no 'prediction' object";
  return undefined;
}

/** Lines of several files, checked: well-formed, one run, no input twice. Blank lines are skipped. */
export function parseRecordFiles(files: { name: string; text: string }[]): InputRecord[] {
  const records: InputRecord[] = [];
  const seen = new Map<number, string>();
  let runKey: string | undefined;
  let runWhere = '';
  for (const { name, text } of files) {
    const lines = text.split('\n');
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k].trim();
      if (line === '') continue;
      const where = `${name}:${k + 1}`;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new InputError(`${where}: malformed JSON line (${(err as Error).message})`);
      }
      const problem = checkRecord(value);
      if (problem) throw new InputError(`${where}: ${problem}`);
      const record = value as InputRecord;
      const key = JSON.stringify(record.run);
      if (runKey === undefined) {
        runKey = key;
        runWhere = where;
      } else if (key !== runKey) {
        const first = JSON.parse(runKey) as Json;
        const diff = Object.keys({ ...first, ...record.run }).filter(
          (f) => JSON.stringify(first[f]) !== JSON.stringify((record.run as unknown as Json)[f]),
        );
        throw new InputError(`${where}: from a different run than ${runWhere} (${diff.join(', ')} differ)`);
      }
      const earlier = seen.get(record.index);
      if (earlier !== undefined) throw new InputError(`${where}: input ${record.index} (${record.id}) is already in ${earlier}`);
      seen.set(record.index, where);
      records.push(record);
    }
  }
  if (records.length === 0) throw new InputError(`${files.map((f) => f.name).join(', ')}: no input lines`);
  return records;
}

// ---------------------------------------------------------------------------------------------
// the text table

const f = (v: unknown, digits = 4): string => (typeof v === 'number' && Number.isFinite(v) ? (Math.abs(v) !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(digits)) : 'n/a');

/** A few lines for a human; the JSON has everything. */
export function summaryTable(summary: Json): string {
  const s = summary.summary as Json;
  const lines = [`${String(summary.command)} ${String(summary.metric ?? summary.mode ?? '')} on ${String(summary.inputs)} inputs of ${String(summary.dataset)}`];
  const acc = summary.accuracy as Json | undefined;
  if (acc) lines.push(`accuracy ${f(acc.rate)} (${String(acc.correct)}/${String(acc.labelled)})`);
  const methods = (s.methods ?? s.curves) as Record<string, Json>;
  for (const [id, m] of Object.entries(methods)) {
    const pad = id.padEnd(22);
    if (summary.command === 'sanity') lines.push(`${pad} pass rate ${f(m.passRate, 3)}  mean ρ(|·|) ${f((m.meanSpearmanAbs as Stats).mean, 3)}`);
    else if (summary.metric === 'completeness') {
      const rel = m.relativeDelta as Stats;
      const abs = m.absoluteDelta as Stats;
      lines.push(`${pad} |delta| mean ${f(abs.mean)} median ${f(abs.median)}  |delta|/|ΔF| mean ${f(rel.mean)} median ${f(rel.median)}`);
    } else if (summary.metric === 'sensitivity-n') {
      lines.push(`${pad} mean r over n: ${(m.mean as (number | null)[]).map((v) => f(v, 2)).join(' ')}`);
    } else if (summary.metric === 'alignment') {
      lines.push(`${pad} alignment mean ${f((m.alignment as Stats).mean)}  vs random ${f((m.overRandom as Stats).mean, 2)}×`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function writeSummary(summary: Json, out: string | undefined): Promise<void> {
  const json = `${JSON.stringify(summary, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
  if (out === undefined) {
    process.stderr.write(summaryTable(summary));
    process.stdout.write(json);
    return;
  }
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await fs.writeFile(out, json);
}

export async function runMerge(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { out: { type: 'string' }, 'allow-partial': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(MERGE_HELP);
    return;
  }
  if (positionals.length === 0) throw new InputError('merge: give the JSONL files of the run (e.g. shard-*.jsonl)');
  if (values.out !== undefined && path.extname(values.out).toLowerCase() !== '.json') throw new InputError(`${values.out}: --out must end in .json`);
  const files: { name: string; text: string }[] = [];
  for (const file of positionals) {
    try {
      files.push({ name: file, text: await fs.readFile(file, 'utf8') });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(`${file}: cannot read (${code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'a folder' : code})`);
    }
  }
  const summary = summarize(parseRecordFiles(files), { allowPartial: values['allow-partial'] === true });
  await writeSummary(summary, values.out);
  if (values.out !== undefined) process.stdout.write(`${summaryTable(summary)}-> ${values.out}\n`);
}

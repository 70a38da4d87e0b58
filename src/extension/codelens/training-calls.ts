/**
 * Finding the training and export calls that get a CodeLens ("Explain latest model"). Pure: no
 * `vscode` import, so the patterns are unit-tested directly.
 */

/** The call names the issue lists; `\s*\(` after them so attribute reads (`model.fit_generator`) do not match. */
export const TRAINING_CALLS = ['model.fit', 'trainer.fit', 'torch.save', 'torch.onnx.export', 'model.save', 'tf.saved_model.save'] as const;

export type TrainingCall = (typeof TRAINING_CALLS)[number];

/**
 * One regex for all calls: the name must start at a word boundary not preceded by `.` or an
 * identifier character (so `my_model.fit(` and `self.model.fit(` both count — the receiver is
 * commonly an attribute — but `remodel.fit(` does not), and be followed by an opening parenthesis.
 */
const CALL_RE = new RegExp(
  `(?<![A-Za-z0-9_])(${TRAINING_CALLS.map((c) => c.replace(/\./g, '\\s*\\.\\s*')).join('|')})\\s*\\(`,
  'g',
);

export interface CallMatch {
  call: TrainingCall;
  line: number;
  /** Column of the call name's first character. */
  character: number;
}

/** The training/export calls in `text`, skipping whole-line comments and calls inside a line's trailing comment. */
export function findTrainingCalls(text: string, languageId: string): CallMatch[] {
  const comment = languageId === 'python' ? '#' : '//';
  const out: CallMatch[] = [];
  const lines = text.split(/\r?\n/);
  for (let line = 0; line < lines.length; line++) {
    const src = lines[line];
    const commentAt = commentStart(src, comment);
    CALL_RE.lastIndex = 0;
    for (let m = CALL_RE.exec(src); m; m = CALL_RE.exec(src)) {
      if (commentAt >= 0 && m.index >= commentAt) break;
      if (insideString(src, m.index)) continue;
      const call = m[1].replace(/\s+/g, '') as TrainingCall;
      out.push({ call, line, character: m.index });
    }
  }
  return out;
}

/** Index where a line comment starts (outside string literals), or -1. */
function commentStart(line: string, marker: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
    } else if (line.startsWith(marker, i)) {
      return i;
    }
  }
  return -1;
}

function insideString(line: string, at: number): boolean {
  let quote: string | undefined;
  for (let i = 0; i < at; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'" || ch === '`') {
      quote = ch;
    }
  }
  return quote !== undefined;
}

import { CancelledError, InputError } from '../engine/errors';
import { poolFromEnvironment, setDefaultPool } from '../engine/parallel/pool';
import { nativeRuntimeFromEnvironment } from '../engine/native/runtime';
import { runDemo, DEMO_HELP } from './demo';
import { EVALUATE_HELP, runEvaluate } from './evaluate';
import { EXPLAIN_HELP, runExplain } from './explain';
import { MERGE_HELP, runMerge } from './merge';
import { MODELS_HELP, runModels } from './models';
import { REPORT_HELP, runReport } from './report';
import { runSanity, SANITY_HELP } from './sanity';

const HELP = `Usage: attribution-lens <command> [options]

Explain an image model's predictions and check whether the explanations can be trusted.

Commands:
  explain   attribute one prediction with one method (saliency, IG, SmoothGrad, occlusion, Grad-CAM…)
  evaluate  check several methods' attributions with a metric (completeness, sensitivity-n, alignment)
  sanity    model-parameter randomization test: do the maps change when the weights do?
  merge     join the JSON lines of dataset runs (e.g. one file per --shard) into one summary
  report    explain inputs, run the trust checks, write it all into one self-contained HTML file
  models    list the model files in a folder, their inputs and unsupported operators
  demo      explain the bundled MNIST example with every method

Run 'attribution-lens <command> --help' for a command's options.
`;

const COMMANDS: Record<string, { help: string; run: (argv: string[], signal: AbortSignal) => Promise<void> }> = {
  explain: { help: EXPLAIN_HELP, run: runExplain },
  evaluate: { help: EVALUATE_HELP, run: runEvaluate },
  sanity: { help: SANITY_HELP, run: runSanity },
  merge: { help: MERGE_HELP, run: (argv) => runMerge(argv) },
  report: { help: REPORT_HELP, run: runReport },
  models: { help: MODELS_HELP, run: runModels },
  demo: { help: DEMO_HELP, run: runDemo },
};

/** Errors from parseArgs (unknown or malformed flags) are the user's, like InputError. */
function isUsageError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command ? 0 : 2;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`error: unknown command '${command}': expected ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  // ONNX Runtime for ONNX models' plain gradients and forward passes when installed; LENS_NATIVE=off: TensorFlow.js only.
  nativeRuntimeFromEnvironment();
  // LENS_WORKERS=N|auto: model passes in chunks on N engine workers (src/engine/parallel).
  const pool = poolFromEnvironment();
  setDefaultPool(pool);
  try {
    await entry.run(rest, controller.signal);
    return 0;
  } catch (err) {
    if (err instanceof CancelledError) {
      process.stderr.write('cancelled\n');
      return 130;
    }
    if (err instanceof InputError || isUsageError(err)) {
      process.stderr.write(`error: ${(err as Error).message}\n`);
      return 2;
    }
    process.stderr.write(`internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onInterrupt);
    setDefaultPool(undefined);
    await pool?.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`internal error: ${String(err)}\n`);
    process.exitCode = 1;
  },
);

/**
 * Extension benchmark: activation time and hover latency on the MNIST example.
 *
 *   node --import tsx bench/extension.ts [--backend auto|wasm|cpu] [--repeats N]
 *
 * Loads the real bundle (dist/extension.js, built first) with `vscode` replaced by the unit tests'
 * fake (test/unit/helpers/fake-vscode.ts: only the UI edge is faked; files, the engine client and
 * the worker are real) and measures:
 *   - activation: require(dist/extension.js) + activate() in this fresh process, then activate()
 *     alone (median of N, each disposed);
 *   - hover on "examples/mnist/samples/digit_7.png" in a Python file, with the hover method
 *     (saliency): cold (engine not started: worker start, backend init, model load, explain),
 *     cold cache with the engine warm (another sample), warm (cached; median of N).
 * Prints a table and writes bench/out/extension-<backend>.json.
 */
import '../test/unit/helpers/install-fake-vscode';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CancellationTokenSource, fake, fakeContext, fakeDocument, Position } from '../test/unit/helpers/fake-vscode';
import type * as Extension from '../src/extension/extension';

const ROOT = path.resolve(__dirname, '..');
const { values } = parseArgs({ options: { backend: { type: 'string', default: 'auto' }, repeats: { type: 'string', default: '20' } } });
const repeats = Number(values.repeats);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number): number => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
  fake.reset();
  fake.workspaceFolders = [ROOT];
  fake.config = { 'attributionLens.backend': values.backend };

  // Activation as VS Code does it: load the bundle, call activate().
  const t0 = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ext = require(path.join(ROOT, 'dist', 'extension.js')) as typeof Extension;
  const tLoaded = performance.now();
  const context = fakeContext(ROOT);
  const api = ext.activate(context as unknown as Parameters<typeof ext.activate>[0]);
  const tActivated = performance.now();
  const activateOnly: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c = fakeContext(ROOT);
    const s = performance.now();
    ext.activate(c as unknown as Parameters<typeof ext.activate>[0]);
    activateOnly.push(performance.now() - s);
    for (const d of c.subscriptions) d.dispose();
  }

  type HoverArgs = Parameters<typeof api.hover.provideHover>;
  const hover = async (sample: string): Promise<number> => {
    const doc = fakeDocument(path.join(ROOT, 'train.py'), `img = load_image("examples/mnist/samples/${sample}")`, 'python');
    const token = new CancellationTokenSource().token;
    const s = performance.now();
    const h = await api.hover.provideHover(doc as unknown as HoverArgs[0], new Position(0, 22) as unknown as HoverArgs[1], token as unknown as HoverArgs[2]);
    const elapsed = performance.now() - s;
    const value = (h?.contents as unknown as { value?: string } | undefined)?.value ?? '';
    if ((value.match(/data:image\/png;base64,/g) ?? []).length !== 2) throw new Error(`hover on ${sample} lacks its images: ${value.slice(0, 300)}`);
    return elapsed;
  };

  await api.state.setActiveModel(path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx'));
  const cold = await hover('digit_7.png');
  const coldCache = await hover('digit_3.png');
  const warm: number[] = [];
  for (let i = 0; i < repeats; i++) warm.push(await hover('digit_7.png'));
  const backend = (await api.host.request('memory', {})).backend;

  const report = {
    backend,
    node: process.version,
    bundleKB: Math.round(fs.statSync(path.join(ROOT, 'dist', 'extension.js')).size / 1024),
    activation: { requireBundleMs: ms(tLoaded - t0), firstActivateMs: ms(tActivated - tLoaded), activateMedianMs: ms(median(activateOnly)) },
    hover: { coldMs: ms(cold), coldCacheWarmEngineMs: ms(coldCache), warmMedianMs: ms(median(warm)), warmMaxMs: ms(Math.max(...warm)), repeats },
  };
  for (const d of context.subscriptions) d.dispose();

  console.error(`backend ${backend}, dist/extension.js ${report.bundleKB} KB`);
  console.error(`activation: require bundle ${report.activation.requireBundleMs} ms, first activate() ${report.activation.firstActivateMs} ms, activate() median ${report.activation.activateMedianMs} ms`);
  console.error(`hover (saliency, digit_cnn.onnx): cold ${report.hover.coldMs} ms, new sample with warm engine ${report.hover.coldCacheWarmEngineMs} ms, cached median ${report.hover.warmMedianMs} ms (max ${report.hover.warmMaxMs})`);
  fs.mkdirSync(path.join(ROOT, 'bench', 'out'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'out', `extension-${values.backend}.json`), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

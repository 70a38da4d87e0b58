// One build for every bundle. Type checking is a separate step (npm run typecheck).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Native TensorFlow bindings are optional and loaded at run time if installed; vscode is the host's. */
const external = ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

const bundles = [
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { entryPoints: ['src/worker/engine-worker.ts'], outfile: 'dist/engine-worker.js' },
];

mkdirSync('dist', { recursive: true });
// The wasm backend loads its binaries from next to the bundle (see src/engine/backend.ts).
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join('dist', f));

const contexts = await Promise.all(
  bundles.map((b) =>
    esbuild.context({
      ...b,
      bundle: true,
      platform: 'node',
      // The ESM builds declare their side effects (kernel and backend registration) correctly.
      mainFields: ['module', 'main'],
      format: 'cjs',
      target: 'node20',
      external,
      sourcemap: !production,
      minify: production,
      logLevel: 'warning',
    }),
  ),
);
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}

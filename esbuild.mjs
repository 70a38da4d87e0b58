// One build for every bundle. Type checking is a separate step (npm run typecheck).
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import sveltePlugin from 'esbuild-svelte';

const require = createRequire(import.meta.url);
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Native TensorFlow bindings are optional and loaded at run time if installed; vscode is the host's. */
const external = ['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'onnxruntime-node'];

const bundles = [
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { entryPoints: ['src/worker/engine-worker.ts'], outfile: 'dist/engine-worker.js' },
  // The engine pool's workers (src/engine/parallel), started by the CLI and by the engine worker.
  { entryPoints: ['src/engine/parallel/pool-worker.ts'], outfile: 'dist/pool-worker.js' },
];

/** The webview panels: one browser bundle (+ its CSS) per panel, and the report's, which mounts them all. */
const webviews = ['explain', 'sanity', 'sensitivity', 'manifold', 'report'];

mkdirSync('dist', { recursive: true });
// The wasm backend loads its binaries from next to the bundle (see src/engine/backend.ts).
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
for (const f of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) copyFileSync(join(wasmDir, f), join('dist', f));
// The static report inlines the default VS Code colours the panels otherwise get from the editor.
mkdirSync('dist/webview', { recursive: true });
copyFileSync('src/webview/lib/report-theme.css', 'dist/webview/report-theme.css');

const contexts = await Promise.all([
  ...bundles.map((b) =>
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
  esbuild.context({
    entryPoints: Object.fromEntries(webviews.map((w) => [w, `src/webview/${w}/main.ts`])),
    outdir: 'dist/webview',
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome120',
    conditions: ['svelte', 'browser'],
    mainFields: ['svelte', 'browser', 'module', 'main'],
    // The panels' CSS goes to a file of its own per panel: the webview's CSP allows no inline styles.
    plugins: [sveltePlugin({ compilerOptions: { css: 'external', dev: !production } })],
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
  }),
]);
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}

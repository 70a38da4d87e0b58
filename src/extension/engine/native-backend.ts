import { spawn } from 'node:child_process';

/**
 * Native packages the installer offers: the TensorFlow bindings by backend (their install
 * downloads libtensorflow) and ONNX Runtime (its CPU build ships inside the npm package).
 */
export const NATIVE_PACKAGES = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  onnxruntime: 'onnxruntime-node',
} as const;

export type NativePackage = keyof typeof NATIVE_PACKAGES;

/** The bindings must match the engine's tfjs-core. */
export const TFJS_VERSION = '4.22.0';
/** The ONNX Runtime the engine's gradient programs are tested with (package.json's optional dependency). */
export const ONNXRUNTIME_VERSION = '1.30.0';

const VERSIONS: Record<NativePackage, string> = { 'tensorflow-gpu': TFJS_VERSION, tensorflow: TFJS_VERSION, onnxruntime: ONNXRUNTIME_VERSION };

export interface InstallOptions {
  /** npm executable (default `npm`; tests point it elsewhere). */
  npm?: string;
  /** Receives npm's output line by line. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Installs a native package into `folder` (its own node_modules, e.g. the extension's global
 * storage, since the .vsix cannot ship it) with npm. Rejects with npm's last error line when the
 * install fails — without internet, libtensorflow's download does — and kills npm on abort.
 * ONNX Runtime's install script is skipped: it would download CUDA libraries the engine never uses.
 */
export function installNativePackage(folder: string, which: NativePackage, options: InstallOptions = {}): Promise<void> {
  const pkg = `${NATIVE_PACKAGES[which]}@${VERSIONS[which]}`;
  const args = ['install', '--prefix', folder, '--no-audit', '--no-fund', '--no-save', pkg];
  return new Promise((resolve, reject) => {
    const windows = process.platform === 'win32';
    // Its own process group, so that cancelling also stops what npm started (install scripts).
    const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' };
    const child = spawn(options.npm ?? 'npm', args, { shell: windows, detached: !windows, stdio: ['ignore', 'pipe', 'pipe'], env });
    let lastError = '';
    const lines = (chunk: Buffer, isError: boolean) => {
      for (const line of chunk.toString().split(/\r?\n/)) {
        if (!line.trim()) continue;
        options.log?.(line);
        if (isError && /err/i.test(line)) lastError = line.trim();
      }
    };
    child.stdout.on('data', (c: Buffer) => lines(c, false));
    child.stderr.on('data', (c: Buffer) => lines(c, true));
    const abort = () => {
      try {
        if (windows || child.pid === undefined) child.kill();
        else process.kill(-child.pid);
      } catch {
        // already gone
      }
      reject(new Error(`installing ${pkg} was cancelled`));
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (err) => reject(new Error(`cannot run npm to install ${pkg}: ${err.message}`)));
    child.on('close', (code) => {
      options.signal?.removeEventListener('abort', abort);
      if (code === 0) resolve();
      else reject(new Error(`npm install ${pkg} failed (exit ${code})${lastError ? `: ${lastError}` : ''}`));
    });
  });
}

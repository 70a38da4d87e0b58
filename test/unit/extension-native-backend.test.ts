import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { installNativePackage } from '../../src/extension/engine/native-backend';
import { REPO } from './helpers/fixtures';

/** A stand-in npm: records its arguments, then behaves as the test says (a shell script run as npm). */
function fakeNpm(body: string): { npm: string; argsFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lens-npm-'));
  const argsFile = path.join(dir, 'args');
  const npm = path.join(dir, 'npm');
  fs.writeFileSync(npm, `#!/bin/sh\necho "$@" > ${argsFile}\n${body}\n`, { mode: 0o755 });
  return { npm, argsFile };
}

describe('installing a native backend', () => {
  it('runs npm install of the matching binding into the given folder', async () => {
    const { npm, argsFile } = fakeNpm('echo "added 1 package"');
    const lines: string[] = [];
    await installNativePackage('/storage/dir', 'tensorflow-gpu', { npm, log: (l) => lines.push(l) });
    assert.equal(fs.readFileSync(argsFile, 'utf8').trim(), 'install --prefix /storage/dir --no-audit --no-fund --no-save @tensorflow/tfjs-node-gpu@4.22.0');
    assert.deepEqual(lines, ['added 1 package']);
  });

  it('installs ONNX Runtime from npm alone: its install script\'s CUDA download is skipped', async () => {
    const { npm, argsFile } = fakeNpm('echo "$ONNXRUNTIME_NODE_INSTALL" >> "$(dirname "$0")/args"');
    await installNativePackage('/storage/dir', 'onnxruntime', { npm, log: () => {} });
    const [args, flag] = fs.readFileSync(argsFile, 'utf8').trim().split('\n');
    assert.equal(args, 'install --prefix /storage/dir --no-audit --no-fund --no-save onnxruntime-node@1.30.0');
    assert.equal(flag, 'skip');
    // The version the engine's own tests run (its optional dependency).
    assert.equal(JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).optionalDependencies['onnxruntime-node'], '^1.30.0');
  });

  it('fails with npm’s last error line (no internet: libtensorflow cannot be downloaded)', async () => {
    const { npm } = fakeNpm('echo "npm ERR! code 1" >&2\necho "npm ERR! node-pre-gyp ERR! install response status 404 on https://storage" >&2\nexit 1');
    await assert.rejects(
      installNativePackage('/tmp/x', 'tensorflow', { npm }),
      /npm install @tensorflow\/tfjs-node@4\.22\.0 failed \(exit 1\): npm ERR! node-pre-gyp ERR! install response status 404/,
    );
  });

  it('stops npm when cancelled', async () => {
    const { npm } = fakeNpm('sleep 30');
    const controller = new AbortController();
    const started = Date.now();
    const install = installNativePackage('/tmp/x', 'tensorflow', { npm, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(install, /was cancelled/);
    assert.ok(Date.now() - started < 5000);
  });

  it('names a missing npm', async () => {
    await assert.rejects(installNativePackage('/tmp/x', 'tensorflow', { npm: '/nonexistent/npm' }), /cannot run npm to install @tensorflow\/tfjs-node@4\.22\.0/);
  });
});

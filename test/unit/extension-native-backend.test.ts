import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { installNativeBackend } from '../../src/extension/engine/native-backend';

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
    await installNativeBackend('/storage/dir', 'tensorflow-gpu', { npm, log: (l) => lines.push(l) });
    assert.equal(fs.readFileSync(argsFile, 'utf8').trim(), 'install --prefix /storage/dir --no-audit --no-fund --no-save @tensorflow/tfjs-node-gpu@4.22.0');
    assert.deepEqual(lines, ['added 1 package']);
  });

  it('fails with npm’s last error line (no internet: libtensorflow cannot be downloaded)', async () => {
    const { npm } = fakeNpm('echo "npm ERR! code 1" >&2\necho "npm ERR! node-pre-gyp ERR! install response status 404 on https://storage" >&2\nexit 1');
    await assert.rejects(
      installNativeBackend('/tmp/x', 'tensorflow', { npm }),
      /npm install @tensorflow\/tfjs-node@4\.22\.0 failed \(exit 1\): npm ERR! node-pre-gyp ERR! install response status 404/,
    );
  });

  it('stops npm when cancelled', async () => {
    const { npm } = fakeNpm('sleep 30');
    const controller = new AbortController();
    const started = Date.now();
    const install = installNativeBackend('/tmp/x', 'tensorflow', { npm, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(install, /was cancelled/);
    assert.ok(Date.now() - started < 5000);
  });

  it('names a missing npm', async () => {
    await assert.rejects(installNativeBackend('/tmp/x', 'tensorflow', { npm: '/nonexistent/npm' }), /cannot run npm to install @tensorflow\/tfjs-node@4\.22\.0/);
  });
});

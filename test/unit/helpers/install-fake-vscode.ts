/**
 * Makes `require('vscode')` resolve to fake-vscode.ts. Import this FIRST in a test file (before
 * any src/extension module), so only the edge of the extension is faked.
 */
import Module from 'node:module';
import * as path from 'node:path';

const fakePath = path.join(__dirname, 'fake-vscode.ts');
type Resolve = (request: string, ...rest: unknown[]) => string;
const mod = Module as unknown as { _resolveFilename: Resolve };
const original = mod._resolveFilename;
mod._resolveFilename = function (request: string, ...rest: unknown[]): string {
  return request === 'vscode' ? original.call(this, fakePath, ...rest) : original.call(this, request, ...rest);
};

import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';

/** Asserts `promise` rejects with one InputError line matching every pattern. */
export async function rejectsWith(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

import * as fs from 'node:fs/promises';
import { InputError } from '../errors';

/** A user's file as bytes; an unreadable one is an InputError naming it and what it was for. */
export async function readUserFile(file: string, what: string): Promise<Uint8Array> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new InputError(`${file}: cannot read the ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

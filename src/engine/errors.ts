/**
 * An error caused by the user's input (a file, an option, a shape), not by a bug.
 * The CLI prints its message alone and exits with code 2.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** A run stopped because its AbortSignal fired. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

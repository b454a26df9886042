// A failed assertion is a bug, never an expected failure: crash, then recover from disk.
// Expected failures are typed errors with codes (see ./typed-error.ts).

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Ends every `switch` over a closed union: the compiler proves the default unreachable. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

// Waiting in tests without sleeping for correctness: poll a probe until it answers or a deadline
// passes, then fail naming what was awaited. A probe that throws is retried (a node may be
// restarting); its last error becomes the timeout's cause.

/** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | undefined | Promise<T | undefined>,
  intervalMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

/** Polls until `predicate` holds; a tight interval for in-process state. */
export async function until(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  await pollUntil(what, timeoutMs, async () => ((await predicate()) ? true : undefined), 10);
}

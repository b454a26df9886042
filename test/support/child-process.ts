// Helpers for tests and scripts that run real Rill processes on loopback: free ports, and
// waiting for a child's "ready" line with a deadline. A child's output is kept (the last
// outputLinesMax lines) so a failure can show what the process said before it died.
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const outputLinesMax = 2_000;

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  // Below Linux's ephemeral range (32768–60999): a port the kernel hands out at random can be
  // taken, between a broker's kill -9 and its restart, as the source port of some other
  // test's outgoing connection — the restart then fails with EADDRINUSE (seen once in CI).
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  return listenOn(0);
}

async function canListen(port: number): Promise<boolean> {
  try {
    await listenOn(port);
    return true;
  } catch {
    return false; // In use: the caller tries another port.
  }
}

/** Binds a loopback listener to `port` (0: any), closes it, and returns the port it had. */
async function listenOn(port: number): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

/**
 * Collects the child's stdout and stderr lines into `output` from now on, and resolves once a
 * stdout line satisfies `isReady`; rejects with the output if the child exits first or
 * `timeoutMs` passes.
 */
export async function awaitReadyLine(
  child: ChildProcess,
  what: string,
  isReady: (line: string) => boolean,
  options: { readonly timeoutMs?: number; readonly output?: string[] } = {},
): Promise<void> {
  const { timeoutMs = 30_000, output = [] } = options;
  const keep = (line: string): void => {
    output.push(line);
    if (output.length > outputLinesMax) output.shift();
  };
  if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', keep);
  let onExit = (_code: number | null): void => undefined;
  try {
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`${what} not ready in ${timeoutMs} ms:\n${output.join('\n')}`)),
        timeoutMs,
      );
      onExit = (code) => {
        clearTimeout(timer);
        fail(new Error(`${what} exited with ${code}:\n${output.join('\n')}`));
      };
      child.once('exit', onExit);
      if (child.stdout === null) throw new Error(`${what}: stdout is not piped`);
      createInterface({ input: child.stdout }).on('line', (line) => {
        keep(line);
        if (!isReady(line)) return;
        clearTimeout(timer);
        done();
      });
    });
  } finally {
    child.off('exit', onExit);
  }
}

// Goal: `rill cluster up` starts its three default nodes with a generated cluster secret, prints
// where its data, logs and secret are, writes DIR/bootstrap (the node URLs the CLI defaults
// to), prints each URL and `ready` once a controller is elected and every node registered, and
// stops every node cleanly on SIGINT (what Ctrl-C sends), each after its controlled shutdown.
// Method: spawn `node bin/rill.js cluster up` on a free port and a temporary data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createServer, type Server } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { freePort } from '../../support/child-process.ts';
import { H2c } from '../../support/api/h2c.ts';

const rillBin = resolve(import.meta.dirname, '../../../bin/rill.js');
let cluster: ChildProcess | null = null;
let dataDir = '';

afterAll(async () => {
  if (cluster !== null && cluster.exitCode === null) {
    cluster.kill('SIGTERM');
    await once(cluster, 'exit');
  }
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

/** A base port whose next `count - 1` ports were free a moment ago (other tests take ports). */
async function freePortRange(count: number): Promise<number> {
  for (;;) {
    const base = await freePort();
    if (base + count > 65_536) continue;
    const held: Server[] = [];
    try {
      for (let i = 0; i < count; i += 1) {
        const server = createServer();
        await new Promise<void>((done, fail) => {
          server.once('error', fail);
          server.listen(base + i, '127.0.0.1', done);
        });
        held.push(server);
      }
      return base;
    } catch (error) {
      // One of them is taken: try another base.
      if ((error as { code?: unknown }).code !== 'EADDRINUSE') throw error;
    } finally {
      for (const server of held) await new Promise((done) => server.close(done));
    }
  }
}

test('cluster up serves, guards /internal/v1 with its secret, and stops on SIGINT', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rill-cluster-'));
  const port = await freePortRange(3);
  cluster = spawn(
    process.execPath,
    [rillBin, 'cluster', 'up', '--base-port', String(port), '--data-dir', dataDir],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ready:\n${lines.join('\n')}`)), 30_000);
    cluster!.once('exit', (code) => fail(new Error(`exited ${code}:\n${lines.join('\n')}`)));
    createInterface({ input: cluster!.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line === 'ready') {
        clearTimeout(timer);
        done();
      }
    });
  });
  for (let i = 0; i < 3; i += 1)
    expect(lines).toContain(`node ${i + 1}: http://127.0.0.1:${port + i}`);
  // Where data, logs and the secret are is printed first; the node list is left for the CLI.
  expect(lines).toContain(`data directory: ${dataDir}`);
  expect(lines).toContain(`logs: ${join(dataDir, 'node-1.log')} … node-3.log (JSON lines)`);
  expect(lines).toContain(`cluster secret: ${join(dataDir, 'cluster-secret')}`);
  const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${port + i}`).join(',');
  expect(await readFile(join(dataDir, 'bootstrap'), 'utf8')).toBe(`${urls}\n`);
  const secret = (await readFile(join(dataDir, 'cluster-secret'), 'utf8')).trim();
  expect(secret).toMatch(/^[0-9a-f]{64}$/);
  expect((await stat(join(dataDir, 'cluster-secret'))).mode & 0o777).toBe(0o600);
  const http = new H2c(`http://127.0.0.1:${port}`);
  try {
    expect((await http.get('/readyz')).status).toBe(200);
    const described = (await http.get('/v1/cluster')).json();
    expect([1, 2, 3]).toContain(described.controllerId);
    expect(described.brokers.map((b: { status: string }) => b.status)).toEqual([
      'alive',
      'alive',
      'alive',
    ]);
    expect((await http.get('/internal/v1/raft/messages')).status).toBe(403);
    const allowed = await http.get('/internal/v1/raft/messages', {
      'x-rill-cluster-secret': secret,
    });
    expect(allowed.status).toBe(404);
  } finally {
    await http.close();
  }
  cluster.kill('SIGINT');
  const [code] = (await once(cluster, 'exit')) as [number | null];
  expect(code).toBe(0);
  for (const id of [1, 2, 3]) {
    const log = await readFile(join(dataDir, `node-${id}.log`), 'utf8');
    expect(log).toContain('"msg":"shutdown ready"');
    expect(log).toContain('"msg":"stopped"');
  }
});

// Real `rill broker` processes on loopback for cluster tests: free ports, one temporary data
// directory, a shared cluster secret, a short session timeout. Nodes can be killed with -9 and
// restarted on the same port and data. `stopAll()` must run in afterEach; it kills what is left.
// With `linkProxies`, every node reaches every peer through a proxy per directed link
// (link-proxy.ts) that the test can delay, stall, reset or cut; clients dial the nodes directly.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { H2CClient } from 'undici';
import { awaitReadyLine, freePorts } from '../child-process.ts';
import { SeededRandom } from '../../../src/common/index.ts';
import { LinkMesh } from './link-proxy.ts';
import type { NetnsNetwork } from './netns.ts';

const rillBin = resolve(import.meta.dirname, '../../../bin/rill.js');
const dialMapPreload = resolve(import.meta.dirname, 'dial-map.mjs');
/**
 * How long each node of a starting cluster may take to print `ready`: several nodes compile the
 * sources (tsx) at once, and two cluster files may start together; below the 60 s hook timeout.
 */
const startReadyTimeoutMs = 50_000;

export interface ClusterOptions {
  /** Route node-to-node traffic through a LinkMesh (`cluster.links`). */
  readonly linkProxies?: boolean;
  /** Seeds the proxies' jitter. */
  readonly seed?: number;
}

export interface JsonResponse {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

interface NodeProcess {
  readonly id: number;
  readonly port: number;
  readonly url: string;
  child: ChildProcess | null;
  client: H2CClient | null;
  exited: Promise<number | null>;
}

export class RillCluster {
  readonly dataDir: string;
  readonly secret = 'cluster-test-secret';
  readonly #nodes = new Map<number, NodeProcess>();
  readonly #voters: string;
  readonly #sessionTimeoutMs: number;
  readonly #extraArgs: readonly string[];
  /** With a network, each node runs in its own namespace and can be partitioned (netns.ts). */
  readonly network: NetnsNetwork | null;
  /** The per-link proxies every node-to-node connection goes through, when asked for. */
  links: LinkMesh | null = null;

  private constructor(
    dataDir: string,
    ports: number[],
    sessionTimeoutMs: number,
    voterCount: number,
    extraArgs: readonly string[],
    network: NetnsNetwork | null,
  ) {
    this.dataDir = dataDir;
    this.#sessionTimeoutMs = sessionTimeoutMs;
    this.#extraArgs = extraArgs;
    this.network = network;
    const host = (id: number): string => network?.host(id) ?? '127.0.0.1';
    ports.forEach((port, i) => {
      const id = i + 1;
      const url = `http://${host(id)}:${port}`;
      const exited = Promise.resolve(null);
      this.#nodes.set(id, { id, port, url, child: null, client: null, exited });
    });
    this.#voters = ports
      .slice(0, voterCount)
      .map((port, i) => `${i + 1}@${host(i + 1)}:${port}`)
      .join(',');
  }

  /**
   * Starts `count` nodes (the first `voterCount` vote) and resolves once all printed `ready`;
   * `extraArgs` go to every `rill broker` command line. With `network`, node i runs in that
   * network's namespace i and listens on its address there; stopAll() destroys the network.
   * A node that does not start stops the others (and destroys the network) before the throw.
   */
  static async start(
    count: number,
    sessionTimeoutMs: number,
    voterCount = count,
    extraArgs: readonly string[] = [],
    network: NetnsNetwork | null = null,
    options: ClusterOptions = {},
  ): Promise<RillCluster> {
    const dataDir = await mkdtemp(join(tmpdir(), 'rill-cluster-'));
    const ports = await freePorts(count);
    const cluster = new RillCluster(
      dataDir,
      ports,
      sessionTimeoutMs,
      voterCount,
      extraArgs,
      network,
    );
    if (options.linkProxies === true) {
      const nodes = ports.map((port, i) => ({
        id: i + 1,
        host: network?.host(i + 1) ?? '127.0.0.1',
        port,
      }));
      const listenHost = network?.bridgeHost ?? '127.0.0.1';
      const random = new SeededRandom(options.seed ?? 1);
      cluster.links = await LinkMesh.open(nodes, listenHost, random);
    }
    // Every start settles before a failure is reported: nodes that did start are not left behind.
    const started = await Promise.allSettled(
      ports.map((_, i) => cluster.startNode(i + 1, startReadyTimeoutMs)),
    );
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) {
      await cluster.stopAll();
      throw failed.reason;
    }
    return cluster;
  }

  get ids(): number[] {
    return [...this.#nodes.keys()];
  }

  url(id: number): string {
    return this.#node(id).url;
  }

  /** The node's process id while it runs. */
  pid(id: number): number | null {
    return this.#node(id).child?.pid ?? null;
  }

  /** The port the node listens on. */
  port(id: number): number {
    return this.#node(id).port;
  }

  isRunning(id: number): boolean {
    return this.#node(id).child !== null;
  }

  async startNode(id: number, readyTimeoutMs = 30_000): Promise<void> {
    const node = this.#node(id);
    const host = this.network?.host(id) ?? '127.0.0.1';
    const args = [rillBin, 'broker', '--node-id', String(id), '--listen', `${host}:${node.port}`];
    args.push('--voters', this.#voters, '--data-dir', join(this.dataDir, `node-${id}`));
    args.push('--log-file', this.logPath(id), '--cluster-secret', this.secret);
    args.push('--session-timeout-ms', String(this.#sessionTimeoutMs), ...this.#extraArgs);
    const links = this.links;
    const nodeArgs = links === null ? args : ['--import', dialMapPreload, ...args];
    const env =
      links === null ? process.env : { ...process.env, RILL_TEST_DIAL_MAP: links.dialMapFor(id) };
    await links?.setNodeDown(id, false);
    // `ip netns exec` enters the namespace and then execs node: the pid is the node's own.
    const [command, argv] = this.network?.wrap(id, process.execPath, nodeArgs) ?? [
      process.execPath,
      nodeArgs,
    ];
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
    node.child = child;
    node.exited = new Promise((done) => child.once('exit', (code) => done(code)));
    await awaitReadyLine(child, `node ${id}`, (line) => line === 'ready', {
      timeoutMs: readyTimeoutMs,
    });
  }

  logPath(id: number): string {
    return join(this.dataDir, `node-${id}.log`);
  }

  async log(id: number): Promise<string> {
    return readFile(this.logPath(id), 'utf8');
  }

  /** Sends SIGSTOP or SIGCONT: a node that freezes without dying. */
  pause(id: number, paused: boolean): void {
    this.#node(id).child?.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  /** The node's own data directory. */
  nodeDataDir(id: number): string {
    return join(this.dataDir, `node-${id}`);
  }

  /** SIGKILL: no controlled shutdown, no flush. */
  async kill(id: number): Promise<void> {
    const node = this.#node(id);
    node.child?.kill('SIGKILL');
    await node.exited;
    node.child = null;
    await this.links?.setNodeDown(id, true);
    await this.#dropClient(node);
  }

  /** SIGTERM: a controlled shutdown; resolves with the exit code. */
  async terminate(id: number): Promise<number | null> {
    const node = this.#node(id);
    node.child?.kill('SIGTERM');
    const code = await node.exited;
    node.child = null;
    await this.links?.setNodeDown(id, true);
    await this.#dropClient(node);
    return code;
  }

  async get(id: number, path: string): Promise<JsonResponse> {
    return this.#request(id, 'GET', path, undefined);
  }

  async post(id: number, path: string, json: unknown): Promise<JsonResponse> {
    return this.#request(id, 'POST', path, json);
  }

  async stopAll(): Promise<void> {
    for (const node of this.#nodes.values()) {
      node.child?.kill('SIGKILL');
      await node.exited;
      node.child = null;
      await this.#dropClient(node);
    }
    await this.links?.close();
    await this.network?.destroy();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  async #request(id: number, method: 'GET' | 'POST', path: string, json: unknown) {
    const node = this.#node(id);
    node.client ??= new H2CClient(node.url);
    const response = await node.client.request({
      method,
      path,
      headers: json === undefined ? {} : { 'content-type': 'application/json' },
      body: json === undefined ? null : JSON.stringify(json),
      idempotent: true,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: text === '' ? null : JSON.parse(text) };
  }

  async #dropClient(node: NodeProcess): Promise<void> {
    const client = node.client;
    node.client = null;
    if (client !== null) await client.destroy();
  }

  #node(id: number): NodeProcess {
    const node = this.#nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }
}

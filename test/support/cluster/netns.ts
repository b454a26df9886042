// Real network partitions for cluster tests and the chaos run (issue 10 item 3): each node runs
// in a network namespace of its own, joined to the test process by a Linux bridge, so a
// partition is the kernel dropping packets — a blackhole route to a peer's address inside a
// node's namespace — not a hook in Rill's code. The test process (on the bridge) reaches every
// node throughout, as a client on the far side of a partition would. Needs root and iproute2;
// `NetnsNetwork.available()` tells. This kernel has no netem qdisc: delay and loss are the link
// proxies' (link-proxy.ts), which listen on the bridge in this mode.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Which kernel-level cut is in force, as pairs `a>b` (packets from a to b dropped). */
export type Link = readonly [from: number, to: number];

export class NetnsNetwork {
  readonly #tag: string;
  readonly #subnet: string;
  readonly #ids: readonly number[];
  readonly #cuts = new Set<string>();

  private constructor(tag: string, subnet: string, ids: readonly number[]) {
    this.#tag = tag;
    this.#subnet = subnet;
    this.#ids = ids;
  }

  /** Whether namespaces and bridges can be made here (root, iproute2, a kernel that allows it). */
  static async available(): Promise<boolean> {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
    const probe = `rillprobe${process.pid % 100_000}`;
    try {
      await run('ip', ['netns', 'add', probe]);
      await run('ip', ['netns', 'del', probe]);
      await run('ip', ['link', 'add', `${probe}b`, 'type', 'bridge']);
      await run('ip', ['link', 'del', `${probe}b`]);
      return true;
    } catch {
      return false;
    }
  }

  /** A bridge and one namespace per node id, each with an address on the bridge's subnet. */
  static async create(ids: readonly number[]): Promise<NetnsNetwork> {
    const tag = `r${process.pid % 10_000}${Math.floor(Math.random() * 1_000)}`;
    const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
    const network = new NetnsNetwork(tag, subnet, ids);
    await network.#build();
    return network;
  }

  /** The address a node listens on and is reached at. */
  host(id: number): string {
    return `${this.#subnet}.${10 + id}`;
  }

  /** The test process's address on the bridge (where link proxies listen in this mode). */
  get bridgeHost(): string {
    return `${this.#subnet}.1`;
  }

  /** The command line that runs `command args…` inside the node's namespace. */
  wrap(id: number, command: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.#ns(id), command, ...args]];
  }

  /** Drops every packet from `from` to `to` (one direction). */
  async cut(from: number, to: number): Promise<void> {
    const key = `${from}>${to}`;
    if (this.#cuts.has(key)) return;
    await run('ip', ['-n', this.#ns(from), 'route', 'add', 'blackhole', `${this.host(to)}/32`]);
    this.#cuts.add(key);
  }

  /** Cuts a link both ways. */
  async partition(a: number, b: number): Promise<void> {
    await this.cut(a, b);
    await this.cut(b, a);
  }

  /** Cuts a node off from every other node (clients on the bridge still reach it). */
  async isolate(id: number): Promise<void> {
    for (const other of this.#ids) if (other !== id) await this.partition(id, other);
  }

  /** Removes every cut. */
  async heal(): Promise<void> {
    for (const key of [...this.#cuts]) {
      const [from, to] = key.split('>').map(Number) as [number, number];
      await run('ip', ['-n', this.#ns(from), 'route', 'del', 'blackhole', `${this.host(to)}/32`]);
      this.#cuts.delete(key);
    }
  }

  get cuts(): Link[] {
    return [...this.#cuts].map((key) => key.split('>').map(Number) as unknown as Link);
  }

  /** Deletes the namespaces and the bridge (the nodes must have exited). */
  async destroy(): Promise<void> {
    for (const id of this.#ids) await run('ip', ['netns', 'del', this.#ns(id)]).catch(() => {});
    await run('ip', ['link', 'del', this.#bridge]).catch(() => {});
  }

  get #bridge(): string {
    return `${this.#tag}b`;
  }

  #ns(id: number): string {
    return `${this.#tag}n${id}`;
  }

  async #build(): Promise<void> {
    const bridge = this.#bridge;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', `${this.#subnet}.1/24`, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    for (const id of this.#ids) {
      const ns = this.#ns(id);
      const outside = `${this.#tag}v${id}`;
      const inside = `${this.#tag}p${id}`;
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
      await run('ip', ['link', 'set', inside, 'netns', ns]);
      await run('ip', ['link', 'set', outside, 'master', bridge]);
      await run('ip', ['link', 'set', outside, 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${this.host(id)}/24`, 'dev', inside]);
      await run('ip', ['-n', ns, 'link', 'set', inside, 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }
}

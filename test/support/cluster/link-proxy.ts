// A userspace TCP proxy per directed node-to-node link (issue 10 item 3): node `from` dials node
// `to` through a port owned by the test process (dial-map.mjs rewrites the node's connects), so
// the test can delay every chunk (fixed + jitter, order kept), throttle, stall a link (bytes
// held, TCP sees loss, then released), reset its connections, or cut it (refused and reset).
// This kernel has no netem or iptables: the faults live here, not in Rill's code.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { SeededRandom } from '../../../src/common/index.ts';

/** Bytes a lane holds before it stops reading its source (TCP backpressure takes over). */
export const laneQueuedBytesMax = 4 * 1024 * 1024;
/** Open connections per link; more are reset on accept (nodes keep a handful per peer). */
export const linkConnectionsMax = 256;

export interface LinkShape {
  /** Added to every chunk, each direction. */
  readonly delayMs: number;
  /** A uniform extra in [0, jitterMs) per chunk; never reorders. */
  readonly jitterMs: number;
  /** Per direction; null: unlimited. */
  readonly bytesPerSecond: number | null;
}

export const cleanShape: LinkShape = { delayMs: 0, jitterMs: 0, bytesPerSecond: null };

export interface LinkStats {
  accepted: number;
  bytes: number;
  resets: number;
}

interface Chunk {
  readonly data: Buffer;
  readonly releaseAt: number;
}

/** One direction of one proxied connection. */
class Lane {
  readonly #queue: Chunk[] = [];
  #queuedBytes = 0;
  #lastReleaseAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #ended = false;
  #waitingDrain = false;
  readonly src: Socket;
  readonly dst: Socket;
  readonly link: LinkProxy;

  constructor(src: Socket, dst: Socket, link: LinkProxy) {
    this.src = src;
    this.dst = dst;
    this.link = link;
    src.on('data', (data: Buffer) => this.#push(data));
    src.on('end', () => {
      this.#ended = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.#waitingDrain = false;
      this.pump();
    });
  }

  #push(data: Buffer): void {
    const now = performance.now();
    const shape = this.link.shape;
    const jitter = shape.jitterMs > 0 ? this.link.random.int(Math.ceil(shape.jitterMs)) : 0;
    let releaseAt = Math.max(now + shape.delayMs + jitter, this.#lastReleaseAt);
    if (shape.bytesPerSecond !== null) releaseAt += (data.length * 1000) / shape.bytesPerSecond;
    this.#lastReleaseAt = releaseAt;
    this.#queue.push({ data, releaseAt });
    this.#queuedBytes += data.length;
    if (this.#queuedBytes > laneQueuedBytesMax) this.src.pause();
    this.pump();
  }

  /** Writes what is due unless the link is stalled; arms a timer for the next chunk. */
  pump(): void {
    if (this.#timer !== null || this.link.stalled || this.#waitingDrain) return;
    const now = performance.now();
    let head = this.#queue[0];
    while (head !== undefined && head.releaseAt <= now) {
      this.#queue.shift();
      this.#queuedBytes -= head.data.length;
      this.link.stats.bytes += head.data.length;
      if (!this.dst.destroyed && !this.dst.write(head.data)) this.#waitingDrain = true;
      if (this.#waitingDrain) break;
      head = this.#queue[0];
    }
    if (this.#queuedBytes <= laneQueuedBytesMax / 2 && this.src.isPaused()) this.src.resume();
    head = this.#queue[0];
    if (head === undefined) {
      if (this.#ended && !this.dst.destroyed) this.dst.end();
      return;
    }
    if (this.#waitingDrain) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.pump();
      },
      Math.max(1, head.releaseAt - now),
    );
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }
}

/** A proxied connection: the dialer's socket, the upstream socket, a lane each way. */
class Pipe {
  readonly lanes: readonly [Lane, Lane];
  readonly close: (reset: boolean) => void;
  #closed = false;

  constructor(down: Socket, up: Socket, link: LinkProxy, onClose: (pipe: Pipe) => void) {
    this.lanes = [new Lane(down, up, link), new Lane(up, down, link)];
    const close = (reset: boolean): void => {
      if (this.#closed) return;
      this.#closed = true;
      for (const lane of this.lanes) lane.stop();
      for (const socket of [down, up]) {
        if (reset && !socket.destroyed) socket.resetAndDestroy();
        else socket.destroy();
      }
      onClose(this);
    };
    this.close = close;
    // An error on either side resets the other, as a dead peer's RST would.
    down.on('error', () => close(true));
    up.on('error', () => close(true));
    let closedSockets = 0;
    const bothClosed = (): void => {
      closedSockets += 1;
      if (closedSockets === 2) close(false);
    };
    down.on('close', bothClosed);
    up.on('close', bothClosed);
  }
}

export interface LinkTarget {
  readonly host: string;
  readonly port: number;
}

/** The proxy of one directed link `from`→`to`: listens on `listenHost`, forwards to `target`. */
export class LinkProxy {
  readonly stats: LinkStats = { accepted: 0, bytes: 0, resets: 0 };
  shape: LinkShape = cleanShape;
  stalled = false;
  #cut = false;
  #targetDown = false;
  #closed = false;
  #port = 0;
  #server: Server | null = null;
  readonly #pipes = new Set<Pipe>();
  readonly from: number;
  readonly to: number;
  readonly listenHost: string;
  readonly target: LinkTarget;
  readonly random: SeededRandom;

  private constructor(
    from: number,
    to: number,
    listenHost: string,
    target: LinkTarget,
    random: SeededRandom,
  ) {
    this.from = from;
    this.to = to;
    this.listenHost = listenHost;
    this.target = target;
    this.random = random;
  }

  static async open(
    from: number,
    to: number,
    listenHost: string,
    target: LinkTarget,
    random: SeededRandom,
  ): Promise<LinkProxy> {
    const proxy = new LinkProxy(from, to, listenHost, target, random);
    await proxy.#listen(0);
    return proxy;
  }

  get port(): number {
    return this.#port;
  }

  get cut(): boolean {
    return this.#cut;
  }

  /** Sets delay, jitter and throttle for chunks from now on (queued ones keep their time). */
  setShape(shape: LinkShape): void {
    this.shape = shape;
  }

  /** Holds every byte both ways (new connections are accepted, then held too) until released. */
  setStalled(stalled: boolean): void {
    this.stalled = stalled;
    if (!stalled) for (const pipe of this.#pipes) for (const lane of pipe.lanes) lane.pump();
  }

  /** Resets every open connection (both sides see ECONNRESET); new ones are accepted. */
  reset(): void {
    for (const pipe of [...this.#pipes]) {
      this.stats.resets += 1;
      pipe.close(true);
    }
  }

  /** Cut: connections reset, new ones refused (the listener closed) until uncut. */
  async setCut(cut: boolean): Promise<void> {
    this.#cut = cut;
    await this.#applyListening();
  }

  /**
   * The target node is down (killed): refuse like its closed port would, so the dialer sees
   * ECONNREFUSED rather than a proxy that accepts and then resets.
   */
  async setTargetDown(down: boolean): Promise<void> {
    this.#targetDown = down;
    await this.#applyListening();
  }

  async #applyListening(): Promise<void> {
    const listen = !this.#cut && !this.#targetDown && !this.#closed;
    if (listen === (this.#server !== null)) return;
    if (listen) {
      await this.#listen(this.#port);
      return;
    }
    const closed = this.#unlisten();
    this.reset();
    await closed;
  }

  /** Back to a clean link: no delay, no throttle, no stall, not cut. */
  async heal(): Promise<void> {
    this.setShape(cleanShape);
    this.setStalled(false);
    await this.setCut(false);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#applyListening();
  }

  #accept(down: Socket): void {
    if (this.#server === null || this.#pipes.size >= linkConnectionsMax) {
      down.on('error', () => {});
      down.resetAndDestroy();
      return;
    }
    this.stats.accepted += 1;
    down.setNoDelay(true);
    const up = connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    up.setNoDelay(true);
    this.#pipes.add(new Pipe(down, up, this, (pipe) => this.#pipes.delete(pipe)));
  }

  async #listen(port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.listenHost, port, exclusive: true }, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    this.#port = address.port;
    this.#server = server;
  }

  async #unlisten(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Where a node listens, as its peers would dial it. */
export interface NodeAddress {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

/** A proxy for every ordered pair of nodes: node i reaches node j only through `link(i, j)`. */
export class LinkMesh {
  readonly #links = new Map<string, LinkProxy>();
  readonly #nodes: readonly NodeAddress[];

  private constructor(nodes: readonly NodeAddress[]) {
    this.#nodes = nodes;
  }

  /** Opens the proxies on `listenHost` (loopback, or the netns bridge's address). */
  static async open(
    nodes: readonly NodeAddress[],
    listenHost: string,
    random: SeededRandom,
  ): Promise<LinkMesh> {
    const mesh = new LinkMesh(nodes);
    for (const from of nodes) {
      for (const to of nodes) {
        if (from.id === to.id) continue;
        const proxy = await LinkProxy.open(from.id, to.id, listenHost, to, random);
        mesh.#links.set(`${from.id}>${to.id}`, proxy);
      }
    }
    return mesh;
  }

  link(from: number, to: number): LinkProxy {
    const proxy = this.#links.get(`${from}>${to}`);
    if (proxy === undefined) throw new Error(`no link ${from}>${to}`);
    return proxy;
  }

  /** Both directions between two nodes. */
  between(a: number, b: number): LinkProxy[] {
    return [this.link(a, b), this.link(b, a)];
  }

  /** Every link to or from a node. */
  around(id: number): LinkProxy[] {
    return [...this.#links.values()].filter((proxy) => proxy.from === id || proxy.to === id);
  }

  get links(): LinkProxy[] {
    return [...this.#links.values()];
  }

  /**
   * The dial map for node `id` (dial-map.mjs reads it from RILL_TEST_DIAL_MAP): each peer's
   * `host:port` mapped to the proxy of the link from `id` to that peer.
   */
  dialMapFor(id: number): string {
    return this.#nodes
      .filter((node) => node.id !== id)
      .map((node) => {
        const proxy = this.link(id, node.id);
        return `${node.host}:${node.port}=${proxy.listenHost}:${proxy.port}`;
      })
      .join(',');
  }

  /** Node `id` stopped or started: the links into it refuse while it is down. */
  async setNodeDown(id: number, down: boolean): Promise<void> {
    for (const proxy of this.#links.values()) if (proxy.to === id) await proxy.setTargetDown(down);
  }

  async healAll(): Promise<void> {
    for (const proxy of this.#links.values()) await proxy.heal();
  }

  async close(): Promise<void> {
    for (const proxy of this.#links.values()) await proxy.close();
  }
}

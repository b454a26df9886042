// One Kafka client connection: frames split off the socket, answered one at a time in arrival
// order (Kafka's rule: a broker reads the next request of a connection only after answering
// the previous one, so produce requests append in the order sent). At most
// inFlightPerConnectionMax frames wait; the socket pauses until one is answered. A connection
// with nothing in flight for connectionIdleMs is closed; so is one whose frame does not parse.
import type { Socket } from 'node:net';
import type { Clock } from '../../common/index.ts';
import type { KafkaDispatcher, KafkaServices } from './dispatcher.ts';
import { FrameSplitter } from './frame-splitter.ts';
import { KafkaProtocolError } from './protocol/errors.ts';

export class KafkaConnection {
  readonly #socket: Socket;
  readonly #dispatcher: KafkaDispatcher;
  readonly #services: KafkaServices;
  readonly #splitter: FrameSplitter;
  readonly #waiting: Buffer[] = [];
  readonly #abort = new AbortController();
  #isServing = false;
  #cancelIdle: (() => void) | null = null;
  #isClosed = false;

  constructor(socket: Socket, dispatcher: KafkaDispatcher, services: KafkaServices) {
    this.#socket = socket;
    this.#dispatcher = dispatcher;
    this.#services = services;
    this.#splitter = new FrameSplitter(services.config.requestBytesMax);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.close());
    socket.once('close', () => this.close());
    this.#armIdle(services.clock);
    // The sniffer paused the socket to unshift the first bytes; data flows from here.
    socket.resume();
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#cancelIdle?.();
    this.#abort.abort(new Error('the Kafka connection closed'));
    this.#waiting.length = 0;
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#isClosed) return;
    let frames: Buffer[];
    try {
      frames = this.#splitter.push(chunk);
    } catch (error) {
      this.#refuse(error);
      return;
    }
    if (frames.length === 0 && !this.#isServing) this.#armIdle(this.#services.clock);
    this.#waiting.push(...frames);
    if (this.#waiting.length >= this.#services.config.inFlightPerConnectionMax) {
      this.#socket.pause();
    }
    void this.#serve();
  }

  async #serve(): Promise<void> {
    if (this.#isServing) return;
    this.#isServing = true;
    this.#cancelIdle?.();
    this.#cancelIdle = null;
    try {
      for (let frame = this.#waiting.shift(); frame !== undefined; frame = this.#waiting.shift()) {
        if (this.#waiting.length < this.#services.config.inFlightPerConnectionMax) {
          this.#socket.resume();
        }
        const context = {
          services: this.#services,
          signal: this.#abort.signal,
          remoteAddress: this.#socket.remoteAddress ?? 'unknown',
        };
        const response = await this.#dispatcher.dispatch(context, frame);
        if (this.#isClosed) return;
        if (response !== null) this.#write(response);
      }
    } catch (error) {
      this.#refuse(error);
    } finally {
      this.#isServing = false;
      if (!this.#isClosed) this.#armIdle(this.#services.clock);
    }
  }

  /** Writes a response's chunks as they are (Fetch's stored batches are not copied). */
  #write(chunks: readonly Uint8Array[]): void {
    this.#socket.cork();
    for (const chunk of chunks) this.#socket.write(chunk);
    this.#socket.uncork();
  }

  #refuse(error: unknown): void {
    const logger = this.#services.logger;
    if (error instanceof KafkaProtocolError) {
      logger.debug({ err: error, remote: this.#socket.remoteAddress }, 'Kafka request refused');
    } else if (!this.#isClosed) {
      logger.error({ err: error, remote: this.#socket.remoteAddress }, 'Kafka request failed');
    }
    this.close();
  }

  #armIdle(clock: Clock): void {
    this.#cancelIdle?.();
    this.#cancelIdle = clock.schedule(this.#services.config.connectionIdleMs, () => {
      if (!this.#isServing) this.close();
    });
  }
}

// A bound on records a command has handed to the producer but not yet seen acknowledged, so a
// loop over stdin or a benchmark yields to the event loop and never queues without limit.
// Usage: `if (window.isFull) await window.whenNotFull(); window.send(producer, message);`
import type { Producer, ProducerMessage, RecordMetadata } from '../api/client/index.ts';

export class SendWindow {
  readonly #recordsMax: number;
  readonly #onAck: ((metadata: RecordMetadata) => void) | null;
  #outstanding = 0;
  #resume: (() => void) | null = null;
  acknowledged = 0;
  failed = 0;
  firstError: Error | null = null;
  // Shared handlers: the hot loop creates no closure per record.
  readonly #acknowledge = (metadata: RecordMetadata): void => {
    this.acknowledged += 1;
    this.#onAck?.(metadata);
    this.#settle();
  };
  readonly #fail = (error: unknown): void => {
    this.failed += 1;
    this.firstError ??= error instanceof Error ? error : new Error(String(error));
    this.#settle();
  };

  constructor(recordsMax: number, onAck?: (metadata: RecordMetadata) => void) {
    this.#recordsMax = recordsMax;
    this.#onAck = onAck ?? null;
  }

  get isFull(): boolean {
    return this.#outstanding >= this.#recordsMax;
  }

  /** Resolves once fewer than recordsMax records are unacknowledged. */
  async whenNotFull(): Promise<void> {
    while (this.isFull) {
      await new Promise<void>((resolve) => {
        this.#resume = resolve;
      });
    }
  }

  /** Hands a record to the producer; check isFull first. */
  send(producer: Producer, message: ProducerMessage): void {
    this.#outstanding += 1;
    producer.send(message).then(this.#acknowledge, this.#fail);
  }

  #settle(): void {
    this.#outstanding -= 1;
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }
}

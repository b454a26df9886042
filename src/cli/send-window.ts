// A bound on records a command has handed to the producer but not yet seen acknowledged, so a
// loop over stdin or a benchmark yields to the event loop and never queues without limit.
import {
  ClientError,
  type Producer,
  type ProducerMessage,
  type RecordMetadata,
} from '../api/client/index.ts';

export class SendWindow {
  readonly #recordsMax: number;
  #outstanding = 0;
  #resume: (() => void) | null = null;
  acknowledged = 0;
  failed = 0;
  firstError: ClientError | Error | null = null;

  constructor(recordsMax: number) {
    this.#recordsMax = recordsMax;
  }

  /** Sends, first waiting while recordsMax records are unacknowledged. */
  async send(
    producer: Producer,
    message: ProducerMessage,
    onAck?: (metadata: RecordMetadata) => void,
  ): Promise<void> {
    while (this.#outstanding >= this.#recordsMax) {
      await new Promise<void>((resolve) => {
        this.#resume = resolve;
      });
    }
    this.#outstanding += 1;
    producer.send(message).then(
      (metadata) => {
        this.acknowledged += 1;
        onAck?.(metadata);
        this.#settle();
      },
      (error: unknown) => {
        this.failed += 1;
        this.firstError ??= error instanceof Error ? error : new Error(String(error));
        this.#settle();
      },
    );
  }

  #settle(): void {
    this.#outstanding -= 1;
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }
}

// Reads the bytes Kafka consumers put in a classic group (protocol type "consumer"), so that a
// describe shows their topics and partitions: ConsumerProtocolSubscription (int16 version,
// topics: [string], user_data: bytes, …) and ConsumerProtocolAssignment (int16 version,
// assigned: [topic string, partitions: [int32]], user_data, …). Big-endian, non-flexible
// encoding; fields after those are ignored. Unreadable bytes give null, never an exception.

/** The topics a member subscribes to, or null when the metadata is not a consumer's. */
export function consumerSubscriptionTopics(metadata: Uint8Array): string[] | null {
  const cursor = new Cursor(metadata);
  try {
    cursor.int16();
    return cursor.array(() => cursor.string());
  } catch {
    return null; // Not the consumer protocol (another protocol type, or a client's own bytes).
  }
}

/** The partitions a member was given, or null when the bytes are not a consumer's. */
export function consumerAssignment(
  assignment: Uint8Array,
): { topic: string; partitions: number[] }[] | null {
  if (assignment.length === 0) return [];
  const cursor = new Cursor(assignment);
  try {
    cursor.int16();
    return cursor.array(() => ({
      topic: cursor.string(),
      partitions: cursor.array(() => cursor.int32()),
    }));
  } catch {
    return null; // Not the consumer protocol: describe shows no partitions for it.
  }
}

class Cursor {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  #at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  #need(count: number): number {
    if (count < 0 || this.#at + count > this.#bytes.length) throw new RangeError('short');
    const at = this.#at;
    this.#at += count;
    return at;
  }

  int16(): number {
    return this.#view.getInt16(this.#need(2));
  }

  int32(): number {
    return this.#view.getInt32(this.#need(4));
  }

  string(): string {
    const length = this.int16();
    const at = this.#need(length);
    return new TextDecoder('utf-8', { fatal: true }).decode(this.#bytes.subarray(at, at + length));
  }

  array<T>(read: () => T): T[] {
    const count = this.int32();
    if (count < 0) return [];
    if (count > this.#bytes.length - this.#at) throw new RangeError('count');
    const values: T[] = [];
    for (let i = 0; i < count; i += 1) values.push(read());
    return values;
  }
}

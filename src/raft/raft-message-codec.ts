// The wire format of `POST /internal/v1/raft/messages`: a JSON object
//   {"messages": [RaftMessage, ...]}
// where every RaftMessage is the plain object of ./types.ts, except that byte fields travel as
// base64 strings: `entries[].data` of an append-request and `snapshot.data` of a
// snapshot-request. The decoder checks the envelope (type, from, to, term) and the byte fields;
// the sender is authenticated by the cluster secret, so it trusts the rest of the shape.
import { assert } from '../common/index.ts';
import type { Entry, RaftMessage, RaftNodeId, Snapshot } from './types.ts';

/** A decoding failure: the HTTP handler answers 400 with it. */
export class RaftWireError extends Error {
  override name = 'RaftWireError';
}

export function encodeRaftMessages(messages: readonly RaftMessage[]): string {
  return JSON.stringify(raftMessagesBody(messages));
}

/** The `{messages}` object before JSON serialization (a response body carries it too). */
export function raftMessagesBody(messages: readonly RaftMessage[]): { messages: unknown[] } {
  return { messages: messages.map(toWire) };
}

/**
 * Checks one request body: its raw text or bytes, or the value a framework already parsed
 * from JSON. Throws RaftWireError on anything malformed.
 */
export function decodeRaftMessages(body: unknown, messageCountMax: number): RaftMessage[] {
  let parsed = body;
  try {
    if (typeof body === 'string') parsed = JSON.parse(body);
    else if (body instanceof Uint8Array) parsed = JSON.parse(new TextDecoder().decode(body));
  } catch (error) {
    throw new RaftWireError('body is not JSON', { cause: error });
  }
  const messages = (parsed as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) throw new RaftWireError('body has no messages array');
  if (messages.length > messageCountMax) {
    throw new RaftWireError(`${messages.length} messages exceed ${messageCountMax}`);
  }
  return messages.map(fromWire);
}

function toWire(message: RaftMessage): unknown {
  switch (message.type) {
    case 'append-request':
      return {
        ...message,
        entries: message.entries.map((e) => ({ ...e, data: toBase64(e.data) })),
      };
    case 'snapshot-request':
      return {
        ...message,
        snapshot: { ...message.snapshot, data: toBase64(message.snapshot.data) },
      };
    default:
      return message;
  }
}

function fromWire(value: unknown): RaftMessage {
  if (typeof value !== 'object' || value === null)
    throw new RaftWireError('message is not an object');
  const message = value as Record<string, unknown>;
  if (typeof message['type'] !== 'string') throw new RaftWireError('message has no type');
  for (const field of ['from', 'to', 'term']) {
    const number = message[field];
    if (!Number.isSafeInteger(number) || (number as number) < 0) {
      throw new RaftWireError(`message field ${field} is not a non-negative integer`);
    }
  }
  if (message['type'] === 'append-request') {
    const entries = message['entries'];
    if (!Array.isArray(entries)) throw new RaftWireError('append-request has no entries array');
    return { ...message, entries: entries.map(entryFromWire) } as unknown as RaftMessage;
  }
  if (message['type'] === 'snapshot-request') {
    const snapshot = message['snapshot'] as Record<string, unknown> | null | undefined;
    if (typeof snapshot !== 'object' || snapshot === null) throw new RaftWireError('no snapshot');
    const data = fromBase64(snapshot['data']);
    return { ...message, snapshot: { ...snapshot, data } as unknown as Snapshot } as RaftMessage;
  }
  return message as unknown as RaftMessage;
}

function entryFromWire(value: unknown): Entry {
  if (typeof value !== 'object' || value === null)
    throw new RaftWireError('entry is not an object');
  const entry = value as Record<string, unknown>;
  if (!Number.isSafeInteger(entry['index']) || !Number.isSafeInteger(entry['term'])) {
    throw new RaftWireError('entry index or term is not an integer');
  }
  return { ...entry, data: fromBase64(entry['data']) } as unknown as Entry;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function fromBase64(value: unknown): Uint8Array {
  if (typeof value !== 'string') throw new RaftWireError('byte field is not a base64 string');
  const buffer = Buffer.from(value, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** The bytes a message adds to a request, roughly: used to cap batch sizes. */
export function estimateMessageBytes(message: RaftMessage): number {
  const envelopeBytes = 160;
  switch (message.type) {
    case 'append-request': {
      let bytes = envelopeBytes;
      for (const entry of message.entries) bytes += 64 + Math.ceil((entry.data.byteLength * 4) / 3);
      return bytes;
    }
    case 'snapshot-request':
      return envelopeBytes + Math.ceil((message.snapshot.data.byteLength * 4) / 3);
    default:
      return envelopeBytes;
  }
}

/** Asserts a message may leave this node for `peer`. */
export function assertOutgoing(message: RaftMessage, self: RaftNodeId): void {
  assert(message.from === self, `message from ${message.from} sent by node ${self}`);
  assert(message.to !== self, `node ${self} sends a message to itself`);
}

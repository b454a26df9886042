// Goal: the dispatcher answers ApiVersions from its registry in every version (v3 flexible with
// a v0 response header), falls back to a v0-format UNSUPPORTED_VERSION answer for a version above
// ours (KIP-511), and refuses unknown keys and versions with KafkaProtocolError (the listener
// then closes the connection). Method: hand-built frames through KafkaDispatcher.dispatch.
import { describe, expect, it } from 'vitest';
import { buildKafkaDispatcher } from '../../../../src/api/kafka/apis.ts';
import type { KafkaRequestContext } from '../../../../src/api/kafka/dispatcher.ts';
import { KafkaProtocolError } from '../../../../src/api/kafka/protocol/errors.ts';
import { writeRequestHeader } from '../../../../src/api/kafka/protocol/header.ts';
import { KafkaReader } from '../../../../src/api/kafka/protocol/reader.ts';
import { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';

// ApiVersions and refusals never touch the broker services.
const context = {
  signal: new AbortController().signal,
  remoteAddress: 'test',
} as unknown as KafkaRequestContext;

function frame(apiKey: number, apiVersion: number, flexible: boolean, body?: KafkaWriter): Buffer {
  const writer = new KafkaWriter();
  writeRequestHeader(writer, { apiKey, apiVersion, correlationId: 77, clientId: 'c', flexible });
  if (body !== undefined) writer.raw(body.finish());
  return Buffer.from(writer.finish());
}

async function answer(request: Buffer): Promise<KafkaReader> {
  const chunks = await buildKafkaDispatcher().dispatch(context, request);
  expect(chunks).not.toBeNull();
  const bytes = Buffer.concat(chunks ?? []);
  const reader = new KafkaReader(bytes);
  expect(reader.int32()).toBe(bytes.length - 4);
  expect(reader.int32()).toBe(77);
  return reader;
}

describe('KafkaDispatcher', () => {
  it('answers ApiVersions v0-v2 with itself in the table', async () => {
    for (const version of [0, 1, 2]) {
      const reader = await answer(frame(18, version, false));
      expect(reader.int16()).toBe(0);
      const apis = reader.array((r) => [r.int16(), r.int16(), r.int16()]);
      expect(apis).toContainEqual([18, 0, 3]);
      if (version >= 1) expect(reader.int32()).toBe(0);
      expect(reader.remaining).toBe(0);
    }
  });

  it('answers ApiVersions v3 flexibly, with a v0 response header', async () => {
    const body = new KafkaWriter().compactString('kcat').compactString('1.7.1').taggedFields();
    const reader = await answer(frame(18, 3, true, body));
    expect(reader.int16()).toBe(0);
    const apis = reader.compactArray((r) => {
      const api = [r.int16(), r.int16(), r.int16()];
      r.skipTaggedFields();
      return api;
    });
    expect(apis).toContainEqual([18, 0, 3]);
    expect(reader.int32()).toBe(0);
    reader.skipTaggedFields();
    expect(reader.remaining).toBe(0);
  });

  it('answers a too-new ApiVersions in v0 format with UNSUPPORTED_VERSION', async () => {
    const reader = await answer(frame(18, 9, true, new KafkaWriter().raw(Buffer.from([1, 2]))));
    expect(reader.int16()).toBe(35);
    expect(reader.array((r) => [r.int16(), r.int16(), r.int16()])).toContainEqual([18, 0, 3]);
    expect(reader.remaining).toBe(0);
  });

  it('refuses unknown keys, unsupported versions and truncated headers', async () => {
    const dispatcher = buildKafkaDispatcher();
    await expect(dispatcher.dispatch(context, frame(999, 0, false))).rejects.toThrow(
      KafkaProtocolError,
    );
    await expect(dispatcher.dispatch(context, Buffer.from([0, 18, 0]))).rejects.toThrow(
      KafkaProtocolError,
    );
    const truncated = frame(18, 3, true).subarray(0, 12);
    await expect(dispatcher.dispatch(context, truncated)).rejects.toThrow(KafkaProtocolError);
  });
});

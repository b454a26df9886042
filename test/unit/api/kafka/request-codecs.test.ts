// Goal: Rill's request readers decode what real clients send, every version, and flexible
// versions with tagged fields. Method: KafkaJS 2.2.4's own encoders (captured once as hex
// fixtures, and re-encoded now to catch drift) decoded by Rill's header and body readers, each
// field compared to what KafkaJS was given and every byte consumed; flexible versions KafkaJS
// does not send are written with Rill's writer, unknown tagged fields included, and read back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readFetchRequest } from '../../../../src/api/kafka/apis/fetch.ts';
import { readListOffsetsRequest } from '../../../../src/api/kafka/apis/list-offsets.ts';
import { readMetadataRequest } from '../../../../src/api/kafka/apis/metadata.ts';
import { readProduceRequest } from '../../../../src/api/kafka/apis/produce.ts';
import { FrameSplitter } from '../../../../src/api/kafka/frame-splitter.ts';
import {
  flexibleFromOf,
  readRequestHeader,
  writeRequestHeader,
} from '../../../../src/api/kafka/protocol/header.ts';
import { KafkaReader } from '../../../../src/api/kafka/protocol/reader.ts';
import { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';
import { encodeWithKafkajs, type CapturedRequest } from '../../../support/api/kafkajs-requests.ts';

const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/kafkajs-requests.json', import.meta.url), 'utf8'),
) as CapturedRequest[];

function bodyOf(hex: string): { reader: KafkaReader; version: number; apiKey: number } {
  const [frame] = new FrameSplitter(1024 * 1024).push(Buffer.from(hex, 'hex'));
  expect(frame).toBeDefined();
  const reader = new KafkaReader(frame ?? Buffer.alloc(0));
  const probe = new KafkaReader(frame ?? Buffer.alloc(0));
  const apiKey = probe.int16();
  const header = readRequestHeader(reader, flexibleFromOf(apiKey));
  expect(header).toMatchObject({ correlationId: 7, clientId: 'kafkajs-capture' });
  return { reader, version: header.apiVersion, apiKey };
}

const checks: Record<string, (reader: KafkaReader, version: number) => void> = {
  metadata(reader, version) {
    const request = readMetadataRequest(reader, version, false);
    expect(request.topics).toEqual(['alpha', 'beta']);
    expect(request.allowAutoCreate).toBe(version < 4);
  },
  produce(reader) {
    const request = readProduceRequest(reader, false);
    expect(request).toMatchObject({ transactionalId: null, acks: -1, timeoutMs: 30_000 });
    const partition = request.topics[0]?.partitions[0];
    expect(request.topics[0]?.name).toBe('alpha');
    expect(partition?.partition).toBe(2);
    expect(partition?.records[16]).toBe(2); // RecordBatch magic v2
    expect(partition?.records.readInt32BE(8)).toBe((partition?.records.length ?? 0) - 12);
  },
  fetch(reader, version) {
    expect(readFetchRequest(reader, version)).toEqual({
      maxWaitMs: 250,
      minBytes: 1,
      maxBytes: 1_048_576,
      topics: [
        { name: 'alpha', partitions: [{ partition: 3, offset: 42, partitionBytesMax: 4096 }] },
      ],
    });
  },
  listOffsets(reader, version) {
    expect(readListOffsetsRequest(reader, version)).toEqual([
      { name: 'alpha', partitions: [{ partition: 1, timestamp: -2 }] },
    ]);
  },
  apiVersions() {},
};

describe('KafkaJS requests, decoded by Rill', () => {
  for (const fixture of fixtures) {
    it(`${fixture.api} v${fixture.version}`, async () => {
      expect((await encodeWithKafkajs(fixture.api, fixture.version)).toString('hex')).toBe(
        fixture.hex,
      );
      const { reader, version } = bodyOf(fixture.hex);
      expect(version).toBe(fixture.version);
      checks[fixture.api]?.(reader, version);
      expect(reader.remaining).toBe(0);
    });
  }
});

const unknownTags = [
  { tag: 3, data: Buffer.from([1, 2, 3]) },
  { tag: 900, data: Buffer.alloc(0) },
];

function flexibleFrame(apiKey: number, apiVersion: number, body: (w: KafkaWriter) => void) {
  const w = new KafkaWriter(8);
  writeRequestHeader(w, { apiKey, apiVersion, correlationId: 1, clientId: null, flexible: true });
  body(w);
  const reader = new KafkaReader(Buffer.from(w.finish()));
  const header = readRequestHeader(reader, flexibleFromOf(apiKey));
  expect(header.flexible).toBe(true);
  return reader;
}

describe('flexible versions with tagged fields', () => {
  for (const version of [9, 10, 11, 12]) {
    it(`Metadata v${version}`, () => {
      const reader = flexibleFrame(3, version, (w) => {
        w.compactArray(['alpha', 'ß-beta'], (tw, name) => {
          if (version >= 10) tw.uuid(Buffer.alloc(16));
          tw.compactNullableString(name).taggedFields(unknownTags);
        });
        w.boolean(false);
        if (version <= 10) w.boolean(false);
        w.boolean(true).taggedFields(unknownTags);
      });
      const request = readMetadataRequest(reader, version, true);
      expect(request).toEqual({ topics: ['alpha', 'ß-beta'], allowAutoCreate: false });
      expect(reader.remaining).toBe(0);
    });
  }

  it('Metadata v12 with null topics asks for all', () => {
    const reader = flexibleFrame(3, 12, (w) => {
      w.compactNullableArray(null, () => undefined)
        .boolean(true)
        .boolean(false)
        .taggedFields();
    });
    expect(readMetadataRequest(reader, 12, true).topics).toBeNull();
  });

  it('Produce v9', () => {
    const records = Buffer.from('0123456789abcdef', 'hex');
    const reader = flexibleFrame(0, 9, (w) => {
      w.compactNullableString(null).int16(1).int32(500);
      w.compactArray(['alpha'], (tw, name) => {
        tw.compactString(name);
        tw.compactArray([4], (pw, p) =>
          pw.int32(p).compactBytes(records).taggedFields(unknownTags),
        );
        tw.taggedFields();
      });
      w.taggedFields(unknownTags);
    });
    const request = readProduceRequest(reader, true);
    expect(request).toEqual({
      transactionalId: null,
      acks: 1,
      timeoutMs: 500,
      topics: [{ name: 'alpha', partitions: [{ partition: 4, records }] }],
    });
    expect(reader.remaining).toBe(0);
  });

  it('request header v2 keeps client_id a classic string and skips its tags', () => {
    const w = new KafkaWriter();
    w.int16(22).int16(4).int32(9).nullableString('librdkafka').taggedFields(unknownTags);
    const reader = new KafkaReader(Buffer.from(w.finish()));
    expect(readRequestHeader(reader, flexibleFromOf(22))).toEqual({
      apiKey: 22,
      apiVersion: 4,
      correlationId: 9,
      clientId: 'librdkafka',
      flexible: true,
    });
    expect(reader.remaining).toBe(0);
  });
});

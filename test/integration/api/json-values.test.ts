// Goal (issue 13, finding 8 / item 6): the JSON produce routes take any JSON value as a record's
// key or value — an object, array, number or boolean is stored as its UTF-8 JSON text, strings
// as they are, null as null — and a JSON fetch with ?valueFormat=json gives values back parsed
// where they are JSON (else the string); the binary form shows the stored text byte for byte.
// Method: one real `rill broker` child; the H2c client; partition and any-node produce routes.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeBatches } from '../../../src/log/index.ts';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import { H2c } from '../../support/api/h2c.ts';

let broker: BrokerProcess;
let http: H2c;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  http = new H2c(broker.url);
  const created = await http.post('/v1/topics', {
    name: 'json',
    partitions: 1,
    replicationFactor: 1,
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await http?.close();
  const exitCode = await broker?.stop();
  await broker?.removeData();
  expect(exitCode).toBe(0);
});

const path = '/v1/topics/json/partitions/0/records';
const values = [
  { a: 1, nested: { list: [1, 'two', null], ok: true } },
  [1, 2, 3],
  42.5,
  false,
  'plain text',
  '{"already":"json text"}',
  null,
];

test('any JSON value is stored as its JSON text; strings and null as they are', async () => {
  const produced = await http.post(path, {
    records: [
      ...values.map((value) => ({ value })),
      { key: { user: 7 }, value: 'keyed by an object' },
    ],
  });
  expect(produced.status).toBe(200);
  expect(produced.json()).toMatchObject({ baseOffset: 0, lastOffset: values.length });
  const fetched = await http.get(`${path}?offset=0`);
  expect(fetched.status).toBe(200);
  const stored = (fetched.json() as { records: { key: unknown; value: unknown }[] }).records;
  expect(stored.map((record) => record.value)).toEqual([
    '{"a":1,"nested":{"list":[1,"two",null],"ok":true}}',
    '[1,2,3]',
    '42.5',
    'false',
    'plain text',
    '{"already":"json text"}',
    null,
    'keyed by an object',
  ]);
  expect(stored.at(-1)?.key).toBe('{"user":7}');
  // The binary form holds exactly that text.
  const binary = await http.get(`${path}?offset=0`, { accept: 'application/vnd.rill.batch' });
  const batches = await decodeBatches(binary.body);
  const first = batches[0]!.records[0]!;
  expect(Buffer.from(first.value!).toString()).toBe(stored[0]!.value);
});

test('?valueFormat=json parses values that are JSON and leaves the others as strings', async () => {
  const fetched = await http.get(`${path}?offset=0&valueFormat=json`);
  expect(fetched.status).toBe(200);
  const records = (fetched.json() as { records: { key: unknown; value: unknown }[] }).records;
  expect(records.map((record) => record.value)).toEqual([
    ...values.slice(0, 5),
    // A string value that is itself JSON text comes back parsed (documented).
    { already: 'json text' },
    null,
    'keyed by an object', // Not JSON text: the string as stored.
  ]);
  // Keys are not parsed: valueFormat is about values.
  expect(records.at(-1)?.key).toBe('{"user":7}');
});

test('the any-node produce route takes JSON values too', async () => {
  const produced = await http.post('/v1/topics/json/records', {
    records: [{ value: { via: 'any node' } }],
  });
  expect(produced.status).toBe(200);
  const [{ offset }] = (produced.json() as { offsets: { offset: number }[] }).offsets as [
    { offset: number },
  ];
  const fetched = await http.get(`${path}?offset=${offset}&valueFormat=json`);
  const records = (fetched.json() as { records: { value: unknown }[] }).records;
  expect(records[0]?.value).toEqual({ via: 'any node' });
});

test('valueFormat is checked before any work', async () => {
  const bad = await http.get(`${path}?offset=0&valueFormat=yaml`);
  expect(bad.status).toBe(400);
  expect(bad.json()).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
  const withBase64 = await http.get(`${path}?offset=0&valueFormat=json&encoding=base64`);
  expect(withBase64.status).toBe(400);
  expect(withBase64.json()).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
});

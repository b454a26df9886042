// Goal: kcat 1.7.1 (librdkafka 2.0.2), unchanged, works against a real `rill broker`: -L,
// -P with keys and each -z codec, -X enable.idempotence=true, -C -o beginning -e and -Q by
// timestamp; what kcat writes is what HTTP reads. Skipped when kcat is not installed, except
// in CI (CI=true), where a missing kcat fails (test/support/api/kafka-kcat.ts).
// Method: one broker process; kcat run as a child process with a deadline per call.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { assertKcatInstalled, kcatTestsRun } from '../../../support/api/kafka-kcat.ts';

let broker: BrokerProcess;
let http: H2c;

function kcat(args: readonly string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kcat',
      ['-b', `127.0.0.1:${broker.port}`, ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null)
          reject(new Error(`kcat ${args.join(' ')}: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input);
  });
}

describe.runIf(kcatTestsRun)('kcat against Rill', () => {
  beforeEach(assertKcatInstalled);
  beforeAll(async () => {
    broker = await BrokerProcess.start();
    http = new H2c(broker.url);
  });
  afterAll(async () => {
    await http?.close();
    await broker?.stop();
  });

  it('-L lists the broker as controller, and topics', async () => {
    await http.post('/v1/topics', { name: 'listed', partitions: 2, replicationFactor: 1 });
    const metadata = JSON.parse(await kcat(['-L', '-J'])) as {
      controllerid: number;
      brokers: { id: number; name: string }[];
      topics: { topic: string; partitions: unknown[] }[];
    };
    expect(metadata.controllerid).toBe(1);
    expect(metadata.brokers).toEqual([{ id: 1, name: `127.0.0.1:${broker.port}` }]);
    const listed = metadata.topics.find((t) => t.topic === 'listed');
    expect(listed?.partitions).toHaveLength(2);
  });

  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    it(`-P -K: -z ${codec} -X enable.idempotence=true, read by HTTP and -C`, async () => {
      const topic = `kcat-${codec}`;
      const lines = Array.from({ length: 30 }, (_, i) => `key${i}:${codec} value ${i}`);
      const idempotence = ['-X', 'enable.idempotence=true'];
      await kcat(['-P', '-t', topic, '-K:', '-z', codec, ...idempotence], `${lines.join('\n')}\n`);
      const fetched = (await http.get(`/v1/topics/${topic}/partitions/0/records?offset=0`)).json();
      const pairs = fetched.records.map(
        (r: { key: string; value: string }) => `${r.key}:${r.value}`,
      );
      expect(pairs).toEqual(lines);
      const consumed = await kcat(['-C', '-t', topic, '-o', 'beginning', '-e', '-f', '%k:%s\n']);
      expect(consumed.trim().split('\n')).toEqual(lines);
    });
  }

  it('-C reads records produced over HTTP', async () => {
    await http.post('/v1/topics', { name: 'http-made', partitions: 1, replicationFactor: 1 });
    await http.post('/v1/topics/http-made/partitions/0/records', {
      records: [{ key: 'a', value: 'one' }, { value: 'two' }],
    });
    const consumed = await kcat([
      '-C',
      '-t',
      'http-made',
      '-o',
      'beginning',
      '-e',
      '-f',
      '%k|%s|%o\n',
    ]);
    expect(consumed).toBe('a|one|0\n|two|1\n');
  });

  it('-Q answers offsets by timestamp, latest and earliest', async () => {
    const before = Date.now() - 1;
    await kcat(['-P', '-t', 'by-time'], 'x\ny\nz\n');
    const query = async (timestamp: number): Promise<string> =>
      (await kcat(['-Q', '-t', `by-time:0:${timestamp}`])).trim();
    expect(await query(before)).toBe('by-time [0] offset 0');
    expect(await query(-1)).toBe('by-time [0] offset 3');
    expect(await query(-2)).toBe('by-time [0] offset 0');
    expect(await query(Date.now() + 3_600_000)).toBe('by-time [0] offset -1');
  });
});

// Goal: Rill's client is installable — a project outside the repository that ran
// `npm install <path to rill>` imports `rill/client` from a plain `.mjs` file run by `node`
// (no tsx), produces and consumes against a real node, and type-checks a TypeScript file
// against the published .d.ts. Method: a temporary project in the OS temp directory, npm
// installing the repository by path (a link: no registry), a real broker process, and the
// repository's own tsc. The built output (dist/, from `npm run build`, which `npm ci` runs as
// `prepare`) is built here first if it is missing or older than a source file.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { spawnBroker, type BrokerProcess } from '../../../scripts/spawn-broker.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let project = '';
let broker: BrokerProcess | null = null;

beforeAll(async () => {
  if (await distIsStale()) {
    await run(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: root },
    );
  }
  project = await mkdtemp(join(tmpdir(), 'rill-user-project-'));
  const manifest = { name: 'uses-rill', version: '1.0.0', private: true, type: 'module' };
  await writeFile(join(project, 'package.json'), `${JSON.stringify(manifest)}\n`);
  const startMs = performance.now();
  await run(npm, ['install', root, '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: project,
  });
  console.log(`npm install <rill path>: ${Math.round(performance.now() - startMs)} ms`);
  broker = await spawnBroker();
}, 240_000);

/** dist/ is missing, or older than some source file: a test of it would test old code. */
async function distIsStale(): Promise<boolean> {
  const built = join(root, 'dist/api/client/index.js');
  if (!existsSync(built)) return true;
  const builtMs = (await stat(built)).mtimeMs;
  const sources = await readdir(join(root, 'src'), { recursive: true });
  for (const source of sources) {
    if ((await stat(join(root, 'src', source))).mtimeMs > builtMs) return true;
  }
  return false;
}

afterAll(async () => {
  await broker?.stop();
  if (project !== '') await rm(project, { recursive: true, force: true });
});

const app = `
import { RillClient, decodeText, decodeJson } from 'rill/client';
const client = new RillClient({ bootstrapUrls: [process.argv[2]] });
const admin = client.admin();
await admin.createTopic({ name: 'orders', partitions: 2, replicationFactor: 1 });
const producer = client.producer({ acks: 'all' });
const sent = await Promise.all([
  producer.send({ topic: 'orders', partition: 1, key: 'k1', value: 'hello' }),
  producer.send({ topic: 'orders', partition: 1, key: 'k2', value: JSON.stringify({ n: 2 }) }),
]);
const consumer = client.consumer();
consumer.assign([{ topic: 'orders', partition: 1 }]);
const records = [];
while (records.length < 2) records.push(...(await consumer.poll({ maxWaitMs: 1000 })));
const offsets = await admin.offsets('orders', 1);
console.log(JSON.stringify({
  sent: sent.map((m) => m.offset),
  keys: records.map((r) => decodeText(r.key)),
  first: decodeText(records[0].value),
  second: decodeJson(records[1].value),
  isBuffer: Buffer.isBuffer(records[0].value),
  highWatermark: offsets.highWatermark,
  topics: (await admin.listTopics()).map((t) => t.name),
}));
await client.close();
`;

test('issue 13: a plain node ESM script imports rill/client, produces and consumes', async () => {
  await writeFile(join(project, 'app.mjs'), app);
  const { stdout } = await run(process.execPath, ['app.mjs', broker!.url], {
    cwd: project,
    timeout: 30_000,
  });
  expect(JSON.parse(stdout)).toEqual({
    sent: [0, 1],
    keys: ['k1', 'k2'],
    first: 'hello',
    second: { n: 2 },
    isBuffer: true,
    highWatermark: 2,
    topics: ['orders'],
  });
  const { stdout: rootImport } = await run(
    process.execPath,
    ['--input-type=module', '-e', "import * as r from 'rill'; console.log(typeof r.RillClient)"],
    { cwd: project },
  );
  expect(rootImport.trim()).toBe('function');
});

test('TypeScript sees the types of rill/client, and rejects a misuse', async () => {
  const tsconfig = {
    compilerOptions: {
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      target: 'ES2022',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      typeRoots: [join(root, 'node_modules/@types')],
      types: ['node'],
    },
    files: ['check.ts'],
  };
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
  // The expect-error directive fails the build unless the line below it is a type error: were
  // the package's types missing (any), the misuse would compile, and so this check would fail.
  const check = `
import { RillClient, decodeText, type ConsumerRecord, type TopicDescription } from 'rill/client';
const client = new RillClient({ bootstrapUrls: ['http://127.0.0.1:9091'] });
type Describe = (name: string) => Promise<TopicDescription>;
const describe: Describe = (name) => client.admin().describeTopic(name);
const text = (r: ConsumerRecord): string | null => decodeText(r.value);
// @ts-expect-error decodeText returns string | null, not a number.
const wrong: number = decodeText(null);
export { describe, text, wrong };
`;
  await writeFile(join(project, 'check.ts'), check);
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).then(
    () => 'ok',
    (error: { stdout: string }) => error.stdout,
  );
  expect(result).toBe('ok');
}, 60_000);

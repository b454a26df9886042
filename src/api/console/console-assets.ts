// The console's static files: a fixed table from URL path to a file of the package (the page's
// own ES modules and CSS under ./assets, Preact, htm and uPlot from node_modules), read once on
// first request and kept in memory with their gzip form and an ETag. No build step: the browser
// loads the modules as they are, with an import map in index.html naming the vendor files.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

const assetsDir = join(dirname(fileURLToPath(import.meta.url)), 'assets');
const require = createRequire(import.meta.url);

/** A file beside the one a package entry resolves to (every vendor file sits in its dist/). */
function vendorFile(entry: string, file: string): string {
  return join(dirname(require.resolve(entry)), file);
}

const js = 'text/javascript; charset=utf-8';
const css = 'text/css; charset=utf-8';

/** Every file the console serves: URL path → [file, content type]. Nothing else is served. */
export function consoleAssetTable(): ReadonlyMap<string, readonly [string, string]> {
  const own = (name: string, type: string): [string, readonly [string, string]] => [
    `/console/${name}`,
    [join(assetsDir, name), type],
  ];
  return new Map([
    ['/', [join(assetsDir, 'index.html'), 'text/html; charset=utf-8']],
    own('app.js', js),
    own('api.js', js),
    own('charts.js', js),
    own('format.js', js),
    own('pages-cluster.js', js),
    own('pages-topics.js', js),
    own('pages-groups.js', js),
    own('pages-streams.js', js),
    own('console.css', css),
    ['/console/vendor/preact.js', [vendorFile('preact', 'preact.module.js'), js]],
    ['/console/vendor/hooks.js', [vendorFile('preact/hooks', 'hooks.module.js'), js]],
    ['/console/vendor/htm.js', [vendorFile('htm', 'htm.module.js'), js]],
    ['/console/vendor/uplot.js', [vendorFile('uplot', 'uPlot.esm.js'), js]],
    ['/console/vendor/uplot.css', [vendorFile('uplot', 'uPlot.min.css'), css]],
  ]);
}

export interface ConsoleAsset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
  /** index.html is revalidated on every load; the rest is cached for an hour. */
  readonly cacheControl: string;
}

/** Loads and keeps the console's files; a missing file fails the first request for it. */
export class ConsoleAssets {
  readonly #table = consoleAssetTable();
  readonly #loaded = new Map<string, Promise<ConsoleAsset>>();

  has(path: string): boolean {
    return this.#table.has(path);
  }

  paths(): readonly string[] {
    return [...this.#table.keys()];
  }

  get(path: string): Promise<ConsoleAsset> {
    const entry = this.#table.get(path);
    if (entry === undefined) throw new Error(`no console asset ${path}`);
    let loaded = this.#loaded.get(path);
    if (loaded === undefined) {
      loaded = load(entry[0], entry[1], path === '/');
      // A failed read is retried on the next request rather than cached.
      loaded.catch(() => this.#loaded.delete(path));
      this.#loaded.set(path, loaded);
    }
    return loaded;
  }
}

async function load(file: string, type: string, isPage: boolean): Promise<ConsoleAsset> {
  const body = await readFile(file);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  const cacheControl = isPage ? 'no-cache' : 'public, max-age=3600';
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag, cacheControl };
}

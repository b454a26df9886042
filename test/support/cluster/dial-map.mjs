// Test-only preload (`node --import dial-map.mjs bin/rill.js broker …`): rewrites this process's
// outgoing TCP connects by RILL_TEST_DIAL_MAP (`host:port=host:port,…`), so a node reaches each
// peer through the test's per-link proxy (link-proxy.ts) without any flag in Rill itself. Every
// node-to-node dial (Raft, replica fetches, forwarding, probes) goes through node:net's connect.
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { env } from 'node:process';

/** Parses `host:port=host:port,…` into a map of `host:port` keys. */
function parseMap(text) {
  const map = new Map();
  for (const item of text.split(',').filter((entry) => entry !== '')) {
    const [from, to] = item.split('=');
    const at = to?.lastIndexOf(':') ?? -1;
    if (from === undefined || to === undefined || at < 0) {
      throw new Error(`RILL_TEST_DIAL_MAP: expected host:port=host:port, got '${item}'`);
    }
    map.set(from, { host: to.slice(0, at), port: Number(to.slice(at + 1)) });
  }
  return map;
}

const dialMap = parseMap(env['RILL_TEST_DIAL_MAP'] ?? '');

if (dialMap.size > 0) {
  const original = net.connect;
  const rewritten = function connect(...args) {
    const [first, second, ...rest] = args;
    if (first !== null && typeof first === 'object') {
      const to = dialMap.get(`${first.host ?? 'localhost'}:${first.port}`);
      if (to !== undefined) return original({ ...first, host: to.host, port: to.port }, second);
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      const host = typeof second === 'string' ? second : 'localhost';
      const to = dialMap.get(`${host}:${first}`);
      if (to !== undefined) {
        const callback = typeof second === 'function' ? second : rest[0];
        return original({ host: to.host, port: to.port }, callback);
      }
    }
    return original(...args);
  };
  net.connect = rewritten;
  net.createConnection = rewritten;
  syncBuiltinESMExports();
}

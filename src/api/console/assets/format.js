// Formatting and decoding for the pages: numbers, rates, times, and record bytes shown as
// pretty JSON, text, or hex and base64 when they are not UTF-8.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

/** A note that a list was cut at the node's bound. */
export function leftOut(n, what) {
  return n > 0 ? html`<p class="muted">${n} more ${what} are not shown.</p>` : null;
}

/** The read-only notice of a node started without --console-write. */
export function WriteNotice({ state }) {
  if (state.consoleWrite) return null;
  return html`<p class="notice">
    Read-only: this node was started without <code>--console-write</code>.
  </p>`;
}

export function count(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US');
}

/** A size in bytes as B, KiB, MiB, GiB or TiB. */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function rate(n) {
  if (n === null || n === undefined) return '—';
  return `${n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1)}/s`;
}

export function seconds(n) {
  return n === null || n === undefined ? '—' : `${n.toFixed(1)} s`;
}

export function time(ms) {
  return ms === null || ms === undefined ? '—' : new Date(ms).toISOString();
}

/** Bytes of a base64 string. */
export function bytesOf(base64) {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * How to show a key, value or header given as base64 (null stays null): `json` (pretty text),
 * `text`, or `binary` with hex and base64.
 */
export function decoded(base64) {
  if (base64 === null || base64 === undefined) return { kind: 'null' };
  const bytes = bytesOf(base64);
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    const hex = Array.from(bytes.slice(0, 512), (b) => b.toString(16).padStart(2, '0'));
    return { kind: 'binary', hex: hex.join(' ') + (bytes.length > 512 ? ' …' : ''), base64 };
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(text), null, 2) };
    } catch {
      // Not JSON after all: shown as text.
    }
  }
  return { kind: 'text', text };
}

/** A decoded key, value or header as markup. */
export function Bytes({ value }) {
  const shown = decoded(value);
  switch (shown.kind) {
    case 'null':
      return html`<span class="muted">null</span>`;
    case 'json':
      return html`<pre class="json">${shown.text}</pre>`;
    case 'text':
      return html`<span class="text">${shown.text}</span>`;
    default:
      return html`<div class="binary">
        <div><span class="tag">hex</span> <code>${shown.hex}</code></div>
        <div><span class="tag">base64</span> <code>${shown.base64}</code></div>
      </div>`;
  }
}

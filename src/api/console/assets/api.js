// How the page talks to the cluster: the live view over server-sent events, reads through the
// documented /v1 routes (following a 421 to the partition's leader), and changes through the
// same routes with the x-rill-console header that --console-write gates.
import { html } from './format.js';

/** A refused request: the API's error code and message. */
export class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? 'HTTP_' + status;
    this.body = body;
  }
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiFailure(response.status, body);
  return body;
}

/** GET a route of this node; on 421 with a leader, GET the same route of that leader. */
export async function read(path) {
  const response = await fetch(path);
  if (response.status === 421) {
    const body = await response.json().catch(() => null);
    const url = body?.error?.leader?.url ?? body?.error?.coordinator?.url;
    if (typeof url === 'string') return answer(await fetch(url + path));
    throw new ApiFailure(421, body);
  }
  return answer(response);
}

/** A change (POST, PUT, DELETE) through this node's route, marked as the console's. */
export async function change(method, path, body) {
  const headers = { 'x-rill-console': '1' };
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(path, init));
}

export const enc = encodeURIComponent;

/**
 * The live view: one event stream, reopened with `?topic=` to watch a topic beyond the ones
 * every view describes. The old stream closes only once the new one delivered, so the node
 * never sees zero watchers in between (which would drop the charts' history).
 */
export function liveView(onState, onConnection) {
  let current = null;
  const watch = (topic) => {
    const query = topic === null ? '' : '?topic=' + encodeURIComponent(topic);
    const source = new EventSource('/v1/console/events' + query);
    const previous = current;
    current = source;
    source.addEventListener('state', (event) => {
      if (source !== current) return;
      previous?.close();
      onState(JSON.parse(event.data));
    });
    source.addEventListener('open', () => source === current && onConnection('live'));
    source.addEventListener('error', () => {
      if (source !== current) return;
      // Refused for good (e.g. 503, too many streams): go on with the stream that still works.
      if (source.readyState === EventSource.CLOSED && previous?.readyState === EventSource.OPEN) {
        current = previous;
        return;
      }
      onConnection('reconnecting');
    });
  };
  watch(null);
  return { watch, close: () => current?.close() };
}

/** A failure as the page shows it: code and message, announced to screen readers. */
export function ErrorLine({ error }) {
  if (error === null || error === undefined) return null;
  const code = error.code ? html`<strong>${error.code}</strong>: ` : '';
  return html`<p class="error" role="alert">${code}${error.message}</p>`;
}

// The console's shell: hash routing (#/, #/topics, #/topics/NAME, #/groups, #/groups/NAME,
// #/streams, #/raft), the live view from the server-sent-event stream, and the navigation bar.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { liveView } from './api.js';
import { html } from './format.js';
import { Overview, Raft } from './pages-cluster.js';
import { Topic, Topics } from './pages-topics.js';
import { Group, Groups } from './pages-groups.js';
import { Streams } from './pages-streams.js';

function routeOf(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const [page = '', name] = parts;
  return { page, name };
}

const sections = [
  ['', 'Overview'],
  ['topics', 'Topics'],
  ['groups', 'Groups'],
  ['streams', 'Streams'],
  ['raft', 'Raft'],
];

function App() {
  const [route, setRoute] = useState(routeOf(location.hash));
  const [state, setState] = useState(null);
  const [connection, setConnection] = useState('connecting');
  useEffect(() => {
    const onHash = () => setRoute(routeOf(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const live = useRef(null);
  const watched = useRef(null);
  useEffect(() => {
    live.current = liveView(setState, setConnection);
    return () => live.current.close();
  }, []);
  // A topic page for a topic the view leaves out (beyond the first 200) asks for it by name.
  useEffect(() => {
    const { page, name } = route;
    if (state === null || page !== 'topics' || !name || watched.current === name) return;
    if (state.topicsLeftOut === 0 || state.topics.some((t) => t.name === name)) return;
    watched.current = name;
    live.current?.watch(name);
  }, [route, state]);
  useEffect(() => {
    const title = sections.find(([page]) => page === route.page)?.[1] ?? 'Rill';
    document.title = `${route.name ?? title} · Rill console`;
  }, [route]);
  return html`
    <header class="top">
      <h1>Rill console</h1>
      <nav aria-label="Sections">
        ${sections.map(
          ([page, label]) =>
            html`<a href=${'#/' + page} aria-current=${route.page === page ? 'page' : undefined}
              >${label}</a
            >`,
        )}
      </nav>
      <span class="live" role="status" aria-live="polite">
        ${state === null ? '' : `node ${state.nodeId} · `}${connection}
      </span>
    </header>
    <main id="main">
      ${state === null ? html`<p>Waiting for the node…</p>` : page(route, state)}
    </main>
  `;
}

function page(route, state) {
  switch (route.page) {
    case 'topics':
      return route.name
        ? html`<${Topic} name=${route.name} state=${state} />`
        : html`<${Topics} state=${state} />`;
    case 'groups':
      return route.name
        ? html`<${Group} name=${route.name} state=${state} />`
        : html`<${Groups} state=${state} />`;
    case 'streams':
      return html`<${Streams} state=${state} />`;
    case 'raft':
      return html`<${Raft} state=${state} />`;
    default:
      return html`<${Overview} state=${state} />`;
  }
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);

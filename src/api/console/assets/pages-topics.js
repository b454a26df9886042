// Topics: the list (partitions, replication factor, records, rate) with create and delete (a
// confirmation first), and one topic: partitions, configs (editable), a records browser by
// partition and offset or time, and a produce form. Changes need --console-write.
import { useRef, useState } from 'preact/hooks';
import { ApiFailure, ErrorLine, change, enc, read } from './api.js';
import { Bytes, WriteNotice, bytes, count, html, leftOut, rate, time } from './format.js';

function recordsOf(topic) {
  let n = 0;
  for (const p of topic.partitions)
    n += Math.max(0, (p.highWatermark ?? 0) - (p.logStartOffset ?? 0));
  return n;
}

/** Bytes of the topic's logs, one replica per partition (null when no size is known). */
function sizeOf(topic) {
  let sum = null;
  for (const p of topic.partitions) {
    if (typeof p.sizeBytes === 'number') sum = (sum ?? 0) + p.sizeBytes;
  }
  return sum;
}

function hwOf(topic) {
  return topic.partitions.reduce((sum, p) => sum + (p.highWatermark ?? 0), 0);
}

/** Records per second per topic from the HW sums of this view and the one before. */
function useTopicRates(state) {
  const previous = useRef({ atMs: 0, hw: new Map(), rates: new Map() });
  const seen = previous.current;
  if (seen.atMs !== state.atMs) {
    const seconds = (state.atMs - seen.atMs) / 1000;
    const rates = new Map();
    for (const topic of state.topics) {
      const before = seen.hw.get(topic.name);
      const hw = hwOf(topic);
      rates.set(
        topic.name,
        before === undefined || seconds <= 0 || hw < before ? null : (hw - before) / seconds,
      );
    }
    previous.current = {
      atMs: state.atMs,
      hw: new Map(state.topics.map((t) => [t.name, hwOf(t)])),
      rates,
    };
  }
  return previous.current.rates;
}

function deleteCell(topic, state) {
  if (topic.name.startsWith('__')) return '';
  return html`<${DeleteTopic} name=${topic.name} state=${state} />`;
}

function headersOf(record) {
  return Object.entries(record.headers ?? {}).map(
    ([k, v]) => html`<div><span class="tag">${k}</span> <${Bytes} value=${v} /></div>`,
  );
}

function partitionOptions(topic) {
  return topic.partitions.map((p) => html`<option value=${p.partition}>${p.partition}</option>`);
}

function heldBy(p) {
  return p.highWatermark === null ? null : p.highWatermark - (p.logStartOffset ?? 0);
}

function CreateTopic({ state }) {
  const [name, setName] = useState('');
  const [partitions, setPartitions] = useState('3');
  const [replicationFactor, setReplicationFactor] = useState(
    String(Math.min(3, state.cluster.brokers.length)),
  );
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    setError(null);
    setDone(null);
    try {
      await change('POST', '/v1/topics', {
        name,
        partitions: Number(partitions),
        replicationFactor: Number(replicationFactor),
      });
      setDone(`Created topic ${name}.`);
      setName('');
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<form class="inline" onSubmit=${submit} aria-label="Create a topic">
      <div class="field">
        <label for="topics-1">Name</label
        ><input id="topics-1" required value=${name} onInput=${(e) => setName(e.target.value)} />
      </div>
      <div class="field">
        <label for="topics-2">Partitions</label
        ><input
          id="topics-2"
          type="number"
          min="1"
          required
          value=${partitions}
          onInput=${(e) => setPartitions(e.target.value)}
        />
      </div>
      <div class="field">
        <label for="topics-3">Replication factor</label
        ><input
          id="topics-3"
          type="number"
          min="1"
          required
          value=${replicationFactor}
          onInput=${(e) => setReplicationFactor(e.target.value)}
        />
      </div>
      <button type="submit" disabled=${!state.consoleWrite}>Create topic</button>
    </form>
    <${ErrorLine} error=${error} />
    ${done && html`<p role="status" class="good">${done}</p>`}`;
}

function DeleteTopic({ name, state }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState(null);
  if (!asking) {
    return html`<button
      class="secondary"
      disabled=${!state.consoleWrite}
      onClick=${() => setAsking(true)}
      aria-label=${'Delete topic ' + name}
    >
      Delete
    </button>`;
  }
  const confirm = async () => {
    try {
      await change('DELETE', `/v1/topics/${enc(name)}`);
      setAsking(false);
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<span role="group" aria-label=${'Confirm deleting ' + name}>
    Delete ${name} and all its records?
    <button class="danger" onClick=${confirm}>Yes, delete ${name}</button>
    <button class="secondary" onClick=${() => setAsking(false)}>Cancel</button>
    <${ErrorLine} error=${error} />
  </span>`;
}

/** Matches shown from the full list at most (the rest are counted). */
const foundMax = 100;

/**
 * Topics beyond the ones the live view describes: one read of the list of every topic
 * (GET /v1/topics) when the user searches, matched by name; each links to its page.
 */
function FindTopic({ state, filter }) {
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  if (state.topicsLeftOut === 0) return null;
  const search = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const described = new Set(state.topics.map((t) => t.name));
      const all = (await read('/v1/topics')).topics;
      setFound(all.filter((t) => !described.has(t.name) && t.name.includes(filter)));
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<form class="inline" aria-label="Search all topics" onSubmit=${search}>
      <p class="muted">
        ${
          `${state.topicsLeftOut} more topics are not described live (the first ` +
          `${state.topics.length} by name are).`
        }
      </p>
      <button type="submit">Search all topics</button>
    </form>
    <${ErrorLine} error=${error} />
    ${
      found &&
      html`<p role="status">${`${found.length} more topic(s) match.`}</p>
        <ul aria-label="Other topics">
          ${found.slice(0, foundMax).map(
            (t) =>
              html`<li>
                <a href=${'#/topics/' + enc(t.name)}>${t.name}</a>
                ${` · ${t.partitions} partition(s) · RF ${t.replicationFactor}`}
              </li>`,
          )}
        </ul>
        ${leftOut(found.length - foundMax, 'matches')}`
    }`;
}

export function Topics({ state }) {
  const rates = useTopicRates(state);
  const [showInternal, setShowInternal] = useState(false);
  const [filter, setFilter] = useState('');
  const topics = state.topics.filter(
    (t) => (showInternal || !t.name.startsWith('__')) && t.name.includes(filter),
  );
  return html`
    <h2>Topics</h2>
    <${WriteNotice} state=${state} />
    <h3>Create a topic</h3>
    <${CreateTopic} state=${state} />
    <h3>All topics</h3>
    <label class="row"
      ><span
        ><input
          type="checkbox"
          checked=${showInternal}
          onChange=${(e) => setShowInternal(e.target.checked)}
        />
        Show internal topics</span
      ></label
    >
    <div class="field">
      <label for="topics-find">Find a topic (name contains)</label
      ><input id="topics-find" value=${filter} onInput=${(e) => setFilter(e.target.value)} />
    </div>
    <${FindTopic} state=${state} filter=${filter} />
    <table aria-label="Topics">
      <thead>
        <tr>
          <th>Name</th>
          <th class="num">Partitions</th>
          <th class="num">Replication factor</th>
          <th class="num">Records</th>
          <th class="num">Size</th>
          <th class="num">Rate in</th>
          <th class="num">Under-replicated</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        ${topics.map(
          (t) =>
            html`<tr>
              <td><a href=${'#/topics/' + enc(t.name)}>${t.name}</a></td>
              <td class="num">${t.partitions.length}</td>
              <td class="num">${t.partitions[0]?.replicas.length ?? '—'}</td>
              <td class="num">${count(recordsOf(t))}</td>
              <td class="num">${bytes(sizeOf(t))}</td>
              <td class="num">${rate(rates.get(t.name))}</td>
              <td class="num">
                ${t.partitions.filter((p) => p.isr.length < p.replicas.length).length}
              </td>
              <td>${deleteCell(t, state)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${topics.length === 0 && html`<p>${filter === '' ? 'No topics yet.' : 'No topic matches.'}</p>`}
  `;
}

function Configs({ topic, state }) {
  const [key, setKey] = useState('retention.ms');
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const save = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      await change('PUT', `/v1/topics/${enc(topic.name)}/configs`, {
        configs: { [key]: value === '' ? null : value },
      });
      setValue('');
    } catch (failure) {
      setError(failure);
    }
  };
  const entries = Object.entries(topic.configs ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return html` <form class="inline" onSubmit=${save} aria-label="Edit a config">
      <div class="field">
        <label for="topics-4">Config</label
        ><select id="topics-4" value=${key} onChange=${(e) => setKey(e.target.value)}>
          ${entries.map(([k]) => html`<option value=${k}>${k}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="topics-5">New value (empty: default)</label
        ><input id="topics-5" value=${value} onInput=${(e) => setValue(e.target.value)} />
      </div>
      <button type="submit" disabled=${!state.consoleWrite}>Save config</button>
    </form>
    <${ErrorLine} error=${error} />
    <table aria-label="Configs">
      <thead>
        <tr>
          <th>Config</th>
          <th>Value</th>
        </tr>
      </thead>
      <tbody>
        ${entries.map(
          ([k, v]) =>
            html`<tr>
              <td>${k}</td>
              <td>${v}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}

function Browser({ topic }) {
  const [partition, setPartition] = useState('0');
  const [mode, setMode] = useState('offset');
  const [from, setFrom] = useState('0');
  const [answer, setAnswer] = useState(null);
  const [error, setError] = useState(null);
  const base = `/v1/topics/${enc(topic.name)}/partitions/${enc(partition)}`;
  const load = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      let offset = Number(from);
      if (mode === 'timestamp') {
        const at = Date.parse(from);
        if (Number.isNaN(at))
          throw new ApiFailure(400, {
            error: { code: 'INVALID_REQUEST', message: `not a time: ${from}` },
          });
        const found = await read(`${base}/offsets?timestamp=${at}`);
        offset = found.offset ?? found.highWatermark;
      }
      setAnswer(await read(`${base}/records?offset=${offset}&maxBytes=262144&encoding=base64`));
    } catch (failure) {
      setError(failure);
      setAnswer(null);
    }
  };
  const records = (answer?.records ?? []).slice(0, 200);
  return html` <form class="inline" onSubmit=${load} aria-label="Browse records">
      <div class="field">
        <label for="topics-6">Partition</label
        ><select id="topics-6" value=${partition} onChange=${(e) => setPartition(e.target.value)}>
          ${partitionOptions(topic)}
        </select>
      </div>
      <div class="field">
        <label for="topics-7">From</label
        ><select
          id="topics-7"
          value=${mode}
          onChange=${(e) => {
            setMode(e.target.value);
            setFrom(
              e.target.value === 'offset' ? '0' : new Date(Date.now() - 3600_000).toISOString(),
            );
          }}
        >
          <option value="offset">offset</option>
          <option value="timestamp">time (ISO)</option>
        </select>
      </div>
      <div class="field">
        <label for="topics-8">${mode === 'offset' ? 'Offset' : 'Time'}</label
        ><input id="topics-8" value=${from} onInput=${(e) => setFrom(e.target.value)} />
      </div>
      <button type="submit">Load records</button>
    </form>
    <${ErrorLine} error=${error} />
    ${
      answer &&
      html`<p class="muted">
          High watermark ${count(answer.highWatermark)}, log start ${count(answer.logStartOffset)},
          next offset ${count(answer.nextOffset)}; ${records.length} record(s) shown.
        </p>
        <table aria-label="Records">
          <thead>
            <tr>
              <th class="num">Offset</th>
              <th>Timestamp</th>
              <th>Key</th>
              <th>Headers</th>
              <th>Value</th>
            </tr>
          </thead>
          <tbody>
            ${records.map(
              (r) =>
                html`<tr>
                  <td class="num">${r.offset}</td>
                  <td>${time(r.timestamp)}</td>
                  <td><${Bytes} value=${r.key} /></td>
                  <td>${headersOf(r)}</td>
                  <td><${Bytes} value=${r.value} /></td>
                </tr>`,
            )}
          </tbody>
        </table>`
    }`;
}

function Produce({ topic, state }) {
  const [partition, setPartition] = useState('');
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [headers, setHeaders] = useState('');
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const send = async (event) => {
    event.preventDefault();
    setError(null);
    setResult(null);
    const record = { key: key === '' ? null : key, value };
    const lines = headers
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (lines.length > 0)
      record.headers = Object.fromEntries(
        lines.map((l) => [l.split('=')[0], l.slice(l.indexOf('=') + 1)]),
      );
    if (partition !== '') record.partition = Number(partition);
    try {
      const answer = await change('POST', `/v1/topics/${enc(topic.name)}/records?acks=all`, {
        records: [record],
      });
      const placed = answer.offsets[0];
      if (placed.error) throw new ApiFailure(0, { error: placed.error });
      setResult(`Written to partition ${placed.partition} at offset ${placed.offset}.`);
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<form onSubmit=${send} aria-label="Produce a record">
      <div class="row">
        <div class="field">
          <label for="topics-9">Partition</label
          ><select id="topics-9" value=${partition} onChange=${(e) => setPartition(e.target.value)}>
            <option value="">by key</option>
            ${partitionOptions(topic)}
          </select>
        </div>
        <div class="field">
          <label for="topics-10">Key</label
          ><input id="topics-10" value=${key} onInput=${(e) => setKey(e.target.value)} />
        </div>
        <div class="field">
          <label for="topics-11">Headers (name=value per line)</label
          ><textarea
            id="topics-11"
            rows="2"
            value=${headers}
            onInput=${(e) => setHeaders(e.target.value)}
          ></textarea>
        </div>
      </div>
      <div class="field">
        <label for="topics-12">Value</label
        ><textarea
          id="topics-12"
          rows="3"
          cols="60"
          value=${value}
          onInput=${(e) => setValue(e.target.value)}
        ></textarea>
      </div>
      <div class="row">
        <button type="submit" disabled=${!state.consoleWrite}>Produce record</button>
      </div>
    </form>
    <${ErrorLine} error=${error} />
    ${result && html`<p role="status" class="good">${result}</p>`}`;
}

export function Topic({ name, state }) {
  const topic = state.topics.find((t) => t.name === name);
  if (topic === undefined) {
    // A topic beyond the view's first 200 is read once the stream asked for it by name.
    const reading = state.topicsLeftOut > 0 && !(state.watchedTopics ?? []).includes(name);
    return html`<h2>${name}</h2>
      ${
        reading
          ? html`<p role="status">Reading the topic…</p>`
          : html`<p>
              No such topic (it may be being created or deleted). <a href="#/topics">All topics</a>
            </p>`
      }`;
  }
  return html`
    <h2>Topic ${name}</h2>
    <p>
      <a href="#/topics">All topics</a>
      ${` · ${topic.partitions.length} partition(s) · ${count(recordsOf(topic))} record(s)`}
      ${` · ${bytes(sizeOf(topic))}`}
    </p>
    <${WriteNotice} state=${state} />
    <h3>Partitions</h3>
    <table aria-label="Partitions">
      <thead>
        <tr>
          <th class="num">Partition</th>
          <th>Leader</th>
          <th class="num">Leader epoch</th>
          <th>Replicas</th>
          <th>ISR</th>
          <th class="num">Log start</th>
          <th class="num">High watermark</th>
          <th class="num">Records</th>
          <th class="num">Size</th>
        </tr>
      </thead>
      <tbody>
        ${topic.partitions.map(
          (p) =>
            html`<tr>
              <td class="num">${p.partition}</td>
              <td class=${p.leader === null ? 'bad' : ''}>
                ${p.leader === null ? 'none' : `node ${p.leader}`}
              </td>
              <td class="num">${p.leaderEpoch}</td>
              <td>${p.replicas.join(', ')}</td>
              <td class=${p.isr.length < p.replicas.length ? 'bad' : ''}>${p.isr.join(', ')}</td>
              <td class="num">${count(p.logStartOffset)}</td>
              <td class="num">${count(p.highWatermark)}</td>
              <td class="num">${count(heldBy(p))}</td>
              <td class="num">${bytes(p.sizeBytes)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h3>Records</h3>
    <${Browser} topic=${topic} />
    <h3>Produce a record</h3>
    <${Produce} topic=${topic} state=${state} />
    <h3>Configs</h3>
    <${Configs} topic=${topic} state=${state} />
  `;
}

// Rill Streams applications, found from their `<app>-checkpoints` topics: per application the
// group's state, total lag and each instance's status (`<app>-status`: restoring with progress,
// or running); per task its owner, each input partition's checkpointed offset against the HW
// (the lag), stream time, and each store's changelog coverage.
import { enc } from './api.js';
import { count, html, leftOut, time } from './format.js';

function owner(task) {
  if (task.owner === null) return html`<span class="bad">none</span>`;
  const id = task.ownerInstance ?? task.owner;
  return html`<span title=${task.owner}>${id.length > 24 ? id.slice(0, 24) + '…' : id}</span>`;
}

function inputs(task) {
  return task.inputs.map(
    (i) =>
      html`<div>
        <a href=${'#/topics/' + enc(i.topic)}>${i.topic}</a>[${i.partition}]:
        ${count(i.checkpointed)} / ${count(i.highWatermark)}
      </div>`,
  );
}

function stores(task) {
  if (task.stores.length === 0) return html`<span class="muted">none</span>`;
  return task.stores.map((s) => {
    const replay = s.logStartOffset === null ? null : Math.max(0, s.covered - s.logStartOffset);
    const after = s.highWatermark === null ? null : Math.max(0, s.highWatermark - s.covered);
    return html`<div>
      ${s.store}: covered to ${count(s.covered)} · a restore replays ≤ ${count(replay)}
      ${after ? ` · ${count(after)} after the checkpoint` : ''}
    </div>`;
  });
}

/** `restoring 1,234 / 5,000 (25 %)` per store, or `running`. */
export function taskProgress(t) {
  if (t.state === 'running') return 'running';
  if (t.stores.length === 0) return 'restoring';
  return t.stores
    .map((s) => {
      const pct = s.total > 0 ? Math.floor((100 * s.restored) / s.total) : 100;
      return `${s.store}: restoring ${count(s.restored)} / ${count(s.total)} (${pct} %)`;
    })
    .join(' · ');
}

function Instances({ app }) {
  if (app.instances.length === 0) {
    return html`<p class="muted">
      No instance status yet (<code>${app.applicationId}-status</code>).
    </p>`;
  }
  return html`
    ${leftOut(app.instancesLeftOut, 'instances')}
    <table aria-label=${'Instances of ' + app.applicationId}>
      <thead>
        <tr>
          <th>Instance</th>
          <th>State</th>
          <th>Tasks</th>
          <th>Reported</th>
        </tr>
      </thead>
      <tbody>
        ${app.instances.map(
          (i) =>
            html`<tr data-testid=${'streams-instance-' + app.applicationId + '-' + i.instance}>
              <td>${i.instance}</td>
              <td>${i.state}</td>
              <td>
                ${i.tasks.length === 0 && html`<span class="muted">none</span>`}
                ${i.tasks.map((t) => html`<div>${t.task}: ${taskProgress(t)}</div>`)}
              </td>
              <td>${time(i.writtenMs)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  `;
}

function App({ app }) {
  const lagId = 'streams-lag-' + app.applicationId;
  const lag = count(app.lag);
  return html`
    <section aria-label=${'Streams application ' + app.applicationId}>
      <h3>${app.applicationId}</h3>
      <p>
        ${'Group '}<a href=${'#/groups/' + enc(app.applicationId)}>${app.applicationId}</a>
        ${` · ${app.groupState ?? 'none'} · ${app.members} member(s)`}
        ${` · ${app.tasks.length} task(s) · lag `}<strong data-testid=${lagId}>${lag}</strong>
        ${app.caughtUp ? '' : html` · <span class="muted">reading checkpoints…</span>`}
      </p>
      <${Instances} app=${app} />
      ${leftOut(app.tasksLeftOut, 'tasks')}
      <table aria-label=${'Tasks of ' + app.applicationId}>
        <thead>
          <tr>
            <th>Task</th>
            <th>Owner</th>
            <th>Input partitions (checkpointed / HW)</th>
            <th class="num">Lag</th>
            <th>Stream time</th>
            <th>State stores (changelog)</th>
            <th>Last checkpoint</th>
          </tr>
        </thead>
        <tbody>
          ${app.tasks.map(
            (t) =>
              html`<tr>
                <td>${t.task}</td>
                <td>${owner(t)}</td>
                <td>${inputs(t)}</td>
                <td class="num">${count(t.lag)}</td>
                <td>${t.streamTimeMs < 0 ? '—' : time(t.streamTimeMs)}</td>
                <td>${stores(t)}</td>
                <td>#${t.seq} at ${time(t.checkpointedMs)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>
  `;
}

export function Streams({ state }) {
  return html`
    <h2>Streams applications</h2>
    <p class="muted">
      Found from their <code>${'<application>-checkpoints'}</code> topics. Lag is each input
      partition's high watermark minus the offset of the task's last checkpoint. Each instance
      reports its state to <code>${'<application>-status'}</code>: a restoring task shows the
      changelog offsets read out of those to read (sent about once a second). A task's stores show
      what a restore would replay: the changelog from its log start to the offset the checkpoint
      covers.
    </p>
    ${leftOut(state.streamsLeftOut, 'applications')}
    ${state.streams.map((app) => html`<${App} app=${app} />`)}
    ${state.streams.length === 0 && html`<p>No streams applications.</p>`}
  `;
}

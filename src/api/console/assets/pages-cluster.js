// The overview (nodes, controller, Raft, partition health, throughput) and the Raft page
// (voters and observers, terms, commit and match indexes, last contact).
import { Chart } from './charts.js';
import { count, html, rate } from './format.js';

function Card({ label, value, tone }) {
  return html`<div class="card">
    <div class="label">${label}</div>
    <div class=${'value ' + (tone ?? '')}>${value}</div>
  </div>`;
}

function raftOf(state, id) {
  return state.raft.find((r) => r.nodeId === id)?.status ?? null;
}

/** What the chart covers, and how much of it the nodes sampled before this page opened. */
function ChartSpan({ history }) {
  const first = history.t[0];
  if (first === undefined) return null;
  const minutes = Math.max(0, (history.t[history.t.length - 1] - first) / 60);
  const sampled = history.sampledPoints;
  const since = new Date(first * 1000).toLocaleTimeString('en-GB');
  const before =
    sampled > 0 ? `: ${sampled} points sampled by the nodes before this page opened` : '';
  return html`<p class="muted" data-testid="chart-span">
    ${`Since ${since} (${minutes.toFixed(1)} min)${before}.`}
  </p>`;
}

export function Overview({ state }) {
  const { cluster, history } = state;
  const leader = state.raft.map((r) => r.status).find((s) => s?.role === 'leader');
  const last = (series) => series[series.length - 1] ?? null;
  const userTopics = state.topics.filter((t) => !t.name.startsWith('__'));
  const alive = cluster.brokers.filter((b) => b.status === 'alive').length;
  return html`
    <h2>Overview</h2>
    <div class="cards">
      <${Card} label="Nodes alive" value=${`${alive} / ${cluster.brokers.length}`} />
      <${Card}
        label="Controller"
        value=${cluster.controllerId === null ? 'none' : `node ${cluster.controllerId}`}
        tone=${cluster.controllerId === null ? 'bad' : ''}
      />
      <${Card} label="Raft term" value=${leader?.term ?? '—'} />
      <${Card} label="Raft commit" value=${count(leader?.commitIndex)} />
      <${Card} label="Topics" value=${userTopics.length} />
      <${Card}
        label="Under-replicated"
        value=${state.underReplicated}
        tone=${state.underReplicated > 0 ? 'bad' : 'good'}
      />
      <${Card}
        label="Offline partitions"
        value=${state.offline}
        tone=${state.offline > 0 ? 'bad' : 'good'}
      />
      <${Card} label="Records in" value=${rate(last(history.inRate))} />
      <${Card} label="Records out" value=${rate(last(history.outRate))} />
    </div>
    <h3>Throughput (records per second)</h3>
    <${Chart}
      label="Records in and out per second over the last minutes"
      t=${history.t}
      series=${[
        { name: 'in', data: history.inRate },
        { name: 'out (fetched by consumers)', data: history.outRate },
      ]}
    />
    <${ChartSpan} history=${history} />
    <h3>Nodes</h3>
    <table aria-label="Nodes">
      <thead>
        <tr>
          <th>Node</th>
          <th>URL</th>
          <th>Status</th>
          <th>Raft role</th>
          <th class="num">Term</th>
          <th class="num">Commit</th>
          <th class="num">Applied</th>
        </tr>
      </thead>
      <tbody>
        ${cluster.brokers.map((b) => {
          const raft = raftOf(state, b.id);
          return html`<tr>
            <td>${b.id}${b.id === cluster.controllerId ? ' (controller)' : ''}</td>
            <td><a href=${b.url + '/'}>${b.url}</a></td>
            <td class=${b.status === 'alive' ? 'good' : 'bad'}>${b.status}</td>
            <td>${raft?.role ?? 'not answering'}</td>
            <td class="num">${raft?.term ?? '—'}</td>
            <td class="num">${count(raft?.commitIndex)}</td>
            <td class="num">${count(raft?.appliedIndex)}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  `;
}

function contactOf(follower) {
  const ms = follower?.lastContactMs;
  return ms === null || ms === undefined ? '—' : `${count(ms)} ms ago`;
}

export function Raft({ state }) {
  const statuses = state.raft.map((r) => r.status).filter((s) => s !== null);
  const leader = statuses.find((s) => s.role === 'leader') ?? null;
  const voters = leader?.voters ?? statuses[0]?.voters ?? [];
  const followers = new Map((leader?.followers ?? []).map((f) => [f.nodeId, f]));
  return html`
    <h2>Raft</h2>
    <p>
      Leader: ${leader === null ? html`<span class="bad">none</span>` : `node ${leader.nodeId}`}
      ${` · term ${leader?.term ?? '—'} · commit index ${count(leader?.commitIndex)}`}
    </p>
    <table aria-label="Raft members">
      <thead>
        <tr>
          <th>Node</th>
          <th>Membership</th>
          <th>Role</th>
          <th class="num">Term</th>
          <th class="num">Commit</th>
          <th class="num">Applied</th>
          <th class="num">Match index</th>
          <th class="num">Last contact</th>
        </tr>
      </thead>
      <tbody>
        ${state.raft.map(({ nodeId, status }) => {
          const follower = followers.get(nodeId);
          const isLeader = leader !== null && nodeId === leader.nodeId;
          return html`<tr>
            <td>${nodeId}</td>
            <td>${voters.includes(nodeId) ? 'voter' : 'observer'}</td>
            <td class=${status === null ? 'bad' : ''}>${status?.role ?? 'not answering'}</td>
            <td class="num">${status?.term ?? '—'}</td>
            <td class="num">${count(status?.commitIndex)}</td>
            <td class="num">${count(status?.appliedIndex)}</td>
            <td class="num">
              ${isLeader ? count(leader.commitIndex) : count(follower?.matchIndex)}
            </td>
            <td class="num">${isLeader ? 'leader' : contactOf(follower)}</td>
          </tr>`;
        })}
      </tbody>
    </table>
    <p class="muted">Match index and last contact are the leader's view of each follower.</p>
  `;
}

// Consumer groups: the list (state, members, lag) and one group: members and their assignment,
// committed offset and lag per partition in records and seconds, a lag chart over the last
// minutes, and an offset reset that shows its dry-run preview before it is applied.
import { useState } from 'preact/hooks';
import { ErrorLine, change, enc } from './api.js';
import { Chart } from './charts.js';
import { WriteNotice, count, html, leftOut, seconds } from './format.js';

function lagOf(group) {
  let sum = null;
  for (const o of group.offsets) if (o.lag !== null) sum = (sum ?? 0) + o.lag;
  return sum;
}

export function Groups({ state }) {
  return html`
    <h2>Consumer groups</h2>
    ${leftOut(state.groupsLeftOut, 'groups')}
    <table aria-label="Groups">
      <thead>
        <tr>
          <th>Group</th>
          <th>State</th>
          <th>Protocol</th>
          <th class="num">Members</th>
          <th class="num">Lag (records)</th>
        </tr>
      </thead>
      <tbody>
        ${state.groups.map(
          (g) =>
            html`<tr>
              <td><a href=${'#/groups/' + enc(g.group)}>${g.group}</a></td>
              <td>${g.state}</td>
              <td>${g.protocol}</td>
              <td class="num">${g.members.length}</td>
              <td class="num">${count(lagOf(g))}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${state.groups.length === 0 && html`<p>No consumer groups yet.</p>`}
  `;
}

function Reset({ group, state }) {
  const topics = [...new Set(group.offsets.map((o) => o.topic))];
  const [topic, setTopic] = useState(topics[0] ?? '');
  const [to, setTo] = useState('earliest');
  const [target, setTarget] = useState('');
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  const [applied, setApplied] = useState(null);
  const body = (dryRun) => {
    let where = to;
    if (to === 'offset') where = { offset: Number(target) };
    if (to === 'timestamp') where = { timestamp: Date.parse(target) };
    return { topic, to: where, dryRun };
  };
  const run = async (dryRun) => {
    setError(null);
    setApplied(null);
    try {
      const answer = await change(
        'POST',
        `/v1/groups/${enc(group.group)}/offsets/reset`,
        body(dryRun),
      );
      if (dryRun) setPreview(answer.offsets);
      else {
        setPreview(null);
        setApplied(`Committed ${answer.offsets.length} offset(s).`);
      }
    } catch (failure) {
      setError(failure);
    }
  };
  return html` <form
      class="inline"
      aria-label="Reset offsets"
      onSubmit=${(e) => {
        e.preventDefault();
        void run(true);
      }}
    >
      <div class="field">
        <label for="groups-1">Topic</label
        ><select
          id="groups-1"
          value=${topic}
          onChange=${(e) => {
            setTopic(e.target.value);
            setPreview(null);
          }}
        >
          ${topics.map((t) => html`<option value=${t}>${t}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="groups-2">To</label
        ><select
          id="groups-2"
          value=${to}
          onChange=${(e) => {
            setTo(e.target.value);
            setPreview(null);
          }}
        >
          <option value="earliest">earliest</option>
          <option value="latest">latest</option>
          <option value="offset">offset</option>
          <option value="timestamp">time (ISO)</option>
        </select>
      </div>
      ${
        (to === 'offset' || to === 'timestamp') &&
        html`<div class="field">
          <label for="groups-3">${to === 'offset' ? 'Offset' : 'Time'}</label
          ><input
            id="groups-3"
            required
            value=${target}
            onInput=${(e) => {
              setTarget(e.target.value);
              setPreview(null);
            }}
          />
        </div>`
      }
      <button type="submit" disabled=${!state.consoleWrite || topic === ''}>Preview reset</button>
    </form>
    <${ErrorLine} error=${error} />
    ${applied && html`<p role="status" class="good">${applied}</p>`}
    ${
      preview &&
      html` <table aria-label="Reset preview">
          <thead>
            <tr>
              <th>Topic</th>
              <th class="num">Partition</th>
              <th class="num">New offset</th>
            </tr>
          </thead>
          <tbody>
            ${preview.map(
              (o) =>
                html`<tr>
                  <td>${o.topic}</td>
                  <td class="num">${o.partition}</td>
                  <td class="num">${o.offset}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        <button class="danger" onClick=${() => run(false)}>Apply reset</button>
        <button class="secondary" onClick=${() => setPreview(null)}>Cancel</button>`
    }`;
}

function assignmentOf(member) {
  const text = member.assignment.map((a) => `${a.topic}: ${a.partitions.join(', ')}`);
  return text.join('; ') || '—';
}

/** How many of the chart's points its coordinator sampled before the console was watched. */
function LagSpan({ history, lag }) {
  const sampled = lag.slice(0, history.sampledPoints).filter((v) => v !== null).length;
  const shown = lag.filter((v) => v !== null).length;
  return html`<p class="muted" data-testid="lag-span">
    ${
      `${shown} point${shown === 1 ? '' : 's'}` +
      (sampled > 0
        ? `, ${sampled} sampled by the group's coordinator before this page opened`
        : '') +
      '.'
    }
  </p>`;
}

export function Group({ name, state }) {
  const group = state.groups.find((g) => g.group === name);
  if (group === undefined)
    return html`<h2>${name}</h2>
      <p>No such group. <a href="#/groups">All groups</a></p>`;
  const lag = state.history.lag[name] ?? [];
  return html`
    <h2>Group ${name}</h2>
    <p>
      <a href="#/groups">All groups</a> · state <strong>${group.state}</strong>
      ${` · epoch ${group.groupEpoch} · assignor ${group.assignor} · total lag `}
      <strong data-testid="group-lag">${count(lagOf(group))}</strong>
    </p>
    <h3>Lag over the last minutes (records)</h3>
    <${Chart}
      label=${'Lag of group ' + name + ' in records over time'}
      t=${state.history.t.slice(-lag.length)}
      series=${[{ name: 'lag', data: lag }]}
    />
    <${LagSpan} history=${state.history} lag=${lag} />
    <h3>Members</h3>
    <table aria-label="Members">
      <thead>
        <tr>
          <th>Member</th>
          <th>Instance</th>
          <th class="num">Epoch</th>
          <th>Host</th>
          <th>Subscription</th>
          <th>Assignment</th>
        </tr>
      </thead>
      <tbody>
        ${group.members.map(
          (m) =>
            html`<tr>
              <td><code>${m.memberId}</code></td>
              <td>${m.instanceId ?? '—'}</td>
              <td class="num">${m.memberEpoch}</td>
              <td>${m.clientHost ?? '—'}</td>
              <td>${m.subscribedTopicRegex ?? m.subscribedTopics.join(', ')}</td>
              <td>${assignmentOf(m)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${group.members.length === 0 && html`<p class="muted">No members.</p>`}
    <h3>Offsets and lag</h3>
    <table aria-label="Offsets">
      <thead>
        <tr>
          <th>Topic</th>
          <th class="num">Partition</th>
          <th>Owner</th>
          <th class="num">Committed</th>
          <th class="num">High watermark</th>
          <th class="num">Lag (records)</th>
          <th class="num">Lag (seconds)</th>
        </tr>
      </thead>
      <tbody>
        ${group.offsets.map(
          (o) =>
            html`<tr>
              <td>${o.topic}</td>
              <td class="num">${o.partition}</td>
              <td><code>${o.owner ?? '—'}</code></td>
              <td class="num">${count(o.committedOffset)}</td>
              <td class="num">${count(o.highWatermark)}</td>
              <td class="num">${count(o.lag)}</td>
              <td class="num">${seconds(o.lagSeconds)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h3>Reset offsets</h3>
    <${WriteNotice} state=${state} />
    <p class="muted">
      A reset needs a group without members. Preview shows what would be committed.
    </p>
    <${Reset} group=${group} state=${state} />
  `;
}

// Join processors. Stream–table: each stream record looks the key up in the table as it is at
// that moment (the stream drives; table updates emit nothing). Table–table: a change on either
// side recomputes the joined value of that key against the other side's current value, and
// forwards the joined change. Stream–stream: each side keeps its records of the last window in
// memory per key; a record joins the other side's records within withinMs, and in left/outer
// joins a record that found no partner is emitted with null once no partner can still come.
import { keyIdOf } from './aggregate.ts';
import { CloseQueue } from './close-queue.ts';
import type { Change, ProcessorFactory, TableGetterFactory } from './processor.ts';
import type { Serde } from './serdes.ts';
import { bytesToId, idToBytes } from './store-key.ts';
import type { JoinWindows } from './windows.ts';

export type JoinKind = 'inner' | 'left' | 'outer';
export type Joiner = (left: unknown, right: unknown) => unknown;

/** The joined value of one key from both sides' values (null: absent), per join kind. */
export function joinValues(kind: JoinKind, joiner: Joiner, left: unknown, right: unknown): unknown {
  switch (kind) {
    case 'inner':
      return left !== null && right !== null ? joiner(left, right) : null;
    case 'left':
      return left !== null ? joiner(left, right) : null;
    case 'outer':
      return left !== null || right !== null ? joiner(left, right) : null;
  }
}

export function streamTableJoinProcessor(
  kind: 'inner' | 'left',
  joiner: Joiner,
  table: TableGetterFactory,
): ProcessorFactory {
  return (context) => {
    const lookup = table(context);
    return {
      process: (record) => {
        if (record.key === null || record.value === null) {
          context.countDrop('null-key');
          return;
        }
        const joined = joinValues(kind, joiner, record.value, lookup(record.key));
        if (joined !== null) context.forward({ ...record, value: joined });
      },
    };
  };
}

/** One side of a table–table join; `side` says which argument of the joiner its value is. */
export function tableTableJoinProcessor(
  kind: JoinKind,
  joiner: Joiner,
  side: 'left' | 'right',
  other: TableGetterFactory,
): ProcessorFactory {
  return (context) => {
    const lookup = other(context);
    const join = (mine: unknown, theirs: unknown): unknown =>
      side === 'left'
        ? joinValues(kind, joiner, mine, theirs)
        : joinValues(kind, joiner, theirs, mine);
    return {
      process: (record) => {
        const change = record.value as Change;
        const theirs = lookup(record.key);
        const next: Change = {
          newValue: join(change.newValue, theirs),
          oldValue: join(change.oldValue, theirs),
        };
        if (next.newValue === null && next.oldValue === null) return;
        context.forward({ ...record, value: next });
      },
    };
  };
}

/** The getter of a table–table join's result. */
export function joinedGetter(
  kind: JoinKind,
  joiner: Joiner,
  left: TableGetterFactory,
  right: TableGetterFactory,
): TableGetterFactory {
  return (context) => {
    const [l, r] = [left(context), right(context)];
    return (key) => joinValues(kind, joiner, l(key), r(key));
  };
}

interface Buffered {
  readonly timestampMs: number;
  readonly value: unknown;
  matched: boolean;
}

/** A join side's buffer entry: one key's records, as JSON [timestampMs, base64, matched]. */
export function bufferSerde(valueSerde: Serde<unknown>): Serde<unknown> {
  return {
    serialize: (list) =>
      new TextEncoder().encode(
        JSON.stringify(
          (list as Buffered[]).map((r) => [
            r.timestampMs,
            btoa(bytesToId(valueSerde.serialize(r.value))),
            r.matched,
          ]),
        ),
      ),
    deserialize: (bytes) =>
      (JSON.parse(new TextDecoder().decode(bytes)) as [number, string, boolean][]).map(
        ([timestampMs, value, matched]) => ({
          timestampMs,
          value: valueSerde.deserialize(idToBytes(atob(value))),
          matched,
        }),
      ),
  };
}

interface Expiring {
  readonly key: unknown;
  readonly id: string;
  readonly timestampMs: number;
}

/** A total order on records expiring at one stream time (same id and time: list order). */
function compareExpiring(a: Expiring, b: Expiring): number {
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return a.timestampMs - b.timestampMs;
}

export interface StreamJoinConfig {
  readonly kind: JoinKind;
  readonly joiner: Joiner;
  readonly windows: JoinWindows;
  readonly keySerde: Serde<unknown>;
  readonly side: 'left' | 'right';
  /** This side's buffer store and the other side's (each side writes only its own). */
  readonly thisStore: string;
  readonly otherStore: string;
}

/**
 * One side of a windowed stream–stream join. A record is late, dropped and counted when
 * t + within + grace < stream time. A buffered record can get no partner once stream time
 * passes t + 2·within + grace; it is then removed, and emitted with null if unmatched and the
 * join keeps this side's unmatched records (left: the left side; outer: both).
 */
export function streamStreamJoinProcessor(config: StreamJoinConfig): ProcessorFactory {
  const { kind, joiner, windows, side } = config;
  const keepsUnmatched = kind === 'outer' || (kind === 'left' && side === 'left');
  const pair = (mine: unknown, theirs: unknown): unknown =>
    side === 'left' ? joiner(mine, theirs) : joiner(theirs, mine);
  return (context) => {
    const mine = context.store(config.thisStore);
    const theirs = context.store(config.otherStore);
    // Records expiring together go in (key id, timestamp) order — the first run and a restore
    // alike, whatever order the records arrived or the store iterates in.
    const expiring = new CloseQueue<Expiring>(compareExpiring);
    return {
      process: (record) => {
        if (record.key === null || record.value === null) {
          context.countDrop('null-key');
          return;
        }
        const t = record.timestampMs;
        if (t + windows.withinMs + windows.graceMs < context.streamTimeMs()) {
          context.countDrop('late');
          return;
        }
        const id = keyIdOf(config.keySerde, record.key);
        const own: Buffered = { timestampMs: t, value: record.value, matched: false };
        const partners = (theirs.get(id)?.value ?? []) as Buffered[];
        let touched = false;
        for (const partner of partners) {
          if (Math.abs(partner.timestampMs - t) > windows.withinMs) continue;
          own.matched = true;
          touched = touched || !partner.matched;
          partner.matched = true;
          const timestampMs = Math.max(t, partner.timestampMs);
          context.forward({ key: record.key, value: pair(own.value, partner.value), timestampMs });
        }
        if (touched) theirs.put(id, record.key, partners);
        const list = (mine.get(id)?.value ?? []) as Buffered[];
        mine.put(id, record.key, [...list, own]);
        const closeAt = t + 2 * windows.withinMs + windows.graceMs + 1;
        expiring.add(closeAt, { key: record.key, id, timestampMs: t });
      },
      onRestored: () => {
        for (const [id, entry] of mine.entries()) {
          for (const r of entry.value as Buffered[]) {
            const closeAt = r.timestampMs + 2 * windows.withinMs + windows.graceMs + 1;
            expiring.add(closeAt, { key: entry.key, id, timestampMs: r.timestampMs });
          }
        }
      },
      onStreamTime: (streamTimeMs) => {
        for (const due of expiring.popDue(streamTimeMs)) {
          const list = (mine.get(due.id)?.value ?? []) as Buffered[];
          const index = list.findIndex((r) => r.timestampMs === due.timestampMs);
          if (index < 0) continue;
          const [gone] = list.splice(index, 1) as [Buffered];
          if (list.length === 0) mine.delete(due.id);
          else mine.put(due.id, due.key, list);
          if (keepsUnmatched && !gone.matched) {
            const value = pair(gone.value, null);
            context.forward({ key: due.key, value, timestampMs: gone.timestampMs });
          }
        }
      },
    };
  };
}

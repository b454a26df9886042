// Windowed aggregations on event time. Each window's aggregate is one store entry, its id the
// key's bytes followed by the window's start and end; the entry's key is the Windowed key. A
// window whose close time (isWindowClosed) has passed takes no more records: a record none
// of whose windows is open is dropped and counted as late (once per record, even when it
// misses several hopping windows). When a window closes it is emitted (emit `final`) and
// deleted from the store, whose changelog then carries a tombstone.
import { assert } from '../common/index.ts';
import { keyIdOf, type Aggregator } from './aggregate.ts';
import { CloseQueue } from './close-queue.ts';
import type { Change, ProcessorContext, ProcessorFactory, StreamRecord } from './processor.ts';
import type { Serde } from './serdes.ts';
import type { KeyValueStore } from './state-store.ts';
import { bytesToId, idToBytes, windowSuffix } from './store-key.ts';
import {
  isWindowClosed,
  timeWindowsFor,
  type Window,
  type WindowDefinition,
  type Windowed,
} from './windows.ts';

export interface WindowAggregateConfig {
  readonly store: string;
  readonly keySerde: Serde<unknown>;
  readonly definition: WindowDefinition;
  readonly add: Aggregator;
  /** Session windows only: combines two sessions' aggregates when a record bridges them. */
  readonly merge: ((key: unknown, a: unknown, b: unknown) => unknown) | null;
  /** Sliding windows only: the store of each key's raw records (see slidingRecordsSerde). */
  readonly recordsStore?: string;
}

interface RawRecord {
  readonly t: number;
  readonly value: unknown;
}

/** A sliding window's raw records of one key, as JSON [[timestampMs, base64 value], …]. */
export function slidingRecordsSerde(valueSerde: Serde<unknown>): Serde<unknown> {
  return {
    serialize: (list) =>
      new TextEncoder().encode(
        JSON.stringify(
          (list as RawRecord[]).map((r) => [r.t, btoa(bytesToId(valueSerde.serialize(r.value)))]),
        ),
      ),
    deserialize: (bytes) =>
      (JSON.parse(new TextDecoder().decode(bytes)) as [number, string][]).map(([t, value]) => ({
        t,
        value: valueSerde.deserialize(idToBytes(atob(value))),
      })),
  };
}

/** The first stream time at which `window` is closed. */
export function closeAtMs(definition: WindowDefinition, window: Window): number {
  switch (definition.kind) {
    case 'time':
      return window.endMs + definition.graceMs;
    case 'sliding':
      return window.endMs + definition.graceMs + 1;
    case 'session':
      return window.endMs + definition.gapMs + definition.graceMs + 1;
  }
}

/** Shared by the three kinds: the store, the close queue, and emitting changes. */
class WindowState {
  readonly kv: KeyValueStore;
  /** Windows closing together close in id order, so a restore closes them in the same order. */
  readonly closing = new CloseQueue<string>((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  readonly #context: ProcessorContext;
  readonly #config: WindowAggregateConfig;

  constructor(context: ProcessorContext, config: WindowAggregateConfig) {
    this.kv = context.store(config.store);
    this.#context = context;
    this.#config = config;
  }

  idOf(key: unknown, window: Window): string {
    return keyIdOf(this.#config.keySerde, key) + windowSuffix(window.startMs, window.endMs);
  }

  /** Stores a window's new aggregate, and emits it in `update` mode. */
  put(key: unknown, window: Window, value: unknown, timestampMs: number): void {
    const id = this.idOf(key, window);
    const old = this.kv.get(id);
    const windowed: Windowed<unknown> = { key, window };
    this.kv.put(id, windowed, value);
    if (old === undefined) this.closing.add(closeAtMs(this.#config.definition, window), id);
    if (this.#config.definition.emit === 'update') {
      this.#emit(windowed, { newValue: value, oldValue: old?.value ?? null }, timestampMs);
    }
  }

  /** Deletes a window merged into another (sessions); `update` mode emits its tombstone. */
  remove(key: unknown, window: Window, timestampMs: number): void {
    const id = this.idOf(key, window);
    const old = this.kv.get(id);
    if (old === undefined) return;
    this.kv.delete(id);
    if (this.#config.definition.emit === 'update') {
      this.#emit({ key, window }, { newValue: null, oldValue: old.value }, timestampMs);
    }
  }

  /** After a restore: every stored window waits for its close time again. */
  rebuildClosing(): void {
    for (const [id, entry] of this.kv.entries()) {
      const window = (entry.key as Windowed<unknown>).window;
      this.closing.add(closeAtMs(this.#config.definition, window), id);
    }
  }

  /** Emits (`final`) and deletes every window closed at this stream time, oldest first. */
  closeDue(streamTimeMs: number): void {
    for (const id of this.closing.popDue(streamTimeMs)) {
      const entry = this.kv.get(id);
      if (entry === undefined) continue; // Merged into a larger session meanwhile.
      const windowed = entry.key as Windowed<unknown>;
      if (closeAtMs(this.#config.definition, windowed.window) > streamTimeMs) continue;
      this.kv.delete(id);
      if (this.#config.definition.emit === 'final') {
        const change: Change = { newValue: entry.value, oldValue: null };
        this.#emit(windowed, change, finalTimestampMs(this.#config.definition, windowed.window));
      }
    }
  }

  #emit(key: Windowed<unknown>, change: Change, timestampMs: number): void {
    this.#context.forward({ key, value: change, timestampMs });
  }
}

function finalTimestampMs(definition: WindowDefinition, window: Window): number {
  return definition.kind === 'time' ? window.endMs - 1 : window.endMs;
}

export function windowAggregateProcessor(config: WindowAggregateConfig): ProcessorFactory {
  return (context) => {
    const state = new WindowState(context, config);
    const raw = config.definition.kind === 'sliding' ? new SlidingRecords(context, config) : null;
    const onRecord = recordHandler(config, context, state, raw);
    return {
      process: (record) => {
        if (record.key === null) {
          context.countDrop('null-key');
          return;
        }
        if (!onRecord(record)) context.countDrop('late');
      },
      onStreamTime: (streamTimeMs) => {
        state.closeDue(streamTimeMs);
        raw?.expire(streamTimeMs);
      },
      onRestored: () => {
        state.rebuildClosing();
        raw?.rebuildExpiry();
      },
    };
  };
}

/**
 * Sliding windows' raw records, per key, in their own store (`<name>-records`), so a restore
 * brings them back with the windows. A key's records leave once no open or future window can
 * hold them: t < stream time − grace − size; the key's entry goes when none is left.
 */
class SlidingRecords {
  readonly kv: KeyValueStore;
  /** Key ids whose oldest record expires at a stream time; ties in id order (deterministic). */
  readonly #expiry = new CloseQueue<string>((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  readonly #sizeMs: number;
  readonly #graceMs: number;

  constructor(context: ProcessorContext, config: WindowAggregateConfig) {
    assert(config.recordsStore !== undefined, 'sliding windows need a records store');
    assert(config.definition.kind === 'sliding', 'sliding windows only');
    this.kv = context.store(config.recordsStore);
    this.#sizeMs = config.definition.sizeMs;
    this.#graceMs = config.definition.graceMs;
  }

  /** The key's records still inside the horizon, with this one (t, value) appended. */
  add(keyId: string, key: unknown, t: number, value: unknown, streamTimeMs: number): RawRecord[] {
    const horizon = streamTimeMs - this.#graceMs - this.#sizeMs;
    const old = (this.kv.get(keyId)?.value ?? []) as RawRecord[];
    const records = [...old.filter((r) => r.t >= horizon), { t, value }];
    this.kv.put(keyId, key, records);
    this.#expiry.add(this.#expireAtMs(t), keyId);
    return records;
  }

  expire(streamTimeMs: number): void {
    const horizon = streamTimeMs - this.#graceMs - this.#sizeMs;
    for (const keyId of this.#expiry.popDue(streamTimeMs)) {
      const entry = this.kv.get(keyId);
      if (entry === undefined) continue;
      const records = (entry.value as RawRecord[]).filter((r) => r.t >= horizon);
      if (records.length === 0) this.kv.delete(keyId);
      else if (records.length < (entry.value as RawRecord[]).length) {
        this.kv.put(keyId, entry.key, records);
      }
    }
  }

  rebuildExpiry(): void {
    for (const [keyId, entry] of this.kv.entries()) {
      for (const r of entry.value as RawRecord[]) this.#expiry.add(this.#expireAtMs(r.t), keyId);
    }
  }

  /** The first stream time at which a record of time t is below the horizon. */
  #expireAtMs(t: number): number {
    return t + this.#graceMs + this.#sizeMs + 1;
  }
}

/** The per-kind update; returns false when the record was late for every window. */
function recordHandler(
  config: WindowAggregateConfig,
  context: ProcessorContext,
  state: WindowState,
  raw: SlidingRecords | null,
): (record: StreamRecord) => boolean {
  const definition = config.definition;
  switch (definition.kind) {
    case 'time':
      return (record) => {
        let used = false;
        const windows = timeWindowsFor(definition.sizeMs, definition.advanceMs, record.timestampMs);
        for (const window of windows) {
          if (isWindowClosed(definition, window, context.streamTimeMs())) continue;
          const old = state.kv.get(state.idOf(record.key, window))?.value;
          const value = config.add(record.key, record.value, old);
          state.put(record.key, window, value, record.timestampMs);
          used = true;
        }
        return used;
      };
    case 'session':
      return sessionHandler(config, context, state, definition.gapMs);
    case 'sliding':
      assert(raw !== null, 'sliding windows keep raw records');
      return slidingHandler(config, context, state, raw, definition.sizeMs);
  }
}

/** Session windows: a record joins, and may bridge, every session of its key within the gap. */
function sessionHandler(
  config: WindowAggregateConfig,
  context: ProcessorContext,
  state: WindowState,
  gapMs: number,
): (record: StreamRecord) => boolean {
  const merge = config.merge;
  assert(merge !== null, 'session windows need a merger');
  return (record) => {
    const t = record.timestampMs;
    const prefix = keyIdOf(config.keySerde, record.key);
    const near: { window: Window; value: unknown }[] = [];
    for (const id of state.kv.ids()) {
      if (!id.startsWith(prefix) || id.length !== prefix.length + 16) continue;
      const entry = state.kv.get(id);
      if (entry === undefined) continue;
      const window = (entry.key as Windowed<unknown>).window;
      if (window.endMs >= t - gapMs && window.startMs <= t + gapMs) {
        near.push({ window, value: entry.value });
      }
    }
    const merged: Window = {
      startMs: Math.min(t, ...near.map((s) => s.window.startMs)),
      endMs: Math.max(t, ...near.map((s) => s.window.endMs)),
    };
    if (isWindowClosed(config.definition, merged, context.streamTimeMs())) return false;
    near.sort((a, b) => a.window.startMs - b.window.startMs);
    let aggregate: unknown = undefined;
    for (const session of near) {
      aggregate =
        aggregate === undefined ? session.value : merge(record.key, aggregate, session.value);
      state.remove(record.key, session.window, t);
    }
    state.put(record.key, merged, config.add(record.key, record.value, aggregate), t);
    return true;
  };
}

/**
 * Sliding windows: a window [t − size, t] exists for each record timestamp t and aggregates
 * every record of the key in it, in arrival order. The key's raw records are kept in their own
 * store (SlidingRecords) until no open or future window can hold them.
 */
function slidingHandler(
  config: WindowAggregateConfig,
  context: ProcessorContext,
  state: WindowState,
  raw: SlidingRecords,
  sizeMs: number,
): (record: StreamRecord) => boolean {
  const definition = config.definition;
  return (record) => {
    const t = record.timestampMs;
    const streamTimeMs = context.streamTimeMs();
    const own: Window = { startMs: t - sizeMs, endMs: t };
    if (isWindowClosed(definition, own, streamTimeMs)) return false;
    const keyId = keyIdOf(config.keySerde, record.key);
    const records = raw.add(keyId, record.key, t, record.value, streamTimeMs);
    const ends = [...new Set(records.map((r) => r.t))].filter((e) => e >= t && e <= t + sizeMs);
    for (const end of ends.sort((a, b) => a - b)) {
      const window: Window = { startMs: end - sizeMs, endMs: end };
      if (isWindowClosed(definition, window, streamTimeMs)) continue;
      const old = state.kv.get(state.idOf(record.key, window));
      if (old !== undefined) {
        state.put(record.key, window, config.add(record.key, record.value, old.value), t);
      } else if (end === t) {
        let aggregate: unknown = undefined;
        for (const r of records) {
          if (r.t >= own.startMs && r.t <= t)
            aggregate = config.add(record.key, r.value, aggregate);
        }
        state.put(record.key, window, aggregate, t);
      }
    }
    return true;
  };
}

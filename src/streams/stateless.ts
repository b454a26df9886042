// Processors that keep no state: sources pass decoded records on, sinks encode them, and the
// record-at-a-time transformations of the DSL. A table's records carry Change values, so the
// table variants of filter and mapValues transform both the new and the old value.
import { assert } from '../common/index.ts';
import type { Change, ProcessorFactory, StreamRecord } from './processor.ts';
import type { Serdes } from './serdes.ts';

export const passThrough: ProcessorFactory = (context) => ({
  process: (record) => context.forward(record),
});

/** Each input record becomes zero or more records (filter, map, flatMap, selectKey, …). */
export function flatMapProcessor(
  fn: (record: StreamRecord) => Iterable<StreamRecord>,
): ProcessorFactory {
  return (context) => ({
    process: (record) => {
      for (const out of fn(record)) context.forward(out);
    },
  });
}

export function sinkProcessor(topic: string, serdes: Serdes<unknown, unknown>): ProcessorFactory {
  return (context) => ({
    process: (record) => {
      const key = record.key === null ? null : serdes.key.serialize(record.key);
      const value = record.value === null ? null : serdes.value.serialize(record.value);
      context.send(topic, key, value, record.timestampMs);
    },
  });
}

/** Table changes → the stream of new values (null: the key was deleted). */
export const tableToStream: ProcessorFactory = (context) => ({
  process: (record) => {
    const change = record.value as Change;
    context.forward({ ...record, value: change.newValue });
  },
});

/** A table view: maps both sides of each change; a change that maps to (null, null) vanishes. */
export function tableMapProcessor(fn: (key: unknown, value: unknown) => unknown): ProcessorFactory {
  return (context) => ({
    process: (record) => {
      const change = record.value as Change;
      assert(typeof change === 'object' && change !== null, 'a table record carries a Change');
      const apply = (value: unknown): unknown => (value === null ? null : fn(record.key, value));
      const next = { newValue: apply(change.newValue), oldValue: apply(change.oldValue) };
      if (next.newValue === null && next.oldValue === null) return;
      context.forward({ ...record, value: next });
    },
  });
}

// Unwindowed state: a table materialized from its topic, and the grouped aggregations count,
// reduce and aggregate. Each keeps one store entry per key (its id is the key's bytes) and
// forwards every change as a Change, so downstream tables and toStream see each update.
import type { Change, ProcessorFactory, TableGetterFactory } from './processor.ts';
import { stringSerde, type Serde } from './serdes.ts';
import { bytesToId } from './store-key.ts';

/** Folds one value into an aggregate; `aggregate` is undefined for the key's first value. */
export type Aggregator = (key: unknown, value: unknown, aggregate: unknown) => unknown;

export function keyIdOf(keySerde: Serde<unknown>, key: unknown): string {
  // An ASCII string's UTF-8 bytes are its char codes: the id is the string itself.
  if (keySerde === stringSerde && typeof key === 'string' && !nonAscii.test(key)) return key;
  return bytesToId(keySerde.serialize(key));
}

const nonAscii = /[^\p{ASCII}]/u;

/** table(topic): the latest value per key; a null value deletes the key. */
export function tableSourceProcessor(store: string, keySerde: Serde<unknown>): ProcessorFactory {
  return (context) => {
    const kv = context.store(store);
    return {
      process: (record) => {
        if (record.key === null) {
          context.countDrop('null-key');
          return;
        }
        const id = keyIdOf(keySerde, record.key);
        const old = kv.get(id)?.value ?? null;
        if (record.value === null) kv.delete(id);
        else kv.put(id, record.key, record.value);
        if (old === null && record.value === null) return;
        const change: Change = { newValue: record.value, oldValue: old };
        context.forward({ ...record, value: change });
      },
    };
  };
}

/** The getter of a materialized table: its store's current value. */
export function storeGetter(store: string, keySerde: Serde<unknown>): TableGetterFactory {
  return (context) => {
    const kv = context.store(store);
    return (key) => (key === null ? null : (kv.get(keyIdOf(keySerde, key))?.value ?? null));
  };
}

/** groupBy(…).count/reduce/aggregate: folds each non-null-keyed record into its key's entry. */
export function aggregateProcessor(
  store: string,
  keySerde: Serde<unknown>,
  add: Aggregator,
): ProcessorFactory {
  return (context) => {
    const kv = context.store(store);
    return {
      process: (record) => {
        if (record.key === null) {
          context.countDrop('null-key');
          return;
        }
        const id = keyIdOf(keySerde, record.key);
        const old = kv.get(id)?.value;
        const next = add(record.key, record.value, old);
        kv.put(id, record.key, next);
        const change: Change = { newValue: next, oldValue: old ?? null };
        context.forward({ ...record, value: change });
      },
    };
  };
}

// The status records a Rill Streams instance writes to its application's compacted
// `<app>-status` topic (one per instance: starting/restoring/running/stopped, and per task and
// store how much of the changelog a restore has read), as the console parses and keeps them:
// the latest per instance, at most consoleStreamsInstancesMax instances per application.

/** Instances remembered per application; statuses of further instances are counted, not kept. */
export const consoleStreamsInstancesMax = 64;
/** Tasks and stores kept of one status record (a record's own bound; the runtime's are lower). */
const statusTasksMax = 256;
const statusStoresMax = 32;
export const statusSuffix = '-status';

export interface StoreRestoreView {
  readonly store: string;
  readonly restored: number;
  readonly total: number;
}

export interface TaskStatusView {
  readonly task: string;
  readonly state: 'restoring' | 'running';
  readonly stores: readonly StoreRestoreView[];
}

export interface InstanceStatusView {
  readonly instance: string;
  readonly state: 'starting' | 'restoring' | 'running' | 'stopped';
  readonly tasks: readonly TaskStatusView[];
  /** When the instance wrote it (the record's timestamp). */
  readonly writtenMs: number;
}

/** How far one application's status topic has been read, and each instance's latest status. */
export interface StatusCursor {
  readonly nextOffset: number;
  readonly highWatermark: number | null;
  readonly instances: ReadonlyMap<string, InstanceStatusView>;
  readonly instancesLeftOut: number;
}

export const emptyStatusCursor: StatusCursor = {
  nextOffset: 0,
  highWatermark: null,
  instances: new Map(),
  instancesLeftOut: 0,
};

const isCount = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const instanceStates = ['starting', 'restoring', 'running', 'stopped'] as const;
type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null;

function storeOf(value: unknown): StoreRestoreView | null {
  if (!isObject(value) || typeof value['store'] !== 'string') return null;
  const { restored, total } = value;
  if (!isCount(restored) || !isCount(total)) return null;
  return { store: value['store'].slice(0, 200), restored, total };
}

function taskOf(value: unknown): TaskStatusView | null {
  if (!isObject(value) || typeof value['task'] !== 'string') return null;
  const state = value['state'];
  if (state !== 'restoring' && state !== 'running') return null;
  const raw = Array.isArray(value['stores']) ? (value['stores'] as unknown[]) : [];
  const stores = raw.slice(0, statusStoresMax).map(storeOf);
  return {
    task: value['task'].slice(0, 500),
    state,
    stores: stores.filter((s): s is StoreRestoreView => s !== null),
  };
}

/** A status record's value (JSON text); null when it is not one. */
export function parseStatus(value: string, writtenMs: number): InstanceStatusView | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  if (!isObject(parsed) || typeof parsed['instance'] !== 'string') return null;
  const state = instanceStates.find((s) => s === parsed['state']);
  if (state === undefined || !Array.isArray(parsed['tasks'])) return null;
  const tasks = (parsed['tasks'] as unknown[]).slice(0, statusTasksMax).map(taskOf);
  return {
    instance: parsed['instance'].slice(0, 200),
    state,
    tasks: tasks.filter((t): t is TaskStatusView => t !== null),
    writtenMs,
  };
}

interface FetchedRecord {
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string | null;
}

/** The cursor after the records of one fetch (a null value deletes its instance). */
export function applyStatuses(
  cursor: StatusCursor,
  answer: {
    readonly records: readonly FetchedRecord[];
    readonly nextOffset: number;
    readonly highWatermark: number;
  },
): StatusCursor {
  const instances = new Map(cursor.instances);
  let instancesLeftOut = cursor.instancesLeftOut;
  for (const record of answer.records) {
    if (record.key === null) continue;
    if (record.value === null) {
      instances.delete(record.key);
      continue;
    }
    const status = parseStatus(record.value, record.timestamp);
    if (status === null) continue;
    const known = instances.has(status.instance);
    if (!known && instances.size >= consoleStreamsInstancesMax) instancesLeftOut += 1;
    else instances.set(status.instance, status);
  }
  return {
    nextOffset: Math.max(cursor.nextOffset, answer.nextOffset),
    highWatermark: answer.highWatermark,
    instances,
    instancesLeftOut,
  };
}

// Which buffered record a task processes next, or why it waits: a pure function of the task's
// inputs, shared by the runtime and the test driver (one rule, one place).
//
// A task reads one partition of each of its input topics and processes records in timestamp
// order across them, so stream time (the largest timestamp processed) passes a record only
// after it was processed. That holds only if no input may still hold a record earlier than the
// one chosen: an input whose buffer is empty must be known to have nothing more to come.
// Each input therefore reports what may still come before its buffered records:
//   none     its position is at its end and nothing upstream can still write to it;
//   known    records exist that are not buffered yet (position < end, or an upstream task in
//            this process has records or sends in flight for it): always wait, the fetch or
//            the upstream task will deliver them;
//   unknown  the end is not known, or a writer of the input runs elsewhere: wait at most
//            taskIdleMsMax from when the wait began, then process anyway (Kafka's
//            max.task.idle.ms), counted as an enforced step.
// Ties between equal timestamps go to the input listed first (the subtopology's topic order).

export type InputPending = 'none' | 'known' | 'unknown';

export interface InputView {
  readonly topic: string;
  /** Timestamp of the input's earliest buffered record; null when nothing is buffered. */
  readonly headTimestampMs: number | null;
  readonly pending: InputPending;
}

export type NextRecord =
  | { readonly kind: 'idle' }
  | { readonly kind: 'process'; readonly topic: string; readonly enforced: boolean }
  | { readonly kind: 'wait'; readonly topic: string; readonly untilMs: number | null };

/**
 * `waitSinceMs`: when the task began waiting for an `unknown` input (null: it is not waiting).
 * A `wait` with `untilMs` null lasts until the input changes; otherwise until that time.
 */
export function nextRecord(
  inputs: readonly InputView[],
  waitSinceMs: number | null,
  nowMs: number,
  taskIdleMsMax: number,
): NextRecord {
  let best: InputView | null = null;
  for (const input of inputs) {
    if (input.headTimestampMs === null) continue;
    if (best === null || input.headTimestampMs < (best.headTimestampMs as number)) best = input;
  }
  if (best === null) return { kind: 'idle' };
  let enforced = false;
  for (const input of inputs) {
    if (input.headTimestampMs !== null || input.pending === 'none') continue;
    if (input.pending === 'known') return { kind: 'wait', topic: input.topic, untilMs: null };
    const untilMs = (waitSinceMs ?? nowMs) + taskIdleMsMax;
    if (nowMs < untilMs) return { kind: 'wait', topic: input.topic, untilMs };
    enforced = true;
  }
  return { kind: 'process', topic: best.topic, enforced };
}

// Window definitions on event time and the pure arithmetic over them. Time windows (tumbling,
// hopping) are [startMs, endMs) aligned to the epoch; sliding and session windows are
// [startMs, endMs] with both ends inclusive. Every definition names its grace and emit mode:
// there are no defaults, so a reader of the topology sees when results are final.
import { StreamsError } from './errors.ts';

/** `update`: every change of a window's result; `final`: once, when the window closes. */
export type EmitMode = 'update' | 'final';

export interface WindowOptions {
  readonly graceMs: number;
  readonly emit: EmitMode;
}

export type WindowDefinition =
  | ({ readonly kind: 'time'; readonly sizeMs: number; readonly advanceMs: number } & WindowOptions)
  | ({ readonly kind: 'sliding'; readonly sizeMs: number } & WindowOptions)
  | ({ readonly kind: 'session'; readonly gapMs: number } & WindowOptions);

export interface Window {
  readonly startMs: number;
  readonly endMs: number;
}

/** A key of a windowed table: the grouping key and its window. */
export interface Windowed<K> {
  readonly key: K;
  readonly window: Window;
}

/** A stream–stream join matches records whose timestamps differ by at most withinMs. */
export interface JoinWindows {
  readonly withinMs: number;
  readonly graceMs: number;
}

function checkMs(what: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new StreamsError('STREAMS_INVALID_WINDOW', `${what} must be an integer >= ${min}`, {
      details: { [what]: value },
    });
  }
}

function checkOptions(options: WindowOptions): void {
  checkMs('graceMs', options.graceMs, 0);
  if (options.emit !== 'update' && options.emit !== 'final') {
    throw new StreamsError('STREAMS_INVALID_WINDOW', 'emit must be "update" or "final"');
  }
}

export const TimeWindows = {
  /** Fixed-size, non-overlapping windows [k·size, (k+1)·size). */
  tumbling(sizeMs: number, options: WindowOptions): WindowDefinition {
    checkMs('sizeMs', sizeMs, 1);
    checkOptions(options);
    return { kind: 'time', sizeMs, advanceMs: sizeMs, ...options };
  },
  /** Windows of sizeMs starting every advanceMs (a record falls into size/advance of them). */
  hopping(sizeMs: number, advanceMs: number, options: WindowOptions): WindowDefinition {
    checkMs('sizeMs', sizeMs, 1);
    checkMs('advanceMs', advanceMs, 1);
    if (advanceMs > sizeMs) {
      throw new StreamsError('STREAMS_INVALID_WINDOW', 'advanceMs must not exceed sizeMs', {
        details: { sizeMs, advanceMs },
      });
    }
    checkOptions(options);
    return { kind: 'time', sizeMs, advanceMs, ...options };
  },
};

export const SlidingWindows = {
  /** A window [t − sizeMs, t] ends at each record's timestamp t and holds all records in it. */
  of(sizeMs: number, options: WindowOptions): WindowDefinition {
    checkMs('sizeMs', sizeMs, 0);
    checkOptions(options);
    return { kind: 'sliding', sizeMs, ...options };
  },
};

export const SessionWindows = {
  /** Records of a key closer than gapMs to each other share a session. */
  withGap(gapMs: number, options: WindowOptions): WindowDefinition {
    checkMs('gapMs', gapMs, 1);
    checkOptions(options);
    return { kind: 'session', gapMs, ...options };
  },
};

export function joinWindows(withinMs: number, options: { graceMs: number }): JoinWindows {
  checkMs('withinMs', withinMs, 0);
  checkMs('graceMs', options.graceMs, 0);
  return { withinMs, graceMs: options.graceMs };
}

/** The time windows [start, start + size) that hold `timestampMs` (Kafka's windowsFor). */
export function timeWindowsFor(sizeMs: number, advanceMs: number, timestampMs: number): Window[] {
  const first = Math.floor(Math.max(0, timestampMs - sizeMs + advanceMs) / advanceMs) * advanceMs;
  const windows: Window[] = [];
  for (let start = first; start <= timestampMs; start += advanceMs) {
    windows.push({ startMs: start, endMs: start + sizeMs });
  }
  return windows;
}

/**
 * Whether a window no longer accepts records at this stream time. Time windows close when
 * endMs (exclusive) + grace ≤ stream time; inclusive-end windows one ms later; sessions also
 * wait out the gap, since a record inside it would still extend the session.
 */
export function isWindowClosed(
  definition: WindowDefinition,
  window: Window,
  streamTimeMs: number,
): boolean {
  switch (definition.kind) {
    case 'time':
      return window.endMs + definition.graceMs <= streamTimeMs;
    case 'sliding':
      return window.endMs + definition.graceMs < streamTimeMs;
    case 'session':
      return window.endMs + definition.gapMs + definition.graceMs < streamTimeMs;
  }
}

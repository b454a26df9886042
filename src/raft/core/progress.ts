// The leader's view of one follower's log (etcd's Progress): `match` is the highest index known
// to be durable on the follower, `next` the next index to send. Invariant: match < next. The
// flow state is probe (one append in flight until answered), replicate (optimistic, at most
// inflightAppendsMax appends in flight) or snapshot (waiting for an InstallSnapshot answer).
import { assert } from '../../common/index.ts';
import type { Index } from '../types.ts';

export type ProgressFlow =
  | { readonly kind: 'probe'; paused: boolean }
  | { readonly kind: 'replicate'; readonly inflight: Index[] }
  | { readonly kind: 'snapshot'; readonly snapshotIndex: Index; waitedTicks: number };

export class Progress {
  match: Index = 0;
  next: Index;
  flow: ProgressFlow = { kind: 'probe', paused: false };
  /** Heard from within the current check-quorum window (§6.2 of the thesis). */
  recentActive = false;
  /** The highest ReadIndex round this follower acknowledged in the current term. */
  readRoundAcked = 0;
  /** Ticks since match last moved: appends in flight that long are presumed lost. */
  stalledTicks = 0;

  constructor(next: Index) {
    assert(next >= 1, 'next index must be positive');
    this.next = next;
  }

  becomeProbe(): void {
    this.flow = { kind: 'probe', paused: false };
    this.next = Math.max(this.next, this.match + 1);
  }

  becomeReplicate(): void {
    this.flow = { kind: 'replicate', inflight: [] };
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.flow = { kind: 'snapshot', snapshotIndex, waitedTicks: 0 };
  }

  /** Records an acknowledged index; returns true when match moved forward. */
  maybeUpdate(index: Index): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.stalledTicks = 0;
    this.next = Math.max(this.next, index + 1);
    if (this.flow.kind === 'replicate') {
      const inflight = this.flow.inflight;
      while (inflight.length > 0 && (inflight[0] ?? 0) <= index) inflight.shift();
    }
    return true;
  }

  /** True when no more appends may be sent now. */
  isPaused(inflightAppendsMax: number): boolean {
    switch (this.flow.kind) {
      case 'probe':
        return this.flow.paused;
      case 'replicate':
        return this.flow.inflight.length >= inflightAppendsMax;
      case 'snapshot':
        return true;
    }
  }

  checkInvariants(lastIndex: Index): void {
    assert(this.match < this.next, `progress match ${this.match} not below next ${this.next}`);
    assert(this.next <= lastIndex + 1, `progress next ${this.next} beyond ${lastIndex + 1}`);
  }
}

// The simulated state machine: a hash chain over applied commands, so two replicas agree on the
// whole applied prefix iff their (appliedIndex, hash) agree. The snapshot image is that pair.
import type { Entry } from '../../../src/raft/index.ts';

export class HashStateMachine {
  appliedIndex = 0;
  hash = 0;

  apply(entry: Entry): void {
    this.appliedIndex = entry.index;
    let hash = this.hash ^ entry.term;
    for (const byte of entry.data) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
    this.hash = Math.imul(hash ^ entry.index, 2246822519) >>> 0;
  }

  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ index: this.appliedIndex, hash: this.hash }));
  }

  restore(data: Uint8Array): void {
    const image = JSON.parse(new TextDecoder().decode(data)) as { index: number; hash: number };
    this.appliedIndex = image.index;
    this.hash = image.hash;
  }
}

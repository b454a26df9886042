// The metadata log of a one-voter cluster, on `level`, until Raft is wired in: every proposal is
// written with a synced batch, then applied; on start the latest snapshot is restored and the
// entries after it replayed. Keys: `entry:<index, 16 digits>` → command JSON, and `snapshot` →
// {index, data: base64 of StateMachine.snapshot()}. Every `snapshotEveryEntries` entries a
// snapshot replaces the entries it covers, in the same synced batch.
import { Level } from 'level';
import { assert } from '../common/index.ts';
import type { MetadataLog, MetadataStatus, StateMachine } from '../raft/index.ts';
import { BrokerError } from './errors.ts';

export interface LevelMetadataLogConfig {
  readonly nodeId: number;
  readonly directory: string;
  /** Proposals waiting for the disk; past it propose() rejects with BROKER_BUSY. */
  readonly pendingProposalsMax: number;
  readonly snapshotEveryEntries: number;
}

interface Pending {
  readonly command: unknown;
  readonly resolve: (value: { index: number; result: unknown }) => void;
  readonly reject: (error: unknown) => void;
}

const entryKey = (index: number): string => `entry:${String(index).padStart(16, '0')}`;
const term = 1; // One voter, never an election: the term stays 1.

export class LevelMetadataLog<Command> implements MetadataLog<Command> {
  readonly #config: LevelMetadataLogConfig;
  readonly #machine: StateMachine<Command>;
  readonly #db: Level<string, string>;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #lastIndex = 0;
  #snapshotIndex = 0;
  /** Proposals not yet written; written as one synced batch (group commit). */
  #queue: Pending[] = [];
  #writing: Promise<void> | null = null;
  readonly #leaderListeners: ((leaderId: number | null, term: number) => void)[] = [];

  constructor(config: LevelMetadataLogConfig, machine: StateMachine<Command>) {
    assert(config.pendingProposalsMax > 0, 'pendingProposalsMax must be positive');
    assert(config.snapshotEveryEntries > 0, 'snapshotEveryEntries must be positive');
    this.#config = config;
    this.#machine = machine;
    this.#db = new Level<string, string>(config.directory, { valueEncoding: 'utf8' });
  }

  async start(): Promise<void> {
    assert(this.#state === 'new', 'start() called twice');
    await this.#db.open();
    const snapshot = await this.#db.get('snapshot');
    if (snapshot !== undefined) {
      const { index, data } = JSON.parse(snapshot) as { index: number; data: string };
      this.#machine.restore(Buffer.from(data, 'base64'));
      this.#snapshotIndex = index;
      this.#lastIndex = index;
    }
    for await (const [key, value] of this.#db.iterator({
      gt: entryKey(this.#lastIndex),
      lt: 'entry;',
    })) {
      const index = Number(key.slice('entry:'.length));
      assert(index === this.#lastIndex + 1, `metadata log gap before ${key}`);
      this.#machine.apply(JSON.parse(value) as Command, index);
      this.#lastIndex = index;
    }
    this.#state = 'running';
    for (const listener of this.#leaderListeners) listener(this.#config.nodeId, term);
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    await this.#writing;
    for (const pending of this.#queue) pending.reject(stoppedError());
    this.#queue = [];
    await this.#db.close();
  }

  propose(command: Command): Promise<{ index: number; result: unknown }> {
    if (this.#state !== 'running') return Promise.reject(stoppedError());
    if (this.#queue.length >= this.#config.pendingProposalsMax) {
      return Promise.reject(
        new BrokerError('BROKER_BUSY', 'too many metadata proposals waiting for the disk'),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ command, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#state === 'running') {
      const batch = this.#queue;
      this.#queue = [];
      const first = this.#lastIndex + 1;
      const operations = batch.map((pending, i) => ({
        type: 'put' as const,
        key: entryKey(first + i),
        value: JSON.stringify(pending.command),
      }));
      try {
        await this.#db.batch(operations, { sync: true });
      } catch (error) {
        // Nothing was applied: the proposers learn the write failed and may retry.
        for (const pending of batch) pending.reject(storageError(error));
        continue;
      }
      batch.forEach((pending, i) => {
        const index = first + i;
        this.#lastIndex = index;
        pending.resolve({ index, result: this.#machine.apply(pending.command as Command, index) });
      });
      if (this.#lastIndex - this.#snapshotIndex >= this.#config.snapshotEveryEntries) {
        await this.#writeSnapshot();
      }
    }
    this.#writing = null;
  }

  async #writeSnapshot(): Promise<void> {
    const index = this.#lastIndex;
    const data = Buffer.from(this.#machine.snapshot()).toString('base64');
    await this.#db.batch(
      [{ type: 'put', key: 'snapshot', value: JSON.stringify({ index, data }) }],
      { sync: true },
    );
    // A crash before this clear leaves covered entries behind; start() skips them.
    await this.#db.clear({ gt: entryKey(0), lte: entryKey(index) });
    this.#snapshotIndex = index;
  }

  /** Every write is applied before propose() resolves, so a barrier only waits for the queue. */
  async barrier(): Promise<void> {
    if (this.#state !== 'running') throw stoppedError();
    await this.#writing;
  }

  status(): MetadataStatus {
    return {
      nodeId: this.#config.nodeId,
      role: 'leader',
      term,
      leaderId: this.#state === 'running' ? this.#config.nodeId : null,
      commitIndex: this.#lastIndex,
      appliedIndex: this.#lastIndex,
      voters: [this.#config.nodeId],
    };
  }

  onLeaderChange(listener: (leaderId: number | null, term: number) => void): void {
    this.#leaderListeners.push(listener);
    if (this.#state === 'running') listener(this.#config.nodeId, term);
  }
}

function stoppedError(): BrokerError {
  return new BrokerError('BROKER_NOT_READY', 'the metadata log is not running');
}

function storageError(cause: unknown): BrokerError {
  return new BrokerError('KAFKA_STORAGE_ERROR', 'the metadata log could not write', { cause });
}

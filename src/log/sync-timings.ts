// The fsync durations of a node's partition logs, handed to one reader (the server's Prometheus
// histogram, rill_log_flush_duration_seconds). Logs open before the server exists, so they
// report here and the server subscribes when it is built; until then durations are dropped.
export class SyncTimings {
  #reader: ((elapsedSeconds: number) => void) | null = null;

  /** What a partition log calls after each fsync (PartitionLogDeps.onSync). */
  readonly observe = (elapsedSeconds: number): void => {
    this.#reader?.(elapsedSeconds);
  };

  subscribe(reader: (elapsedSeconds: number) => void): void {
    this.#reader = reader;
  }
}

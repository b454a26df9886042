// The structured logger the broker's parts write to (pino's shape, narrowed to what they use).
// Its own module so that the broker and its parts (local replicas, the replica fetcher) do not
// import each other.

export interface BrokerLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

// Constants of the binary record wire shared by the HTTP/2 server and the client. A binary
// produce body and a binary fetch body are both a sequence of whole RecordBatch v2 (see
// docs/format.md); the headers below carry what a JSON fetch response would put in its body.

/** Content type of a body made of record batches. */
export const batchContentType = 'application/vnd.rill.batch';

/** Response headers of a binary fetch (all decimal integers). */
export const fetchHeaders = {
  highWatermark: 'rill-high-watermark',
  logStartOffset: 'rill-log-start-offset',
  leaderEpoch: 'rill-leader-epoch',
  nextOffset: 'rill-next-offset',
} as const;

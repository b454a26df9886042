// A child process for the kill -9 test: opens the partition log in argv[2] with the flush policy
// in argv[3] (always | never), then appends one-record batches ("value-<offset>") from 8
// concurrent appenders forever, printing "acked <lastOffset>" after each acknowledgement.
import { PartitionLog, encodeBatch } from '../../../src/log/index.ts';
import { realLogClock } from '../real-clock.ts';
import { killLogConfig } from './kill-log-config.ts';

const [dir, flushKind] = process.argv.slice(2);
if (dir === undefined || (flushKind !== 'always' && flushKind !== 'never')) {
  throw new Error('usage: append-child.ts DIR always|never');
}
const log = await PartitionLog.open(dir, killLogConfig({ kind: flushKind }), {
  clock: realLogClock,
});
console.log(`ready ${log.logEndOffset}`);
// Each batch carries its appender's sequence; the parent checks values by offset after reopen.
const appender = async (id: number): Promise<void> => {
  for (let i = 0; ; i += 1) {
    const value = Buffer.from(`a${id}-${i}-${'x'.repeat(200)}`);
    const records = [{ key: null, value, headers: [], timestampMs: Date.now() }];
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records,
      compression: 'none',
    });
    const { lastOffset } = await log.appendAsLeader(batch, 0);
    process.stdout.write(`acked ${lastOffset} a${id}-${i}\n`);
  }
};
await Promise.all(Array.from({ length: 8 }, (_, id) => appender(id)));

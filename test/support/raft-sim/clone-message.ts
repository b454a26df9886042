// A deep copy of a Raft message, so sender and receiver never share an object or a byte (the
// wire's behaviour). Same result as structuredClone, about 30× cheaper for append traffic, which
// is what keeps a 200-seed simulation inside the CI budget. Snapshots (rare) use structuredClone.
import type { Entry, RaftMessage } from '../../../src/raft/index.ts';

function cloneEntry(entry: Entry): Entry {
  return { term: entry.term, index: entry.index, kind: entry.kind, data: entry.data.slice() };
}

export function cloneMessage(message: RaftMessage): RaftMessage {
  switch (message.type) {
    case 'append-request':
      return { ...message, entries: message.entries.map(cloneEntry) };
    case 'snapshot-request':
      return structuredClone(message);
    default:
      return { ...message };
  }
}

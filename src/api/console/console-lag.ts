// Each group's lag in records as its coordinator sees it, read at every node sample (see
// console-history.ts) so a group's lag chart opens with the last minutes. A node samples only
// the groups it coordinates, through its own routes: their committed offsets
// (GET /v1/groups/{g}/offsets) against each topic's HWs (GET /v1/topics/{t}). Bounded by
// lagSampledGroupsMax groups and lagSampledPartitionsMax committed partitions per sample.
import type { GroupListingBody, OffsetFetchResponseBody, TopicDescriptionBody } from '../wire.ts';
import type { RillApp } from '../server/route-context.ts';
import type { GroupLagSample } from './console-history.ts';
import { getOwn } from './console-reader.ts';

/** Groups whose lag one node samples; the rest are counted in groupsLeftOut. */
export const lagSampledGroupsMax = 100;
/** Committed partitions (over all sampled groups) one sample reads; more groups are left out. */
export const lagSampledPartitionsMax = 2_000;

type CommittedOffsets = OffsetFetchResponseBody['offsets'];

/** A group's lag: the sum of HW − committed over partitions whose HW is known. */
export function lagOfOffsets(
  offsets: CommittedOffsets,
  highWatermarks: ReadonlyMap<string, number | null>,
): number | null {
  let sum: number | null = null;
  for (const o of offsets) {
    const hw = highWatermarks.get(`${o.topic}:${o.partition}`) ?? null;
    if (hw !== null) sum = (sum ?? 0) + Math.max(0, hw - o.offset);
  }
  return sum;
}

/** Which groups fit the bounds, in name order: groups first, then their partitions. */
export function pickSampled(
  committed: readonly (readonly [string, CommittedOffsets])[],
  groupsMax: number,
  partitionsMax: number,
): { picked: [string, CommittedOffsets][]; leftOut: number } {
  const picked: [string, CommittedOffsets][] = [];
  let partitions = 0;
  for (const [group, offsets] of committed) {
    if (picked.length >= groupsMax || partitions + offsets.length > partitionsMax) continue;
    partitions += offsets.length;
    picked.push([group, offsets]);
  }
  return { picked, leftOut: committed.length - picked.length };
}

/** Reads the lag of the groups this node coordinates. */
export async function sampleGroupLags(app: RillApp): Promise<GroupLagSample> {
  const listing = await getOwn<GroupListingBody>(app, '/v1/groups?local=true');
  const ids = (listing?.groups ?? []).map((g) => g.group).sort();
  // Committed offsets live in the coordinator's memory: reading more than the bound is cheap,
  // and each group's partition count must be known to apply the partitions bound.
  const read = ids.slice(0, lagSampledGroupsMax + 1);
  const answers = await Promise.all(
    read.map((id) => getOwn<OffsetFetchResponseBody>(app, `/v1/groups/${enc(id)}/offsets`)),
  );
  // A group whose offsets could not be read now (its coordinator loading) stays, unknown.
  const committed = read.map((id, i): [string, CommittedOffsets] => [
    id,
    answers[i]?.offsets ?? [],
  ]);
  const { picked, leftOut } = pickSampled(committed, lagSampledGroupsMax, lagSampledPartitionsMax);
  const topics = [...new Set(picked.flatMap(([, offsets]) => offsets.map((o) => o.topic)))];
  const described = await Promise.all(
    topics.map((t) => getOwn<TopicDescriptionBody>(app, `/v1/topics/${enc(t)}`)),
  );
  const highWatermarks = new Map<string, number | null>();
  for (const topic of described) {
    for (const p of topic?.partitions ?? []) {
      highWatermarks.set(`${topic?.name ?? ''}:${p.partition}`, p.highWatermark);
    }
  }
  const lags: Record<string, number | null> = {};
  for (const [group, offsets] of picked) lags[group] = lagOfOffsets(offsets, highWatermarks);
  return { lags, groupsLeftOut: leftOut + Math.max(0, ids.length - read.length) };
}

const enc = encodeURIComponent;

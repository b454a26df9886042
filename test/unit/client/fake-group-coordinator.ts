// A Transport twin for group-consumer unit tests: the consumer-group routes of docs/api.md
// (coordinator look-up, heartbeat, offset commit and fetch) served by a small in-memory
// coordinator on one broker, in front of a FakeCluster that serves metadata and fetches. Its
// assignor is round-robin over members in join order, and it keeps the contract's promise: a
// partition reaches a member only once no other member reports owning it (or has expired).
import type {
  Transport,
  TransportRequest,
  TransportResponse,
} from '../../../src/api/client/transport.ts';
import { FakeCluster } from './fake-cluster.ts';

interface Member {
  readonly memberId: string;
  readonly instanceId: string | null;
  epoch: number;
  topics: string[];
  owned: Set<number>;
  /** The partitions last answered (may own now). */
  assigned: number[];
  lastSeenMs: number;
}

export interface HeartbeatCall {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly owned: number[] | undefined;
  readonly url: string;
}

type GroupFailure = { readonly route: string; readonly status: number; readonly code: string };

export class FakeGroupCoordinator implements Transport {
  readonly cluster: FakeCluster;
  /** The broker id that coordinates the group. */
  coordinatorId = 2;
  /** What the look-up answers (a stale answer makes the client follow a 421). */
  lookupAnswerId = 2;
  sessionTimeoutMs = 10_000;
  heartbeatIntervalMs = 1_000;
  readonly members = new Map<string, Member>();
  readonly committed = new Map<number, number>();
  readonly heartbeats: HeartbeatCall[] = [];
  readonly commits: { memberId: string; offsets: Record<number, number> }[] = [];
  readonly routesSeen: string[] = [];
  /** Scripted failures, answered in order to the next request of their route. */
  readonly failures: GroupFailure[] = [];
  #nextId = 1;
  readonly #nowMs: () => number;
  readonly #partitions: number;

  constructor(cluster: FakeCluster, partitions: number, nowMs: () => number) {
    this.cluster = cluster;
    this.#partitions = partitions;
    this.#nowMs = nowMs;
  }

  /** Which member owns (reports owning) each partition. */
  owners(): Map<number, string[]> {
    const owners = new Map<number, string[]>();
    for (const member of this.members.values()) {
      for (const p of member.owned) owners.set(p, [...(owners.get(p) ?? []), member.memberId]);
    }
    return owners;
  }

  async request(url: string, request: TransportRequest): Promise<TransportResponse> {
    const match = /^\/v1\/groups\/([^/?]+)(\/[^?]*)?(\?.*)?$/.exec(request.path);
    if (match === null) return this.cluster.request(url, request);
    const route = `${request.method} ${match[2] ?? ''}`;
    this.routesSeen.push(`${route} ${url}`);
    const failureAt = this.failures.findIndex((f) => f.route === route);
    if (failureAt >= 0) {
      const [failure] = this.failures.splice(failureAt, 1);
      if (failure !== undefined) return json(failure.status, errorBody(failure.code));
    }
    if (route === 'GET /coordinator') {
      const id = this.lookupAnswerId;
      return json(200, { group: 'g', partition: 0, coordinator: { id, url: FakeCluster.url(id) } });
    }
    if (url !== FakeCluster.url(this.coordinatorId)) {
      const coordinator = { id: this.coordinatorId, url: FakeCluster.url(this.coordinatorId) };
      return json(421, { error: { code: 'NOT_COORDINATOR', message: 'elsewhere', coordinator } });
    }
    this.expire();
    const body = request.body === undefined ? {} : JSON.parse(request.body.toString());
    if (route === 'POST /heartbeat') return this.#heartbeat(url, body);
    if (route === 'POST /offsets') return this.#commit(body);
    if (route === 'GET /offsets') {
      const offsets = [...this.committed].map(([partition, offset]) => ({
        topic: this.cluster.topic,
        partition,
        offset,
        metadata: '',
      }));
      return json(200, { offsets });
    }
    return json(404, errorBody('NOT_FOUND'));
  }

  async close(): Promise<void> {}

  /** Removes members silent for sessionTimeoutMs. */
  expire(): void {
    for (const [id, member] of this.members) {
      if (this.#nowMs() - member.lastSeenMs >= this.sessionTimeoutMs) this.members.delete(id);
    }
  }

  #heartbeat(url: string, body: Record<string, unknown>): TransportResponse {
    const memberId = String(body['memberId']);
    const epoch = Number(body['memberEpoch']);
    const owned = body['ownedPartitions'] as { partitions: number[] }[] | undefined;
    this.heartbeats.push({
      memberId,
      memberEpoch: epoch,
      owned: owned?.flatMap((t) => t.partitions),
      url,
    });
    if (epoch < 0) {
      this.members.delete(memberId);
      return json(200, { memberId, memberEpoch: epoch });
    }
    let member = this.members.get(memberId);
    if (epoch === 0) {
      member = {
        memberId: `m${this.#nextId++}`,
        instanceId: typeof body['instanceId'] === 'string' ? body['instanceId'] : null,
        epoch: 1,
        topics: (body['subscribedTopics'] as string[] | undefined) ?? [],
        owned: new Set(),
        assigned: [],
        lastSeenMs: this.#nowMs(),
      };
      this.members.set(member.memberId, member);
    } else if (member === undefined) {
      return json(409, errorBody('UNKNOWN_MEMBER_ID'));
    } else if (epoch !== member.epoch && epoch !== member.epoch - 1) {
      return json(409, errorBody('FENCED_MEMBER_EPOCH'));
    }
    member.lastSeenMs = this.#nowMs();
    if (owned !== undefined) member.owned = new Set(owned.flatMap((t) => t.partitions));
    const assigned = this.#mayOwn(member);
    if (assigned.join() !== member.assigned.join()) {
      member.assigned = assigned;
      member.epoch += 1;
    }
    return json(200, {
      memberId: member.memberId,
      memberEpoch: member.epoch,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      assignment: [{ topic: this.cluster.topic, partitions: assigned }],
    });
  }

  /** The member's target (round-robin in join order) less what others still own. */
  #mayOwn(member: Member): number[] {
    const order = [...this.members.keys()];
    const index = order.indexOf(member.memberId);
    const mine: number[] = [];
    for (let p = 0; p < this.#partitions; p += 1) {
      if (p % order.length !== index) continue;
      const heldElsewhere = [...this.members.values()].some(
        (other) => other !== member && other.owned.has(p),
      );
      if (!heldElsewhere) mine.push(p);
    }
    return mine;
  }

  #commit(body: Record<string, unknown>): TransportResponse {
    const memberId = String(body['memberId']);
    const member = this.members.get(memberId);
    if (member === undefined) return json(409, errorBody('UNKNOWN_MEMBER_ID'));
    const epoch = Number(body['memberEpoch']);
    if (epoch < member.epoch) return json(409, errorBody('STALE_MEMBER_EPOCH'));
    if (epoch > member.epoch) return json(409, errorBody('FENCED_MEMBER_EPOCH'));
    const offsets = body['offsets'] as { topic: string; partition: number; offset: number }[];
    const record: Record<number, number> = {};
    for (const { partition, offset } of offsets) {
      this.committed.set(partition, offset);
      record[partition] = offset;
    }
    this.commits.push({ memberId, offsets: record });
    return json(200, {
      offsets: offsets.map(({ topic, partition }) => ({ topic, partition })),
    });
  }
}

function errorBody(code: string): unknown {
  return { error: { code, message: `scripted ${code}` } };
}

function json(status: number, body: unknown): TransportResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  };
}

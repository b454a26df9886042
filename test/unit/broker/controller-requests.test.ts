// Goal: the liveness requests reach the active controller — locally when this node is it, over
// HTTP otherwise, following one NOT_CONTROLLER redirect — and the routes validate their bodies.
// Method: a scripted ControllerEndpoint per node and an in-memory ControllerRequests that
// routes a POST to the endpoint of the node whose URL it names; no sockets, no timers.
import { expect, test } from 'vitest';
import {
  ControllerClient,
  answerHeartbeat,
  answerUnreachable,
  heartbeatPath,
  unreachablePath,
  type ControllerEndpoint,
  type HeartbeatRequest,
} from '../../../src/broker/index.ts';

function endpoint(id: number, leaderId: () => number | null) {
  const heard: number[] = [];
  const reported: number[] = [];
  const self: ControllerEndpoint = {
    get isActive() {
      return leaderId() === id;
    },
    controllerId: leaderId,
    handleHeartbeat: (request: HeartbeatRequest) => {
      if (leaderId() !== id) return { ok: false, code: 'NOT_CONTROLLER', message: 'no' };
      heard.push(request.nodeId);
      return { ok: true, fenced: false, shuttingDown: false };
    },
    reportUnreachable: (nodeId) => reported.push(nodeId),
  };
  return { self, heard, reported };
}

function setup(leader: number | null, staleView: number | null = leader) {
  let actual = leader;
  const nodes = new Map([1, 2, 3].map((id) => [id, endpoint(id, () => actual)]));
  const urls = new Map([1, 2, 3].map((id) => [id, `http://n${id}`]));
  const posts: string[] = [];
  const requests = {
    post: (url: string, path: string, body: unknown) => {
      posts.push(`${url}${path}`);
      const node = nodes.get(Number(url.slice('http://n'.length)))!;
      const route = path === heartbeatPath ? answerHeartbeat : answerUnreachable;
      return Promise.resolve(route(node.self, body));
    },
  };
  const client = new ControllerClient({
    nodeId: 2,
    voterUrls: urls,
    leaderId: () => staleView,
    local: nodes.get(2)!.self,
    requests,
    requestTimeoutMs: 1_000,
  });
  return { client, nodes, posts, setLeader: (id: number | null) => (actual = id) };
}

const beat = { nodeId: 2, brokerEpoch: 5, ineligible: [] };

test('the controller itself answers locally, without a request', async () => {
  const { client, nodes, posts } = setup(2);
  expect(await client.heartbeat(beat)).toEqual({ ok: true, fenced: false, shuttingDown: false });
  expect(nodes.get(2)!.heard).toEqual([2]);
  expect(posts).toEqual([]);
});

test('another node is asked over HTTP; a stale view follows one redirect', async () => {
  const { client, nodes, posts } = setup(3, 1);
  expect(await client.heartbeat(beat)).toMatchObject({ ok: true });
  expect(posts).toEqual([`http://n1${heartbeatPath}`, `http://n3${heartbeatPath}`]);
  expect(nodes.get(3)!.heard).toEqual([2]);
  await client.reportUnreachable(1);
  expect(nodes.get(3)!.reported).toEqual([1]);
});

test('no controller anywhere: NOT_CONTROLLER, and nothing reported', async () => {
  const { client, posts } = setup(null);
  expect(await client.heartbeat(beat)).toMatchObject({ ok: false, code: 'NOT_CONTROLLER' });
  await expect(client.reportUnreachable(1)).rejects.toThrow(/421/);
  expect(posts.length).toBeGreaterThan(0); // It asked a voter: an observer knows no leader yet.
});

test('the routes refuse malformed bodies', () => {
  const { self } = endpoint(1, () => 1);
  expect(answerHeartbeat(self, { nodeId: -1, brokerEpoch: 1, ineligible: [] }).status).toBe(400);
  expect(answerHeartbeat(self, { nodeId: 1, brokerEpoch: 1 }).status).toBe(400);
  const badRef = { nodeId: 1, brokerEpoch: 1, ineligible: [{ topic: 7, partition: 0 }] };
  expect(answerHeartbeat(self, badRef).status).toBe(400);
  expect(answerUnreachable(self, { nodeId: 'x' }).status).toBe(400);
  expect(answerUnreachable(self, { nodeId: 3 })).toEqual({ status: 202, body: {} });
  expect(unreachablePath).toBe('/internal/v1/broker/unreachable');
});

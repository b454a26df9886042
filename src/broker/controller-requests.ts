// The broker → controller requests of liveness, both with the cluster secret header:
//   POST /internal/v1/broker/heartbeat {nodeId, brokerEpoch, ineligible: [{topic, partition}]}
//     → 200 {fenced, shuttingDown}, answered from the active controller's memory (no record);
//     → 421 {error: {code: 'NOT_CONTROLLER', message, leaderId}} on any other node;
//     → 400 INVALID_REQUEST, 404 UNKNOWN_NODE, 409 STALE_BROKER_EPOCH.
//   POST /internal/v1/broker/unreachable {nodeId}: "my connection to nodeId was refused"
//     → 202 {} (the controller probes the node's port; a refusal fences it), or 421 as above.
// ControllerClient sends both to the controller (locally when this node is it, redirecting once
// on a 421 that names the leader); answerHeartbeat/answerUnreachable serve the two routes.
import type { HeartbeatAnswer, HeartbeatRequest, PartitionRef } from './controller-core.ts';

export const heartbeatPath = '/internal/v1/broker/heartbeat';
export const unreachablePath = '/internal/v1/broker/unreachable';

/** The active controller as the routes and the local client see it (Controller). */
export interface ControllerEndpoint {
  handleHeartbeat(request: HeartbeatRequest): HeartbeatAnswer;
  reportUnreachable(nodeId: number): void;
  /** The metadata leader this node knows of: the redirect of a NOT_CONTROLLER answer. */
  controllerId(): number | null;
  readonly isActive: boolean;
}

/** One POST to a node's internal route (HttpControllerChannel in production). */
export interface ControllerRequests {
  post(
    url: string,
    path: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<{ status: number; body: unknown }>;
}

export interface ControllerClientDeps {
  readonly nodeId: number;
  /** Base URLs of the voters: the nodes that can be controller. */
  readonly voterUrls: ReadonlyMap<number, string>;
  /** The metadata leader (the controller) as this node knows it. */
  readonly leaderId: () => number | null;
  /** This node's own controller, used while this node leads. */
  readonly local: ControllerEndpoint;
  readonly requests: ControllerRequests;
  /** A request unanswered this long fails (shorter than a heartbeat interval). */
  readonly requestTimeoutMs: number;
}

/** How a broker's session reaches the controller (NodeSession's port). */
export interface LivenessChannel {
  /** Rejects when no controller could be reached (the next heartbeat tries again). */
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatAnswer>;
  /** Best effort: rejects when the controller could not be told. */
  reportUnreachable(nodeId: number): Promise<void>;
}

type RouteAnswer = { status: number; body: unknown };

const statusOf: Readonly<Record<Exclude<HeartbeatAnswer, { ok: true }>['code'], number>> = {
  NOT_CONTROLLER: 421,
  INVALID_REQUEST: 400,
  UNKNOWN_NODE: 404,
  STALE_BROKER_EPOCH: 409,
};

export class ControllerClient implements LivenessChannel {
  readonly #deps: ControllerClientDeps;
  /** Rotates over the voters while no leader is known (an observer not yet added). */
  #nextVoter = 0;

  constructor(deps: ControllerClientDeps) {
    this.#deps = deps;
  }

  async heartbeat(request: HeartbeatRequest): Promise<HeartbeatAnswer> {
    const { body, status } = await this.#send(heartbeatPath, request, (local) =>
      answerHeartbeat(local, request),
    );
    return toHeartbeatAnswer(status, body);
  }

  async reportUnreachable(nodeId: number): Promise<void> {
    const { status } = await this.#send(unreachablePath, { nodeId }, (local) =>
      answerUnreachable(local, { nodeId }),
    );
    if (status !== 202) throw new Error(`the controller answered ${status}`);
  }

  async #send(
    path: string,
    body: unknown,
    locally: (local: ControllerEndpoint) => RouteAnswer,
  ): Promise<RouteAnswer> {
    const { nodeId, voterUrls, leaderId, local, requests, requestTimeoutMs } = this.#deps;
    let target = leaderId() ?? this.#anyVoter();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (target === nodeId) return locally(local);
      const url = target === null ? undefined : voterUrls.get(target);
      if (url === undefined) break;
      const answer = await requests.post(url, path, body, requestTimeoutMs);
      const hint = leaderHint(answer.body);
      if (answer.status !== 421 || hint === null || hint === target) return answer;
      target = hint;
    }
    throw new Error('no controller known');
  }

  #anyVoter(): number | null {
    const ids = [...this.#deps.voterUrls.keys()];
    if (ids.length === 0) return null;
    this.#nextVoter = (this.#nextVoter + 1) % ids.length;
    return ids[this.#nextVoter] ?? null;
  }
}

/** The heartbeat route: validates the body and answers from the controller's memory. */
export function answerHeartbeat(controller: ControllerEndpoint, body: unknown): RouteAnswer {
  const request = parseHeartbeat(body);
  if (request === null) {
    const message = 'the body must be {nodeId, brokerEpoch, ineligible: [{topic, partition}]}';
    return { status: 400, body: { error: { code: 'INVALID_REQUEST', message } } };
  }
  const answer = controller.handleHeartbeat(request);
  if (answer.ok) return { status: 200, body: answer };
  return { status: statusOf[answer.code], body: { error: errorBody(controller, answer) } };
}

/** The unreachable route: the controller probes the node; the answer does not wait for it. */
export function answerUnreachable(controller: ControllerEndpoint, body: unknown): RouteAnswer {
  const nodeId = (body as { nodeId?: unknown } | null)?.nodeId;
  if (!isNatural(nodeId)) {
    const error = { code: 'INVALID_REQUEST', message: 'the body must be {nodeId}' };
    return { status: 400, body: { error } };
  }
  if (!controller.isActive) {
    const answer = { code: 'NOT_CONTROLLER', message: 'this node is not the controller' } as const;
    return { status: 421, body: { error: errorBody(controller, answer) } };
  }
  controller.reportUnreachable(nodeId);
  return { status: 202, body: {} };
}

function errorBody(
  controller: ControllerEndpoint,
  answer: { readonly code: string; readonly message: string },
): { code: string; message: string; leaderId?: number | null } {
  const { code, message } = answer;
  return code === 'NOT_CONTROLLER'
    ? { code, message, leaderId: controller.controllerId() }
    : { code, message };
}

function parseHeartbeat(body: unknown): HeartbeatRequest | null {
  const b = body as Partial<Record<keyof HeartbeatRequest, unknown>> | null;
  if (typeof b !== 'object' || b === null) return null;
  if (!isNatural(b.nodeId) || !isNatural(b.brokerEpoch) || !Array.isArray(b.ineligible)) {
    return null;
  }
  const ineligible = b.ineligible as unknown[];
  const wellFormed = ineligible.every((p): p is PartitionRef => {
    const ref = p as Partial<Record<keyof PartitionRef, unknown>> | null;
    return typeof ref?.topic === 'string' && isNatural(ref.partition);
  });
  if (!wellFormed) return null;
  return { nodeId: b.nodeId, brokerEpoch: b.brokerEpoch, ineligible };
}

function toHeartbeatAnswer(status: number, body: unknown): HeartbeatAnswer {
  const b = body as {
    fenced?: unknown;
    shuttingDown?: unknown;
    error?: { code?: unknown; message?: unknown };
  } | null;
  if (status === 200 && typeof b?.fenced === 'boolean') {
    return { ok: true, fenced: b.fenced, shuttingDown: b.shuttingDown === true };
  }
  const code = b?.error?.code;
  const known = typeof code === 'string' && Object.hasOwn(statusOf, code);
  return {
    ok: false,
    code: known ? (code as keyof typeof statusOf) : 'NOT_CONTROLLER',
    message: typeof b?.error?.message === 'string' ? b.error.message : `HTTP ${status}`,
  };
}

function leaderHint(body: unknown): number | null {
  const id = (body as { error?: { leaderId?: unknown } } | null)?.error?.leaderId;
  return typeof id === 'number' ? id : null;
}

function isNatural(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

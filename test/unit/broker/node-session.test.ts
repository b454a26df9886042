// Goal: a broker whose registration was overwritten by a late register-node of its own earlier
// incarnation (a delayed or duplicated forwarded proposal) registers again instead of staying
// fenced forever (CI failure, simulator seed 571826433); a merely lagging image does not make it.
import { expect, test, vi } from 'vitest';
import type { MetadataCommand, MetadataResult } from '../../../src/broker/metadata-command.ts';
import { MetadataImage } from '../../../src/broker/metadata-image.ts';
import { NodeSession, registrationReplaced } from '../../../src/broker/node-session.ts';
import { ManualClock } from '../../support/broker/manual-clock.ts';

test('a later registration of another incarnation replaces ours', () => {
  expect(registrationReplaced({ brokerEpoch: 19, incarnationId: 'old' }, 'new', 17)).toBe(true);
});

test('a lagging image is not a replacement', () => {
  // The image has not applied our registration yet: it still names the old incarnation.
  expect(registrationReplaced({ brokerEpoch: 5, incarnationId: 'old' }, 'new', 17)).toBe(false);
  // Our own registration, or nothing registered yet.
  expect(registrationReplaced({ brokerEpoch: 17, incarnationId: 'new' }, 'new', 17)).toBe(false);
  expect(registrationReplaced(undefined, 'new', 17)).toBe(false);
  expect(registrationReplaced({ brokerEpoch: 19, incarnationId: 'old' }, 'new', null)).toBe(false);
});

test('NodeSession registers again when a late registration of its earlier incarnation applied', async () => {
  const image = new MetadataImage();
  let index = 0;
  const apply = (command: MetadataCommand): { result: MetadataResult } => {
    index += 1;
    return { result: image.apply(command, index) };
  };
  apply({ type: 'init-cluster', clusterId: 'c' });
  apply({ type: 'register-node', nodeId: 4, url: 'http://n4', incarnationId: 'old' });
  const clock = new ManualClock();
  const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  const beats: number[] = [];
  const session = new NodeSession(
    {
      nodeId: 4,
      advertisedUrl: 'http://n4',
      incarnationId: 'new',
      heartbeatIntervalMs: 100,
      registrationRetryMs: 100,
    },
    {
      clock,
      logger: quiet,
      needsClusterId: () => false,
      newClusterId: () => 'c',
      propose: async (command) => apply(command),
      liveness: {
        heartbeat: async (request) => {
          beats.push(request.brokerEpoch);
          return { ok: true, fenced: false, shuttingDown: false };
        },
        reportUnreachable: async () => {},
      },
      ineligible: () => [],
      ownRegistration: () => image.node(4),
    },
  );
  const first = await session.register();
  session.startHeartbeats();
  // The old process's register-node, delayed in flight, commits after ours.
  apply({ type: 'register-node', nodeId: 4, url: 'http://n4', incarnationId: 'old' });
  expect(image.node(4)?.incarnationId).toBe('old');
  clock.advance(100);
  await vi.waitFor(() => expect(session.brokerEpoch).toBeGreaterThan(first));
  expect(image.node(4)?.incarnationId).toBe('new');
  const again = session.brokerEpoch;
  // Heartbeats go on under the new epoch (a beat skipped while the last one settles is fine).
  await vi.waitFor(() => {
    clock.advance(100);
    expect(beats.at(-1)).toBe(again);
  });
  session.stop();
});

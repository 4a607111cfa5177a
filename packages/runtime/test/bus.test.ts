import { afterAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, startNats, startNatsCluster, tempDir } from '@tabby/harness';
import { MemoryBus, NatsBus, createLogger, subjectMatches } from '../src/index.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('subjectMatches', () => {
  it.each([
    ['tabby.v1.resources.>', 'tabby.v1.resources.IPPool', true],
    ['tabby.v1.resources.>', 'tabby.v1.resources', false],
    ['tabby.v1.resources.*', 'tabby.v1.resources.IPPool', true],
    ['tabby.v1.resources.*', 'tabby.v1.resources.IPPool.x', false],
    ['tabby.v1.agents.*.status', 'tabby.v1.agents.node1.status', true],
    ['tabby.v1.agents.*.status', 'tabby.v1.agents.node1.routes', false],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['>', 'anything.at.all', true],
  ] as const)('%s vs %s → %s', (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});

describe('MemoryBus', () => {
  it('delivers to matching subscribers only, until they unsubscribe', async () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    const sub = bus.subscribe('tabby.v1.resources.*', (p, s) => got.push(`${s}=${Buffer.from(p).toString()}`));
    bus.publish('tabby.v1.resources.IPPool', Buffer.from('1'));
    bus.publish('tabby.v1.ipam.blocks', Buffer.from('2'));
    await bus.flush();
    sub.unsubscribe();
    bus.publish('tabby.v1.resources.IPPool', Buffer.from('3'));
    await bus.flush();
    expect(got).toEqual(['tabby.v1.resources.IPPool=1']);
  });
});

describe('NatsBus against a real nats-server', () => {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bus-');
  afterAll(async () => {
    await group.stopAll();
    dir.remove();
  });

  it('holds what is published before the server is up, and keeps subscriptions across a server restart', async () => {
    // Learn a free port from a first server, stop it, and start the bus with nothing listening.
    const first = await startNats(group, dir.path);
    const port = first.port;
    await first.process.stop();
    const bus = await NatsBus.connect({ url: `nats://127.0.0.1:${port}`, name: 'test', logger, initialWaitMs: 200 });
    expect(bus.connected).toBe(false);
    const got: string[] = [];
    bus.subscribe('t.>', (p) => got.push(Buffer.from(p).toString()));
    bus.publish('t.a', Buffer.from('early'));

    const second = await startNats(group, dir.path, { port });
    await eventually('the bus to connect', () => bus.connected, 10_000);
    await eventually('the early message', () => got.includes('early'));

    await second.process.stop();
    await startNats(group, dir.path, { port });
    // After the reconnect the old subscription still receives.
    await eventually(
      'a message after the restart',
      async () => {
        bus.publish('t.b', Buffer.from('late'));
        await bus.flush().catch(() => undefined);
        return got.includes('late');
      },
      15_000,
      200,
    );
    await bus.close();
  }, 40_000);
});

describe('NatsBus against a 3-node NATS cluster', () => {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bus-cluster-');
  afterAll(async () => {
    await group.stopAll();
    dir.remove();
  });

  it('moves to another node when its node is killed, tells its listeners, and sends the last message of each subject again', async () => {
    const cluster = await startNatsCluster(group, dir.path, { size: 3 });
    const [first, second] = cluster.nodes;
    // One URL each, so they start on different nodes; the others are learnt from the cluster.
    const publisher = await NatsBus.connect({ url: first.url, name: 'test-publisher', logger, initialWaitMs: 10_000 });
    const subscriber = await NatsBus.connect({ url: second.url, name: 'test-subscriber', logger, initialWaitMs: 10_000 });
    try {
      let publisherConnects = 0;
      let subscriberConnects = 0;
      publisher.onConnected(() => publisherConnects++);
      subscriber.onConnected(() => subscriberConnects++);
      const got: string[] = [];
      subscriber.subscribe('t.>', (p, s) => got.push(`${s}=${Buffer.from(p).toString()}`));
      await subscriber.flush();
      await eventually(
        'a first message across the cluster',
        async () => {
          publisher.publish('t.a', Buffer.from('1'));
          await publisher.flush();
          return got.includes('t.a=1');
        },
        10_000,
        200,
      );
      publisher.publish('t.b', Buffer.from('2'));
      await publisher.flush();
      await eventually('the second message', () => got.includes('t.b=2'));

      // The publisher's node dies: it reconnects to another node and sends t.a=1 and t.b=2
      // again (what it wrote to the dead node may never have been routed).
      const before = got.length;
      await cluster.kill(first);
      await eventually('the publisher to reconnect', () => publisherConnects === 1, 20_000);
      await eventually('the last message of each subject again', () => got.slice(before).includes('t.a=1') && got.slice(before).includes('t.b=2'), 10_000);
      expect((await cluster.nodeOf('test-publisher'))?.name).not.toBe(first.name);
      expect(subscriberConnects).toBe(0);

      // The subscriber's node dies: its listeners are told (a follower re-lists then), and
      // its subscription lives on at another node.
      await cluster.restart(first);
      await cluster.kill(second);
      await eventually('the subscriber to be told of its reconnect', () => subscriberConnects === 1, 20_000);
      await eventually(
        'a message after the subscriber moved',
        async () => {
          publisher.publish('t.c', Buffer.from('3'));
          await publisher.flush();
          return got.includes('t.c=3');
        },
        10_000,
        200,
      );
    } finally {
      await publisher.close();
      await subscriber.close();
    }
  }, 60_000);
});

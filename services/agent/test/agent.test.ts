/**
 * NodeAgent end to end, without a socket or netlink: configurations arrive on a fake
 * topology stream, the speaker is a FakeSpeaker, the routing table a MemoryDataplane.
 */
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { SpeakerConfig } from '@tabby/bgp';
import { MemoryDataplane } from '@tabby/dataplane';
import { AddressFamily, NodeConfig, PeerConfig, type WatchNodeConfigResponse } from '@tabby/proto';
import { createLogger } from '@tabby/runtime';
import { NodeAgent, type AgentStore, type AgentTopology, type NodeAgentOptions, type NodeConfigStream } from '../src/agent.js';
import { createAgentMetrics } from '../src/agent-metrics.js';
import { FakeSpeaker, learned, peerSource } from './fakes.js';

const V4 = AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST;

class FakeTopology implements AgentTopology {
  readonly streams: (EventEmitter & NodeConfigStream)[] = [];
  watchNodeConfig(): NodeConfigStream {
    const s = Object.assign(new EventEmitter(), { cancel: () => s.emit('end') });
    this.streams.push(s);
    return s;
  }
  send(config: NodeConfig): void {
    const m: WatchNodeConfigResponse = { config };
    for (const s of this.streams) s.emit('data', m);
  }
}

/** A store that is down: the agent keeps retrying registration and status; routing goes on. */
function deadStore(): AgentStore {
  const fail = (...args: unknown[]): void => {
    const cb = args[args.length - 1] as (err: Error) => void;
    setImmediate(() => cb(Object.assign(new Error('store down'), { code: grpcStatus.UNAVAILABLE, details: 'store down', metadata: undefined })));
  };
  return { get: fail, create: fail, update: fail, apply: fail } as unknown as AgentStore;
}

function config(generation: number, over: Partial<NodeConfig> = {}): NodeConfig {
  return NodeConfig.fromPartial({
    node: 'node1',
    generation,
    exists: true,
    asNumber: 64512,
    routerId: '198.18.0.11',
    listenPort: 179,
    ipv4Address: '198.18.0.11',
    peers: [
      PeerConfig.fromPartial({ address: '198.18.0.12', port: 179, remoteAs: 64512, localAs: 64512, ibgp: true, families: [V4], typeLabel: 'node-to-node mesh', peerNode: 'node2' }),
      PeerConfig.fromPartial({ address: '198.18.0.2', port: 179, remoteAs: 64513, localAs: 64512, families: [V4], typeLabel: 'global', peerNode: '' }),
      PeerConfig.fromPartial({ address: '198.18.0.3', port: 179, remoteAs: 64514, localAs: 64512, families: [V4], typeLabel: 'global', peerNode: '' }),
    ],
    blocks: [{ cidr: '198.19.0.0/26', pool: 'default', family: V4, exported: true }],
    prefixes: [{ cidr: '198.19.0.0/26', pool: 'default', family: V4 }],
    workloads: [
      { name: 'default/w1', interfaceName: 'cali0000000000a', addresses: ['198.19.0.5/32'] },
      { name: 'default/w9', interfaceName: 'cali0000000000b', addresses: ['198.19.0.70/32'] },
    ],
    pools: [{ name: 'default', cidr: '198.19.0.0/24', family: V4, disableBGPExport: false, ipipMode: 'Never', vxlanMode: 'Never', disabled: false }],
    ...over,
  });
}

describe('NodeAgent against fakes', () => {
  const agents: NodeAgent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop();
  });

  function start(dp: MemoryDataplane, over: Partial<NodeAgentOptions> = {}): { agent: NodeAgent; topology: FakeTopology; speakers: FakeSpeaker[]; made: SpeakerConfig[] } {
    const topology = new FakeTopology();
    const speakers: FakeSpeaker[] = [];
    const made: SpeakerConfig[] = [];
    const agent = new NodeAgent({
      node: 'node1',
      bgpAddress: '198.18.0.11',
      bgpPort: 0,
      asNumber: 0,
      holdTimeS: 90,
      store: deadStore(),
      topology,
      logger: createLogger({ service: 'test', level: 'silent' }),
      metrics: createAgentMetrics(new Registry()),
      statusIntervalMs: 3_600_000,
      dataplane: dp,
      scanIntervalMs: 3_600_000,
      convergenceTimeoutMs: 3_600_000,
      speakerFactory: (c) => {
        made.push(c);
        const s = new FakeSpeaker(c);
        speakers.push(s);
        return s;
      },
      ...over,
    });
    agents.push(agent);
    return { agent, topology, speakers, made };
  }

  it('restarts gracefully over routes left in the table, applies Calico’s export filter, and programs the table', async () => {
    const dp = new MemoryDataplane({ links: ['cali0000000000a', 'cali0000000000b'], routes: [{ prefix: '198.19.0.0/26', type: 'blackhole', nextHops: [] }] });
    const { agent, topology, speakers, made } = start(dp);
    await agent.start();
    topology.send(config(1));
    await expect.poll(() => speakers.length).toBe(1);
    const sp = speakers[0];
    // Routes were in the table: OPENs say "restarting, forwarding preserved".
    expect(made[0].gracefulRestart).toEqual({ restarting: true, forwardingPreserved: true });
    expect(sp.filter).toBeDefined();

    const node2 = peerSource('198.18.0.12', 64512, true);
    const routerA = peerSource('198.18.0.2', 64513, false);
    sp.learn('198.19.0.64/26', [learned('198.19.0.64/26', '198.18.0.12', node2).path]);
    sp.learn('198.18.200.0/24', [learned('198.18.200.0/24', '198.18.0.2', routerA).path]);
    sp.learn('198.19.0.128/26', [learned('198.19.0.128/26', '198.18.0.2', routerA).path]);
    await agent.routeManager.settle();

    // No transit and nothing outside the pools: router A's routes never reach router B.
    expect(sp.exports('198.18.200.0/24', '198.18.0.3')).toBe(false);
    expect(sp.exports('198.18.200.0/24', '198.18.0.12')).toBe(false);
    expect(sp.exports('198.19.0.128/26', '198.18.0.3')).toBe(false);
    expect(sp.exports('198.19.0.128/26', '198.18.0.12')).toBe(true);
    // Another node's block goes to the external routers; our own block and borrowed /32 too.
    expect(sp.exports('198.19.0.64/26', '198.18.0.2')).toBe(true);

    // The workload at .70 lies in node2's block: borrowed, announced as a /32 (once wired).
    expect(agent.routeManager.status()?.borrowed).toEqual(['198.19.0.70/32']);
    await expect.poll(() => [...sp.announced].sort()).toEqual(['198.19.0.0/26', '198.19.0.70/32']);
    const routes = dp.routes().map((r) => `${r.type} ${r.prefix} ${r.nextHops.map((h) => h.via ?? h.dev).join(',')}`);
    expect(routes).toEqual([
      'unicast 198.18.200.0/24 198.18.0.2',
      'blackhole 198.19.0.0/26 ',
      'unicast 198.19.0.128/26 198.18.0.2',
      'unicast 198.19.0.5/32 cali0000000000a',
      'unicast 198.19.0.64/26 198.18.0.12',
      'unicast 198.19.0.70/32 cali0000000000b',
    ]);
    // The blackhole was already there: not written again.
    expect(dp.writeLog().some((w) => w.prefix === '198.19.0.0/26')).toBe(false);

    // Every peer Established with its End-of-RIB: the restart is complete.
    expect(sp.restartCompleted).toBe(false);
    for (const key of ['198.18.0.12', '198.18.0.2', '198.18.0.3']) sp.setStatus(key, { state: 'Established', endOfRibReceived: ['ipv4-unicast'] });
    await expect.poll(() => sp.restartCompleted).toBe(true);
    expect(agent.nodeStatus().status?.routes).toMatchObject({ dataplane: 'memory', converging: false, blackholes: 1, workloads: 2, remote: 3 });
  });

  it('re-applies the export filter when the pools change, and a deleted workload’s route goes', async () => {
    const dp = new MemoryDataplane({ links: ['cali0000000000a', 'cali0000000000b'] });
    const { agent, topology, speakers, made } = start(dp);
    await agent.start();
    topology.send(config(1));
    await expect.poll(() => speakers.length).toBe(1);
    const sp = speakers[0];
    expect(made[0].gracefulRestart).toBeUndefined();
    await agent.routeManager.settle();
    const applied = sp.filterApplications;
    topology.send(config(2, { pools: [{ name: 'default', cidr: '198.19.0.0/24', family: V4, disableBGPExport: true, ipipMode: 'Never', vxlanMode: 'Never', disabled: false }], workloads: [] }));
    await expect.poll(() => sp.filterApplications).toBe(applied + 1);
    await agent.routeManager.settle();
    const node2 = peerSource('198.18.0.12', 64512, true);
    sp.learn('198.19.0.64/26', [learned('198.19.0.64/26', '198.18.0.12', node2).path]);
    expect(sp.exports('198.19.0.64/26', '198.18.0.2')).toBe(false);
    await agent.routeManager.settle();
    expect(dp.routes().map((r) => r.prefix)).toEqual(['198.19.0.0/26', '198.19.0.64/26']);
  });

  it('sets the BGP log level from logSeverityScreen at run time (Debug → debug, Warning → warn, unset → info)', async () => {
    const dp = new MemoryDataplane({ links: [] });
    const { agent, topology, made } = start(dp);
    await agent.start();
    topology.send(config(1, { logSeverityScreen: 'Debug' }));
    await expect.poll(() => made.length).toBe(1);
    const bgpLog = made[0]?.logger as unknown as { level: string };
    await expect.poll(() => bgpLog.level).toBe('debug');
    topology.send(config(2, { logSeverityScreen: 'Warning' }));
    await expect.poll(() => bgpLog.level).toBe('warn');
    topology.send(config(3, { logSeverityScreen: '' }));
    await expect.poll(() => bgpLog.level).toBe('info');
    // The same speaker all along: a log level change restarts nothing.
    expect(made).toHaveLength(1);
  });

  it('listens where bindMode says: None every address, NodeIP the node address, switched in place; --bgp-listen node-address pins it', async () => {
    const { agent, topology, made, speakers } = start(new MemoryDataplane({ links: [] }));
    await agent.start();
    topology.send(config(1));
    await expect.poll(() => made.length).toBe(1);
    expect(made[0]?.listen).toEqual([{ address: '0.0.0.0', port: 179 }]);
    topology.send(config(2, { bindToNodeAddress: true }));
    await expect.poll(() => speakers[0]?.listen).toEqual([{ address: '198.18.0.11', port: 179 }]);
    topology.send(config(3));
    await expect.poll(() => speakers[0]?.listen).toEqual([{ address: '0.0.0.0', port: 179 }]);
    // Moved in place: never a new speaker, never a stop.
    expect(made).toHaveLength(1);
    expect(speakers[0]?.stopped).toBe(false);

    const dual = start(new MemoryDataplane({ links: [] }), { bgpIpv6Address: 'fd00:18::11' });
    await dual.agent.start();
    dual.topology.send(config(1));
    await expect.poll(() => dual.made.length).toBe(1);
    expect(dual.made[0]?.listen).toEqual([
      { address: '0.0.0.0', port: 179 },
      { address: '::', port: 179 },
    ]);

    const pinned = start(new MemoryDataplane({ links: [] }), { bgpListen: 'node-address', bgpIpv6Address: 'fd00:18::11' });
    await pinned.agent.start();
    pinned.topology.send(config(1));
    await expect.poll(() => pinned.made.length).toBe(1);
    expect(pinned.made[0]?.listen).toEqual([
      { address: '198.18.0.11', port: 179 },
      { address: 'fd00:18::11', port: 179 },
    ]);
  });
});

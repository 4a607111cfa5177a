import { describe, expect, it } from 'vitest';
import { createLogger } from '@tabby/runtime';
import { MemoryDataplane, type KernelRoute } from '@tabby/dataplane';
import { RouteManager, type RoutingInputs } from '../src/route-manager.js';
import { FakeSpeaker, learned, peerSource } from './fakes.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const node2 = peerSource('198.18.0.12', 64512, true);
const node3 = peerSource('198.18.0.13', 64512, true);

const INPUTS: RoutingInputs = {
  blocks: [{ cidr: '198.19.1.0/26', exported: true }],
  workloads: [{ name: 'default/a', interfaceName: 'cali0000000000a', addresses: ['198.19.1.5/32'] }],
  pools: [{ name: 'default', cidr: '198.19.0.0/16', disableBGPExport: false, vxlanMode: 'Never', ipipMode: 'Never' }],
};

function speaker(): FakeSpeaker {
  return new FakeSpeaker({ asn: 64512, routerId: '198.18.0.11', listen: [] });
}

function manager(dp: MemoryDataplane | undefined, over: { convergenceTimeoutMs?: number; routeCleanupGraceMs?: number; now?: () => number } = {}): RouteManager {
  return new RouteManager({
    dataplane: dp,
    logger,
    scanIntervalMs: 3_600_000,
    convergenceTimeoutMs: over.convergenceTimeoutMs ?? 3_600_000,
    ownAddresses: new Set(['198.18.0.11']),
    debounceMs: 1,
    routeCleanupGraceMs: over.routeCleanupGraceMs,
    now: over.now,
  });
}

const show = (routes: readonly KernelRoute[]): string[] =>
  routes.map((r) => `${r.type === 'blackhole' ? 'blackhole ' : ''}${r.prefix}${r.nextHops.map((h) => (h.via ? ` via ${h.via}` : ` dev ${h.dev}`)).join('')}`);

describe('RouteManager against a MemoryDataplane and a fake speaker', () => {
  it('programs blackholes, workload routes and learned routes, and originates the node’s blocks', async () => {
    const dp = new MemoryDataplane({ links: ['eth0', 'cali0000000000a'] });
    const sp = speaker();
    const rm = manager(dp);
    expect(await rm.start()).toEqual({ restarting: false });
    rm.attach(sp);
    rm.setInputs(INPUTS);
    sp.learn('198.19.2.0/26', [learned('198.19.2.0/26', '198.18.0.12', node2).path]);
    await rm.settle();
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a', '198.19.2.0/26 via 198.18.0.12']);
    expect([...sp.announced]).toEqual(['198.19.1.0/26']);
    expect(rm.status()).toMatchObject({ dataplane: 'memory', programmed: 3, blackholes: 1, workloads: 1, remote: 1, converging: false, failures: [] });

    // A withdrawal removes the route; a rescan with nothing changed writes nothing.
    sp.learn('198.19.2.0/26', []);
    await rm.settle();
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a']);
    const writes = dp.writes;
    rm.schedule(0);
    await rm.settle();
    expect(dp.writes).toBe(writes);
    await rm.stop();
  });

  it('repairs a route someone deleted at the next scan, and never touches routes of other protocols', async () => {
    const dp = new MemoryDataplane({ links: ['cali0000000000a'] });
    dp.addForeignRoute({ prefix: '198.19.250.0/24', type: 'unicast', nextHops: [{ via: '198.18.0.12' }] }, 'static');
    const rm = manager(dp);
    await rm.start();
    rm.attach(speaker());
    rm.setInputs(INPUTS);
    await rm.settle();
    dp.removeRoute('198.19.1.0/26');
    rm.schedule(0); // what the scan timer does
    await rm.settle();
    expect(show(dp.routes())).toContain('blackhole 198.19.1.0/26');
    expect(dp.foreignRoutes().map((f) => `${f.protocol} ${f.route.prefix}`)).toEqual(['static 198.19.250.0/24']);
    rm.setInputs({ blocks: [], workloads: [], pools: [] });
    await rm.settle();
    expect(dp.routes()).toEqual([]);
    expect(dp.foreignRoutes()).toHaveLength(1);
    await rm.stop();
  });

  it('routes a workload once its interface appears, and reports it as waiting until then', async () => {
    const dp = new MemoryDataplane({ links: [] });
    const rm = manager(dp);
    await rm.start();
    rm.attach(speaker());
    rm.setInputs(INPUTS);
    await rm.settle();
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26']);
    expect(rm.status()?.waitingForInterface).toEqual(['default/a (cali0000000000a)']);
    dp.setLinks(['cali0000000000a']);
    rm.schedule(0);
    await rm.settle();
    expect(show(dp.routes())).toContain('198.19.1.5/32 dev cali0000000000a');
    expect(rm.status()?.waitingForInterface).toEqual([]);
    await rm.stop();
  });

  it('keeps its other routes when the kernel refuses one, reports it, and retries it', async () => {
    const dp = new MemoryDataplane({ links: ['cali0000000000a'] });
    const sp = speaker();
    const rm = manager(dp);
    await rm.start();
    rm.attach(sp);
    dp.failAlwaysFor('198.19.3.0/26', 'Error: Nexthop has invalid gateway.');
    sp.learn('198.19.3.0/26', [learned('198.19.3.0/26', '198.18.99.1', node3).path]);
    sp.learn('198.19.2.0/26', [learned('198.19.2.0/26', '198.18.0.12', node2).path]);
    rm.setInputs(INPUTS);
    await rm.settle();
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a', '198.19.2.0/26 via 198.18.0.12']);
    expect(rm.status()?.failures).toEqual([{ prefix: '198.19.3.0/26', error: 'Error: Nexthop has invalid gateway.' }]);
    dp.failAlwaysFor('198.19.3.0/26', undefined);
    rm.schedule(0);
    await rm.settle();
    expect(show(dp.routes())).toContain('198.19.3.0/26 via 198.18.99.1');
    expect(rm.status()?.failures).toEqual([]);
    await rm.stop();
  });

  it('after a restart keeps stale routes until every peer sent End-of-RIB, then prunes them', async () => {
    const stale: KernelRoute = { prefix: '198.19.9.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.13' }] };
    const dp = new MemoryDataplane({ links: ['cali0000000000a'], routes: [stale, { prefix: '198.19.1.0/26', type: 'blackhole', nextHops: [] }] });
    const sp = speaker();
    const rm = manager(dp);
    expect(await rm.start()).toEqual({ restarting: true });
    let converged = false;
    rm.onConverged(() => (converged = true));
    sp.addPeer({ address: '198.18.0.12', remoteAs: 64512, families: ['ipv4-unicast'] });
    rm.attach(sp);
    rm.setInputs(INPUTS);
    await rm.settle();
    // Nothing removed, nothing duplicated: the blackhole was already there.
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a', '198.19.9.0/26 via 198.18.0.13']);
    expect(dp.writeLog().map((w) => `${w.op} ${w.prefix}`)).toEqual(['add 198.19.1.5/32']);
    expect(rm.status()?.converging).toBe(true);
    sp.setStatus('198.18.0.12', { state: 'Established' });
    await rm.settle();
    expect(converged).toBe(false);
    sp.setStatus('198.18.0.12', { endOfRibReceived: ['ipv4-unicast'] });
    await rm.settle();
    expect(converged).toBe(true);
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a']);
    expect(rm.status()?.converging).toBe(false);
    await rm.stop();
  });

  it('after a restart does not wait for End-of-RIB from a peer without graceful restart (RFC 4724 §4.1)', async () => {
    const dp = new MemoryDataplane({ routes: [{ prefix: '198.19.9.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.13' }] }] });
    const sp = speaker();
    sp.addPeer({ address: '198.18.0.2', remoteAs: 64513 });
    const rm = manager(dp);
    await rm.start();
    rm.attach(sp);
    rm.setInputs({ blocks: [], workloads: [], pools: [] });
    rm.checkConvergence();
    await rm.settle();
    expect(dp.routes()).toHaveLength(1);
    sp.setStatus('198.18.0.2', { state: 'Established', peerGracefulRestart: false });
    await rm.settle();
    expect(rm.converging).toBe(false);
    expect(dp.routes()).toEqual([]);
    await rm.stop();
  });

  it('after a restart with a peer that never returns, prunes at the convergence timeout', async () => {
    const dp = new MemoryDataplane({ routes: [{ prefix: '198.19.9.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.13' }] }] });
    const sp = speaker();
    sp.addPeer({ address: '198.18.0.13', remoteAs: 64512 });
    const rm = manager(dp, { convergenceTimeoutMs: 100 });
    await rm.start();
    rm.attach(sp);
    rm.setInputs({ blocks: [], workloads: [], pools: [] });
    await rm.settle();
    expect(dp.routes()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    await rm.settle();
    expect(dp.routes()).toEqual([]);
    await rm.stop();
  });

  it('changes nothing before the first configuration, and leaves the routes in place when stopped', async () => {
    const dp = new MemoryDataplane({ links: ['cali0000000000a'], routes: [{ prefix: '198.19.1.0/26', type: 'blackhole', nextHops: [] }] });
    const rm = manager(dp);
    await rm.start();
    rm.attach(speaker());
    rm.schedule(0);
    await rm.settle();
    expect(dp.writes).toBe(0);
    rm.setInputs(INPUTS);
    await rm.settle();
    await rm.stop();
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a']);
  });

  it('without a data plane only originates (blocks and borrowed addresses)', async () => {
    const sp = speaker();
    const rm = manager(undefined);
    expect(await rm.start()).toEqual({ restarting: false });
    rm.attach(sp);
    rm.setInputs({ ...INPUTS, workloads: [{ name: 'default/b', interfaceName: 'cali0000000000b', addresses: ['198.19.7.7/32'] }] });
    await rm.settle();
    expect([...sp.announced].sort()).toEqual(['198.19.1.0/26', '198.19.7.7/32']);
    expect(rm.status()).toBeUndefined();
    rm.setInputs({ ...INPUTS, workloads: [] });
    await rm.settle();
    expect([...sp.announced]).toEqual(['198.19.1.0/26']);
    await rm.stop();
  });
});

describe('RouteManager: communities, service CIDRs and reachableBy routes (issue 13)', () => {
  it('announces blocks, borrowed /32s and service CIDRs with the communities of every prefixAdvertisement containing them, and re-announces on a change', async () => {
    const dp = new MemoryDataplane({ links: ['eth0', 'cali0000000000a', 'cali0000000000b'] });
    const sp = speaker();
    const rm = manager(dp);
    await rm.start();
    rm.attach(sp);
    const inputs: RoutingInputs = {
      ...INPUTS,
      workloads: [...INPUTS.workloads, { name: 'default/b', interfaceName: 'cali0000000000b', addresses: ['198.19.9.9/32'] }],
      services: [{ cidr: '10.96.0.0/12' }],
      statics: [{ prefix: '198.18.7.1/32', via: '198.18.0.1' }],
      communities: [
        { cidr: '198.19.0.0/16', standard: ['65001:100'], large: [] },
        { cidr: '198.19.9.0/24', standard: ['65001:200'], large: ['65001:1:2'] },
        { cidr: '10.96.0.0/12', standard: [], large: ['65001:96:1'] },
      ],
    };
    rm.setInputs(inputs);
    await rm.settle();
    expect(show(dp.routes())).toEqual(['blackhole 10.96.0.0/12', '198.18.7.1/32 via 198.18.0.1', 'blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a', '198.19.9.9/32 dev cali0000000000b']);
    expect(Object.fromEntries(sp.announcedAttrs)).toEqual({
      '10.96.0.0/12': { largeCommunities: [[65001, 96, 1]] },
      '198.19.1.0/26': { communities: [65001 * 65536 + 100] },
      '198.19.9.9/32': { communities: [65001 * 65536 + 100, 65001 * 65536 + 200], largeCommunities: [[65001, 1, 2]], interface: 'cali0000000000b' },
    });
    const log = sp.announceLog.length;
    rm.setInputs({ ...inputs, communities: [{ cidr: '198.19.0.0/16', standard: ['65001:300'], large: [] }] });
    await rm.settle();
    // Only the prefixes whose attributes changed go out again; nothing is withdrawn.
    expect(sp.announceLog.slice(log).sort()).toEqual(['+10.96.0.0/12', '+198.19.1.0/26', '+198.19.9.9/32']);
    expect(sp.announcedAttrs.get('198.19.1.0/26')).toEqual({ communities: [65001 * 65536 + 300] });
    expect(sp.announcedAttrs.get('10.96.0.0/12')).toEqual({});
    await rm.stop();
  });
});

describe('RouteManager: routes tabby-cni adds before the agent knows the workload (route cleanup grace period)', () => {
  /** What tabby-cni writes on ADD: the agent's protocol, the container's /32 to its cali… interface. */
  const cniRoute = (prefix: string, dev: string): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ dev }] });
  const NO_WORKLOADS: RoutingInputs = { ...INPUTS, workloads: [] };

  async function scan(rm: RouteManager): Promise<void> {
    rm.schedule(0); // what the scan timer does
    await rm.settle();
  }

  /** A started manager with a 10 s grace period on a fake clock, settled on `inputs`. */
  async function graceManager(links: string[], inputs: RoutingInputs, clock: { t: number }): Promise<{ dp: MemoryDataplane; rm: RouteManager }> {
    const dp = new MemoryDataplane({ links });
    const rm = manager(dp, { routeCleanupGraceMs: 10_000, now: () => clock.t });
    await rm.start();
    rm.attach(speaker());
    rm.setInputs(inputs);
    await rm.settle();
    return { dp, rm };
  }

  it('leaves the plugin’s route alone while the workload is unknown, then adopts it unchanged (no write)', async () => {
    const clock = { t: 0 };
    const { dp, rm } = await graceManager(['cali0000000000a'], NO_WORKLOADS, clock);
    dp.setRoute(cniRoute('198.19.1.5/32', 'cali0000000000a'));
    for (const t of [0, 4_000, 9_999]) {
      clock.t = t;
      await scan(rm);
      expect(show(dp.routes()), `at ${t} ms`).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a']);
    }
    expect(rm.sparedRoutes()).toEqual(new Map([['198.19.1.5/32 dev cali0000000000a', 9_999]]));
    // The agent learns the workload: the route is its own now, as the plugin wrote it.
    rm.setInputs(INPUTS);
    await rm.settle();
    clock.t = 60_000;
    await scan(rm);
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a']);
    expect(dp.writeLog().filter((w) => w.prefix === '198.19.1.5/32')).toEqual([]);
    expect(rm.sparedRoutes().size).toBe(0);
    expect(rm.status()).toMatchObject({ workloads: 1, waitingForInterface: [] });
    await rm.stop();
  });

  it('removes it once the grace period has passed with the workload still unknown, and routes it again once learned', async () => {
    const clock = { t: 0 };
    const { dp, rm } = await graceManager(['cali0000000000a'], NO_WORKLOADS, clock);
    clock.t = 500;
    dp.setRoute(cniRoute('198.19.1.5/32', 'cali0000000000a'));
    await scan(rm); // first seen at 500
    clock.t = 10_499;
    await scan(rm);
    expect(show(dp.routes())).toContain('198.19.1.5/32 dev cali0000000000a');
    clock.t = 10_500;
    await scan(rm);
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26']);
    expect(dp.writeLog().map((w) => `${w.op} ${w.prefix}`)).toEqual(['add 198.19.1.0/26', 'del 198.19.1.5/32']);
    rm.setInputs(INPUTS);
    await rm.settle();
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a']);
    await rm.stop();
  });

  it('removes at once a route whose interface is gone, and a workload route the agent knew whose workload was deleted', async () => {
    const clock = { t: 0 };
    const { dp, rm } = await graceManager(['cali0000000000a', 'cali0000000000b'], INPUTS, clock);
    dp.setRoute(cniRoute('198.19.1.9/32', 'cali0000000000b'));
    await scan(rm);
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a', '198.19.1.9/32 dev cali0000000000b']);
    // The container of cali0000000000b goes (the kernel would take the route with it; the fake keeps it).
    dp.setLinks(['cali0000000000a']);
    clock.t = 1_000;
    await scan(rm);
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26', '198.19.1.5/32 dev cali0000000000a']);
    // The agent knew default/a: deleted, its route goes without a grace period.
    rm.setInputs(NO_WORKLOADS);
    await rm.settle();
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26']);
    await rm.stop();
  });

  it('with a grace period of 0 removes the plugin’s route at the first reconcile (the behaviour before)', async () => {
    const dp = new MemoryDataplane({ links: ['cali0000000000a'] });
    const rm = manager(dp, { routeCleanupGraceMs: 0 });
    await rm.start();
    rm.attach(speaker());
    rm.setInputs(NO_WORKLOADS);
    await rm.settle();
    dp.setRoute(cniRoute('198.19.1.5/32', 'cali0000000000a'));
    await scan(rm);
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26']);
    await rm.stop();
  });

  it('never spares a stale blackhole or a route via a gateway', async () => {
    const dp = new MemoryDataplane({ links: ['cali0000000000a'], routes: [] });
    const rm = manager(dp, { routeCleanupGraceMs: 10_000 });
    await rm.start();
    rm.attach(speaker());
    rm.setInputs(NO_WORKLOADS);
    await rm.settle();
    dp.setRoute({ prefix: '198.19.9.0/26', type: 'blackhole', nextHops: [] });
    dp.setRoute({ prefix: '198.19.8.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.13' }] });
    await scan(rm);
    expect(show(dp.routes())).toEqual(['blackhole 198.19.1.0/26']);
    await rm.stop();
  });
});

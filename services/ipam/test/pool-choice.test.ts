/**
 * Which pools an assignment may use (Calico's AutoAssign steps 2-3 and AssignIP), over a real
 * SQLite file: nodeSelector and namespaceSelector (both must match), assignmentMode, requested
 * pools, allowedUses, fixed addresses and the pools of tunnel addresses, with Calico's messages.
 */
import { parseCIDR, type ParsedCIDR } from '@tabby/api';
import { tempDir } from '@tabby/harness';
import { createLogger, ServiceError } from '@tabby/runtime';
import { mustParseSelector } from '@tabby/selector';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitter, IpamEngine, StaticClusterView, openDatabase, type BlockChange, type PoolInfo } from '../src/index.js';
import { TUNNEL_KINDS, tunnelPools } from '../src/tunnels.js';
import { fixedAddresses, namespaceLabelsOf } from '../src/workloads.js';

const logger = createLogger({ service: 'ipam-test', level: 'silent' });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

type PoolExtra = Partial<Omit<PoolInfo, 'nodeSelector' | 'namespaceSelector'>> & { nodeSelector?: string; namespaceSelector?: string };

function pool(name: string, cidr: string, extra: PoolExtra = {}): PoolInfo {
  const c = parseCIDR(cidr) as ParsedCIDR;
  return {
    name,
    cidr: c,
    blockSize: extra.blockSize ?? (c.family === 4 ? 26 : 122),
    disabled: extra.disabled ?? false,
    nodeSelector: mustParseSelector(extra.nodeSelector ?? 'all()'),
    namespaceSelector: extra.namespaceSelector ? mustParseSelector(extra.namespaceSelector) : undefined,
    allowedUses: extra.allowedUses ?? ['Workload', 'Tunnel'],
    manual: extra.manual ?? false,
    ipipMode: extra.ipipMode ?? 'Never',
    vxlanMode: extra.vxlanMode ?? 'Never',
  };
}

const NODES = { east1: { zone: 'east' }, west1: { zone: 'west' } };

function setup(pools: PoolInfo[], nodes: Record<string, Record<string, string>> = NODES) {
  const dir = tempDir('tabby-ipam-choice-');
  const db = openDatabase(dir.path, logger);
  cleanups.push(() => {
    db.close();
    dir.remove();
  });
  const view = new StaticClusterView(pools, new Map(Object.entries(nodes)));
  const engine = new IpamEngine({ db, view });
  const committer = new GroupCommitter<BlockChange>(db, logger, () => undefined);
  const assign = (node: string, handle: string, more: { ipv4Pools?: string[]; use?: string; namespaceLabels?: Record<string, string> } = {}) =>
    committer.run((tx) => engine.autoAssign(tx, { node, handle, numIpv4: 1, numIpv6: 0, ...more }));
  const assignIP = (address: string, handle: string, node = 'east1') => committer.run((tx) => engine.assignIP(tx, address, handle, node, { namespace: 'default', pod: handle }));
  return { engine, view, assign, assignIP };
}

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ServiceError);
  return err as ServiceError;
}

const inPool = (address: string, cidr: string): boolean => {
  const c = parseCIDR(cidr) as ParsedCIDR;
  const a = parseCIDR(address) as ParsedCIDR;
  return a.address.value >= c.network && a.address.value < c.network + (1n << BigInt(32 - c.prefix));
};

describe('nodeSelector and namespaceSelector', () => {
  const pools = [
    pool('a-east', '10.1.0.0/16', { nodeSelector: "zone == 'east'" }),
    pool('b-team', '10.2.0.0/16', { namespaceSelector: "team == 'blue'" }),
    pool('c-west-red', '10.3.0.0/16', { nodeSelector: "zone == 'west'", namespaceSelector: "team == 'red'" }),
  ];

  it('takes a pool only when both its selectors match (namespace labels as given, plus kubernetes.io/metadata.name)', async () => {
    const { assign } = setup(pools);
    // east1, team blue: a-east (node matches, no namespace selector) comes first by name.
    expect(inPool((await assign('east1', 'h1', { namespaceLabels: { team: 'blue' } })).ipv4[0], '10.1.0.0/16')).toBe(true);
    // west1, team blue: a-east's nodeSelector fails, b-team matches.
    expect(inPool((await assign('west1', 'h2', { namespaceLabels: { team: 'blue' } })).ipv4[0], '10.2.0.0/16')).toBe(true);
    // west1, team red: c-west-red (both selectors match).
    expect(inPool((await assign('west1', 'h3', { namespaceLabels: { team: 'red' } })).ipv4[0], '10.3.0.0/16')).toBe(true);
    // The namespace's name label, as Kubernetes sets it, can be selected on.
    const byName = setup([pool('ns', '10.4.0.0/16', { namespaceSelector: "kubernetes.io/metadata.name == 'payments'" })]);
    expect(inPool((await byName.assign('east1', 'h4', { namespaceLabels: namespaceLabelsOf('payments', {}) })).ipv4[0], '10.4.0.0/16')).toBe(true);
    const other = await failure(byName.assign('east1', 'h5', { namespaceLabels: namespaceLabelsOf('default', {}) }));
    expect(other.message).toBe('no configured Calico pools for node east1');
  });

  it('says "no configured Calico pools for node <host>" when no automatic pool selects node and namespace', async () => {
    const { assign } = setup(pools);
    const err = await failure(assign('west1', 'h1', { namespaceLabels: { team: 'green' } }));
    expect(err.reason).toBe('failed-precondition');
    expect(err.message).toBe('no configured Calico pools for node west1');
  });

  it('uses a Manual pool only when asked for, and requested pools ignore both selectors', async () => {
    const { assign } = setup([pool('manual', '10.5.0.0/16', { manual: true }), pool('west-only', '10.6.0.0/16', { nodeSelector: "zone == 'west'", namespaceSelector: "team == 'red'" })]);
    expect((await failure(assign('east1', 'h1'))).message).toBe('no configured Calico pools for node east1');
    expect(inPool((await assign('east1', 'h2', { ipv4Pools: ['manual'] })).ipv4[0], '10.5.0.0/16')).toBe(true);
    expect(inPool((await assign('east1', 'h3', { ipv4Pools: ['west-only'] })).ipv4[0], '10.6.0.0/16')).toBe(true);
  });

  it('refuses a requested pool that is disabled or unknown with Calico\'s message', async () => {
    const { assign } = setup([pool('old', '10.7.0.0/16', { disabled: true }), pool('new', '10.8.0.0/16')]);
    expect((await failure(assign('east1', 'h1', { ipv4Pools: ['old'] }))).message).toBe('the given pool (10.7.0.0/16) does not exist, or is not enabled');
    expect((await failure(assign('east1', 'h1', { ipv4Pools: ['nope'] }))).message).toBe('the given pool (nope) does not exist, or is not enabled');
  });
});

describe('allowedUses', () => {
  it('takes only pools allowing the intended use, and names the use when none does', async () => {
    const { assign } = setup([pool('tunnels', '10.10.0.0/24', { allowedUses: ['Tunnel'] }), pool('workloads', '10.11.0.0/16', { allowedUses: ['Workload'] }), pool('lb', '10.12.0.0/24', { allowedUses: ['LoadBalancer'] })]);
    expect(inPool((await assign('east1', 'w')).ipv4[0], '10.11.0.0/16')).toBe(true);
    expect(inPool((await assign('east1', 't', { use: 'Tunnel' })).ipv4[0], '10.10.0.0/24')).toBe(true);
    expect(inPool((await assign('east1', 'l', { use: 'LoadBalancer' })).ipv4[0], '10.12.0.0/24')).toBe(true);
    // A requested pool must allow the use too.
    const err = await failure(assign('east1', 'w2', { ipv4Pools: ['tunnels'] }));
    expect(err.message).toBe('cannot find a qualified ippool, no pools match the required use (Workload)');
    expect((await failure(assign('east1', 'x', { use: 'Other' }))).message).toBe('unknown use: Other (Workload, Tunnel or LoadBalancer)');
  });

  it('says so for each use no pool allows', async () => {
    const { assign } = setup([pool('only-workloads', '10.13.0.0/16', { allowedUses: ['Workload'] })]);
    for (const use of ['Tunnel', 'LoadBalancer']) {
      expect((await failure(assign('east1', `h-${use}`, { use }))).message).toBe(`cannot find a qualified ippool, no pools match the required use (${use})`);
    }
  });
});

describe('AssignIP (fixed addresses)', () => {
  it('takes the address in an enabled pool, refuses one in use, outside every pool or in a disabled pool', async () => {
    const { assignIP, engine } = setup([pool('p', '10.20.0.0/16'), pool('off', '10.21.0.0/16', { disabled: true })]);
    expect(await assignIP('10.20.3.7', 'w1')).toBe('10.20.3.7/32');
    expect(engine.getAllocation('10.20.3.7')).toMatchObject({ handle: 'w1', attributes: { namespace: 'default', pod: 'w1', node: 'east1' } });
    const used = await failure(assignIP('10.20.3.7', 'w2'));
    expect(used.reason).toBe('already-exists');
    expect(used.message).toContain('Address already assigned in block');
    expect((await failure(assignIP('10.99.0.1', 'w3'))).message).toContain('is not in a configured pool');
    expect((await failure(assignIP('10.21.0.1', 'w4'))).message).toContain('is not in a configured pool');
  });

  it('checks the ipAddrs list: IPs, at most one per family', () => {
    expect(fixedAddresses(['10.0.0.1/32', 'fd00::1'])).toEqual([
      { family: 4, address: '10.0.0.1' },
      { family: 6, address: 'fd00::1' },
    ]);
    expect(() => fixedAddresses(['10.0.0.1', '10.0.0.2'])).toThrow('ipAddrs: at most one IPv4 address may be given, got 10.0.0.1, 10.0.0.2');
    expect(() => fixedAddresses(['web'])).toThrow('ipAddrs: "web" is not an IP address');
  });
});

describe('tunnel address pools', () => {
  it('are the enabled IPv4 pools with the encapsulation on that select the node and allow Tunnel use', () => {
    const pools = [
      pool('ipip-east', '10.30.0.0/24', { ipipMode: 'Always', nodeSelector: "zone == 'east'" }),
      pool('ipip-workloads', '10.31.0.0/24', { ipipMode: 'CrossSubnet', allowedUses: ['Workload'] }),
      pool('ipip-off', '10.32.0.0/24', { ipipMode: 'Always', disabled: true }),
      pool('vxlan-all', '10.33.0.0/24', { vxlanMode: 'Always' }),
      pool('plain', '10.34.0.0/24'),
    ];
    const { view } = setup(pools);
    const [ipip, vxlan] = TUNNEL_KINDS;
    expect(tunnelPools(view, 'east1', ipip).map((p) => p.name)).toEqual(['ipip-east']);
    expect(tunnelPools(view, 'west1', ipip).map((p) => p.name)).toEqual([]);
    expect(tunnelPools(view, 'west1', vxlan).map((p) => p.name)).toEqual(['vxlan-all']);
    expect(tunnelPools(view, 'gone', vxlan)).toEqual([]);
    expect([ipip.handle('east1'), vxlan.handle('east1'), ipip.type, vxlan.type]).toEqual(['ipip-tunnel-addr-east1', 'vxlan-tunnel-addr-east1', 'ipipTunnelAddress', 'vxlanTunnelAddress']);
  });
});

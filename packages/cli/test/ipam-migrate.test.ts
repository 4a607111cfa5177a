/**
 * `ipam migrate` against an in-memory store and IPAM: the checks on the new pool, the
 * disable with resourceVersion (retried on a conflict), the list of workloads to recreate,
 * and --wait's progress, timeout, interruption and final delete.
 */
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { kindOf, metaOf, objectOf, wrap } from '@tabby/api';
import { IPPool, Node, WorkloadEndpoint, type PoolUsageResponse, type Resource } from '@tabby/proto';
import { migratePool, type MigrateDeps, type MigrateOptions } from '../src/commands/ipam-migrate.js';
import { CliError } from '../src/errors.js';
import { StoreCallError } from '../src/store-client.js';

function pool(name: string, cidr: string, spec: Partial<NonNullable<IPPool['spec']>> = {}): Resource {
  return wrap('IPPool', IPPool.fromPartial({ metadata: { name }, spec: { cidr, ...spec } }));
}
function wep(namespace: string, pod: string, node: string, nets: string[]): Resource {
  return wrap('WorkloadEndpoint', WorkloadEndpoint.fromPartial({ metadata: { name: `${node}-k8s-${pod}-eth0`, namespace }, spec: { pod, node, ipNetworks: nets } }));
}
function node(name: string, labels: Record<string, string> = {}): Resource {
  return wrap('Node', Node.fromPartial({ metadata: { name, labels } }));
}
const usage = (allocations: number, workloads: string[]): PoolUsageResponse => ({ allocations, blocks: allocations > 0 ? 1 : 0, workloads, workloadCount: workloads.length });

/** A store keeping resources by kind/namespace/name with resourceVersions, as tabby-store does. */
class FakeStore {
  readonly items = new Map<string, Resource>();
  private rv = 0;
  conflictsToSimulate = 0;
  /** Deletes refused for the ipam finalizer before it goes (and the pool gets a new version). */
  finalizerRefusals = 0;
  readonly calls: string[] = [];
  /** Runs after every list, to let a test change the world while migrate waits. */
  onList: (() => void) | undefined;

  constructor(resources: Resource[]) {
    for (const r of resources) this.put(r);
  }
  private key(kind: string, ns: string, name: string): string {
    return `${kind}/${ns}/${name}`;
  }
  put(r: Resource): void {
    const m = metaOf(r);
    m.resourceVersion = String(++this.rv);
    this.items.set(this.key(kindName(r), m.namespace, m.name), r);
  }
  get(kind: string, namespace: string, name: string): Promise<Resource> {
    const r = this.items.get(this.key(kind, namespace, name));
    if (!r) return Promise.reject(new StoreCallError(`resource does not exist: ${kind}(${name}) with error: <nil>`, status.NOT_FOUND));
    return Promise.resolve(structuredClone(r));
  }
  update(resource: Resource): Promise<Resource> {
    const m = metaOf(resource);
    const kind = kindName(resource);
    this.calls.push(`update ${kind} ${m.name} rv=${m.resourceVersion}`);
    const cur = this.items.get(this.key(kind, m.namespace, m.name));
    if (!cur) return Promise.reject(new StoreCallError('not found', status.NOT_FOUND));
    if (this.conflictsToSimulate > 0) {
      this.conflictsToSimulate--;
      // someone else changed it meanwhile
      metaOf(cur).labels = { touched: 'yes' };
      metaOf(cur).resourceVersion = String(++this.rv);
    }
    if (metaOf(cur).resourceVersion !== m.resourceVersion) return Promise.reject(new StoreCallError(`update conflict: IPPool(${m.name})`, status.FAILED_PRECONDITION));
    const next = structuredClone(resource);
    this.put(next);
    return Promise.resolve(structuredClone(next));
  }
  list(kind: string): Promise<{ items: Resource[]; revision: number }> {
    const items = [...this.items.entries()].filter(([k]) => k.startsWith(`${kind}/`)).map(([, r]) => structuredClone(r));
    this.onList?.();
    return Promise.resolve({ items, revision: this.rv });
  }
  delete(kind: string, namespace: string, name: string, resourceVersion = '', force = false): Promise<Resource> {
    this.calls.push(`delete ${kind} ${name} rv=${resourceVersion} force=${force}`);
    const k = this.key(kind, namespace, name);
    const cur = this.items.get(k);
    if (!cur) return Promise.reject(new StoreCallError('not found', status.NOT_FOUND));
    if (this.finalizerRefusals > 0) {
      // tabby-ipam's finalizer is still on its way out: refused, then gone (a new version).
      this.finalizerRefusals--;
      if (this.finalizerRefusals === 0) this.put(cur);
      return Promise.reject(new StoreCallError(`IPPool(${name}) is still in use: finalizer ipam.tabby.io/allocations (tabby-ipam holds addresses in it).`, status.FAILED_PRECONDITION));
    }
    this.items.delete(k);
    return Promise.resolve(cur);
  }
}

function kindName(r: Resource): string {
  return kindOf(r).kind;
}

interface Harness {
  store: FakeStore;
  out: string;
  err: string;
  deps: MigrateDeps;
  usages: PoolUsageResponse[];
  interrupt: () => void;
}

function harness(resources: Resource[], usages: PoolUsageResponse[]): Harness {
  const store = new FakeStore(resources);
  let clock = 0;
  let interrupt: () => void = () => undefined;
  const interrupted = new Promise<void>((r) => (interrupt = r));
  const h: Harness = {
    store,
    out: '',
    err: '',
    usages,
    interrupt: () => interrupt(),
    deps: {
      store,
      ipam: {
        poolUsage: () => Promise.resolve(h.usages.length > 1 ? h.usages.shift()! : h.usages[0]),
      },
      stdout: (t) => (h.out += t),
      stderr: (t) => (h.err += t),
      sleep: (ms) => {
        clock += ms;
        return Promise.resolve();
      },
      now: () => clock,
      interrupted,
    },
  };
  return h;
}

const CLUSTER = (): Resource[] => [
  pool('default-ipv4-ippool', '192.168.0.0/16', { ipipMode: 'Always', natOutgoing: true }),
  pool('new-pool', '10.0.0.0/16', { ipipMode: 'Always', natOutgoing: true }),
  pool('v6-pool', 'fd00:10::/48'),
  pool('off-pool', '10.1.0.0/16', { disabled: true }),
  node('vagrant', { rack: 'r1' }),
  wep('kube-system', 'kube-dns-6f4fd4bdf-8q7zp', 'vagrant', ['192.168.52.130/32']),
  wep('default', 'web-1', 'vagrant', ['10.0.24.8/32']),
];

const opts = (o: Partial<MigrateOptions> = {}): MigrateOptions => ({ from: 'default-ipv4-ippool', to: 'new-pool', wait: false, intervalMs: 1000, ...o });
const disabled = (h: Harness, name: string): boolean | undefined => (objectOf(h.store.items.get(`IPPool//${name}`)!) as IPPool).spec?.disabled;

describe('ipam migrate refuses an unsafe target, changing nothing', () => {
  it.each([
    [{ to: 'nope' }, 'IP pool nope does not exist: create it first (tabbyctl create -f new-pool.yaml), then run the migration'],
    [{ to: 'off-pool' }, `IP pool off-pool is disabled: workloads could not get addresses from it. Enable it first: tabbyctl patch ippool off-pool -p '{"spec":{"disabled":false}}'`],
    [
      { to: 'v6-pool' },
      'IP pools default-ipv4-ippool (192.168.0.0/16, IPv4) and v6-pool (fd00:10::/48, IPv6) are of different IP families: workloads leaving default-ipv4-ippool would get no IPv4 address from v6-pool',
    ],
    [{ to: 'default-ipv4-ippool' }, '--from and --to both name default-ipv4-ippool: give the pool to leave and the pool to move to'],
    [{ from: 'gone' }, 'IP pool gone does not exist (was it deleted already? tabbyctl get ippool lists the pools)'],
  ])('%j', async (o, message) => {
    const h = harness(CLUSTER(), [usage(0, [])]);
    await expect(migratePool(opts(o), h.deps)).rejects.toThrow(message);
    expect(h.store.calls).toEqual([]);
    expect(disabled(h, 'default-ipv4-ippool')).toBeFalsy();
  });
});

describe('ipam migrate without --wait', () => {
  it('disables the old pool with its resourceVersion, lists the workloads and says what to do next', async () => {
    const h = harness(CLUSTER(), [usage(1, ['kube-system/kube-dns-6f4fd4bdf-8q7zp'])]);
    expect(await migratePool(opts(), h.deps)).toBe(0);
    expect(h.store.calls).toEqual(['update IPPool default-ipv4-ippool rv=1']);
    expect(disabled(h, 'default-ipv4-ippool')).toBe(true);
    expect(h.out).toBe(
      [
        'IP pool new-pool (10.0.0.0/16) is enabled and takes IPv4 workload addresses.',
        'Disabled IP pool default-ipv4-ippool (192.168.0.0/16): it gives no new addresses; its workloads keep theirs until they are recreated.',
        '1 workload still has addresses in default-ipv4-ippool and must be recreated to move to new-pool:',
        'NAMESPACE     WORKLOAD                   NODE      NETWORKS            ',
        'kube-system   kube-dns-6f4fd4bdf-8q7zp   vagrant   192.168.52.130/32   ',
        '',
        'Next: recreate each of these workloads so it gets an address from new-pool (Kubernetes: kubectl delete pod -n NAMESPACE WORKLOAD; ' +
          'without an orchestrator: tabbyctl workload delete NAMESPACE/WORKLOAD, then tabbyctl workload add NAMESPACE/WORKLOAD --node NODE). Then',
        '  tabbyctl ipam migrate --from default-ipv4-ippool --to new-pool --wait',
        'waits until nothing uses default-ipv4-ippool and deletes it. Until then default-ipv4-ippool stays disabled; its workloads keep working.',
        '',
      ].join('\n'),
    );
    expect(h.err).toBe('');
  });

  it('re-reads the pool and retries when the update conflicts', async () => {
    const h = harness(CLUSTER(), [usage(0, [])]);
    h.store.conflictsToSimulate = 1;
    expect(await migratePool(opts(), h.deps)).toBe(0);
    expect(h.store.calls).toEqual(['update IPPool default-ipv4-ippool rv=1', 'update IPPool default-ipv4-ippool rv=8']);
    expect(disabled(h, 'default-ipv4-ippool')).toBe(true);
    // the other writer's change is kept
    expect(metaOf(h.store.items.get('IPPool//default-ipv4-ippool')!).labels).toEqual({ touched: 'yes' });
  });

  it('is idempotent: an already disabled pool is left as it is', async () => {
    const h = harness(CLUSTER(), [usage(0, [])]);
    await migratePool(opts(), h.deps);
    h.store.items.delete('WorkloadEndpoint/kube-system/vagrant-k8s-kube-dns-6f4fd4bdf-8q7zp-eth0');
    h.store.calls.length = 0;
    h.out = '';
    expect(await migratePool(opts(), h.deps)).toBe(0);
    expect(h.store.calls).toEqual([]);
    expect(h.out).toContain('IP pool default-ipv4-ippool (192.168.0.0/16) is already disabled.\n');
    expect(h.out).toContain('Nothing uses default-ipv4-ippool any more. Delete it with:\n  tabbyctl delete ippool default-ipv4-ippool\n');
  });

  it('lists leaked allocations IPAM knows of, and warns when the new pool does not select a node', async () => {
    const resources = CLUSTER();
    resources[1] = pool('new-pool', '10.0.0.0/16', { nodeSelector: "rack == 'r2'" });
    const h = harness(resources, [usage(2, ['default/ghost', 'kube-system/kube-dns-6f4fd4bdf-8q7zp'])]);
    await migratePool(opts(), h.deps);
    expect(h.out).toContain(
      '2 workloads still have addresses in default-ipv4-ippool and must be recreated to move to new-pool:\n' +
        'NAMESPACE     WORKLOAD                   NODE      NETWORKS                                  \n' +
        'default       ghost                      -         (no WorkloadEndpoint: leaked addresses)   \n' +
        'kube-system   kube-dns-6f4fd4bdf-8q7zp   vagrant   192.168.52.130/32                         \n',
    );
    expect(h.err).toBe(
      "warning: new-pool's nodeSelector (rack == 'r2') does not select node vagrant, which runs 1 of these workloads: recreated there, they get addresses from another enabled pool, or none\n",
    );
  });
});

describe('ipam migrate --wait', () => {
  it('shows one line per change until the old pool is empty, then deletes it with its resourceVersion', async () => {
    const h = harness(CLUSTER(), [
      usage(2, ['default/a', 'default/b']),
      usage(2, ['default/a', 'default/b']),
      usage(2, ['default/a', 'default/b']),
      usage(1, ['default/b']),
      usage(1, []),
      usage(0, []),
    ]);
    // The store's endpoint goes away with the first recreated workload.
    const wepKey = 'WorkloadEndpoint/kube-system/vagrant-k8s-kube-dns-6f4fd4bdf-8q7zp-eth0';
    let lists = 0;
    h.store.onList = () => {
      if (++lists === 2) h.store.items.delete(wepKey);
    };
    expect(await migratePool(opts({ wait: true }), h.deps)).toBe(0);
    const progress = h.out.split('\n').filter((l) => /left in|Deleted/.test(l));
    expect(progress).toEqual([
      '3 workloads left in default-ipv4-ippool',
      '2 workloads left in default-ipv4-ippool',
      '1 workload left in default-ipv4-ippool',
      '0 workloads left in default-ipv4-ippool, but 1 address still allocated in it (tabbyctl ipam check tells why)',
      '0 workloads left in default-ipv4-ippool',
      'Deleted IP pool default-ipv4-ippool: migration to new-pool complete.',
    ]);
    expect(h.store.calls).toEqual(['update IPPool default-ipv4-ippool rv=1', 'delete IPPool default-ipv4-ippool rv=8 force=false']);
    expect(h.store.items.has('IPPool//default-ipv4-ippool')).toBe(false);
  });

  it("retries the delete while tabby-ipam's finalizer is still leaving the emptied pool", async () => {
    const h = harness(CLUSTER(), [usage(0, [])]);
    h.store.items.delete('WorkloadEndpoint/kube-system/vagrant-k8s-kube-dns-6f4fd4bdf-8q7zp-eth0');
    h.store.finalizerRefusals = 2;
    expect(await migratePool(opts({ wait: true }), h.deps)).toBe(0);
    expect(h.store.calls.filter((c) => c.startsWith('delete'))).toEqual([
      'delete IPPool default-ipv4-ippool rv=8 force=false',
      'delete IPPool default-ipv4-ippool rv=8 force=false',
      'delete IPPool default-ipv4-ippool rv=9 force=false',
    ]);
    expect(h.out).toContain('Deleted IP pool default-ipv4-ippool: migration to new-pool complete.');
  });

  it('gives up after --timeout, leaving the old pool disabled and in place', async () => {
    const h = harness(CLUSTER(), [usage(1, ['kube-system/kube-dns-6f4fd4bdf-8q7zp'])]);
    await expect(migratePool(opts({ wait: true, timeoutMs: 5000 }), h.deps)).rejects.toThrow(
      'timed out after 5s with 1 workload left in default-ipv4-ippool: default-ipv4-ippool stays disabled and is not deleted; run this command again to keep waiting',
    );
    expect(disabled(h, 'default-ipv4-ippool')).toBe(true);
    expect(h.store.calls.filter((c) => c.startsWith('delete'))).toEqual([]);
  });

  it('stops on an interruption with exit code 130, leaving the old pool disabled and in place', async () => {
    const h = harness(CLUSTER(), [usage(1, ['kube-system/kube-dns-6f4fd4bdf-8q7zp'])]);
    let looks = 0;
    h.store.onList = () => {
      if (++looks === 3) h.interrupt();
    };
    const err = await migratePool(opts({ wait: true }), h.deps).catch((e: unknown) => e);
    expect(err).toMatchObject({ exitCode: 130, message: expect.stringContaining('interrupted with 1 workload left in default-ipv4-ippool') as unknown });
    expect(disabled(h, 'default-ipv4-ippool')).toBe(true);
    expect(h.store.calls.filter((c) => c.startsWith('delete'))).toEqual([]);
  });

  it('keeps waiting through an ipam restart, saying so once', async () => {
    const h = harness(CLUSTER(), [usage(1, ['kube-system/kube-dns-6f4fd4bdf-8q7zp'])]);
    h.store.items.delete('WorkloadEndpoint/kube-system/vagrant-k8s-kube-dns-6f4fd4bdf-8q7zp-eth0');
    let calls = 0;
    h.deps = {
      ...h.deps,
      ipam: {
        poolUsage: () => {
          calls++;
          if (calls === 1) return Promise.resolve(usage(1, ['kube-system/kube-dns-6f4fd4bdf-8q7zp']));
          if (calls <= 4) return Promise.reject(new CliError('cannot reach the Tabby ipam at 127.0.0.1:1 (connection refused)'));
          return Promise.resolve(usage(0, []));
        },
      },
    };
    expect(await migratePool(opts({ wait: true }), h.deps)).toBe(0);
    expect(h.err).toBe('cannot reach the Tabby ipam at 127.0.0.1:1 (connection refused); still waiting\n');
    expect(h.out).toContain('1 workload left in default-ipv4-ippool\n0 workloads left in default-ipv4-ippool\nDeleted IP pool default-ipv4-ippool');
  });

  it('does not delete a pool someone enabled again while it waited', async () => {
    const h = harness(CLUSTER(), [usage(1, ['kube-system/kube-dns-6f4fd4bdf-8q7zp']), usage(0, [])]);
    const wepKey = 'WorkloadEndpoint/kube-system/vagrant-k8s-kube-dns-6f4fd4bdf-8q7zp-eth0';
    let lists = 0;
    h.store.onList = () => {
      if (++lists !== 1) return;
      h.store.items.delete(wepKey);
      const p = h.store.items.get('IPPool//default-ipv4-ippool')!;
      (objectOf(p) as IPPool).spec!.disabled = false;
    };
    await expect(migratePool(opts({ wait: true }), h.deps)).rejects.toThrow('IP pool default-ipv4-ippool was enabled again while waiting: not deleting it');
    expect(h.store.items.has('IPPool//default-ipv4-ippool')).toBe(true);
  });
});

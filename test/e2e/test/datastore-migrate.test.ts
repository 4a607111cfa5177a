/**
 * `tabbyctl datastore migrate lock | export | import | unlock` and `datastore status` against
 * real processes: tabby-store and tabby-ipam on SQLite files with resources and workloads,
 * moved to a real etcd (and back to new SQLite files), with every resource, address, handle,
 * attribute and affinity kept; writes refused while locked; `ipam check` clean afterwards;
 * Calico's keys in etcd; and the refusals (not locked, not empty, a malformed file).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, startEtcdCluster, startNats, startService, tempDir, type EtcdCluster, type ServiceProcess } from '@tabby/harness';
import { tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-datastore-migrate-');
let natsUrl: string;
let etcd: EtcdCluster;

interface Plane {
  readonly store: ServiceProcess;
  readonly ipam: ServiceProcess;
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** tabby-store and tabby-ipam on SQLite files in `name`, or on the test's etcd. */
async function startPlane(name: string, datastore: 'sqlite' | 'etcd'): Promise<Plane> {
  const where = datastore === 'etcd' ? ['--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints] : ['--data-dir', path.join(dir.path, name, 'store')];
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--nats', natsUrl, ...where]);
  const ipamWhere = datastore === 'etcd' ? ['--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints] : ['--data-dir', path.join(dir.path, name, 'ipam')];
  const ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--store', store.address, '--nats', natsUrl, '--recovery-interval', '1', ...ipamWhere]);
  return {
    store,
    ipam,
    env: { TABBY_STORE_ADDR: store.address, TABBY_IPAM_ADDR: ipam.address },
    stop: async () => {
      await ipam.process.stop();
      await store.process.stop();
    },
  };
}

function run(p: Plane, args: readonly string[], stdin?: string): Promise<CliResult> {
  return tabbyctl(args, { cwd: dir.path, env: p.env, stdin });
}

async function ok(p: Plane, args: readonly string[], stdin?: string): Promise<string> {
  const r = await run(p, args, stdin);
  expect(r.code, `tabbyctl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

const MANIFESTS = `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: 64512
  nodeToNodeMeshEnabled: false
---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: n1
  labels: {rack: r1}
spec:
  bgp: {ipv4Address: 127.0.0.11/32}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: n2
spec:
  bgp: {ipv4Address: 127.0.0.12/32}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: blue
spec:
  cidr: 10.77.0.0/16
  blockSize: 26
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  peerIP: 192.20.30.40
  asNumber: 64567
`;

/** Everything `get -o yaml` prints, without resourceVersions (they are the new datastore's). */
async function snapshot(p: Plane): Promise<string> {
  const out: string[] = [];
  for (const kind of ['bgpconfig', 'node', 'ippool', 'bgppeer']) out.push(await ok(p, ['get', kind, '-o', 'yaml']));
  out.push(await ok(p, ['get', 'wep', '-A', '-o', 'yaml']));
  return out.join('---\n').replace(/^\s*resourceVersion: .*\n/gm, '');
}

/** `ipam show --ip` of each address (its attributes: handle, node, pod). */
async function allocations(p: Plane, addresses: readonly string[]): Promise<string[]> {
  return Promise.all(addresses.map((a) => ok(p, ['ipam', 'show', '--ip', a])));
}

/** The export without its header comment (which names the datastore and the time). */
const body = (file: string): string => file.replace(/^(#.*\n)+/, '');

let sqliteA: Plane;
const addresses: string[] = [];
let before = '';
let beforeAllocations: string[] = [];
let exported = '';

beforeAll(async () => {
  natsUrl = (await startNats(group, dir.path)).url;
  etcd = await startEtcdCluster(group, dir.path);
  sqliteA = await startPlane('a', 'sqlite');
  await ok(sqliteA, ['create', '-f', '-'], MANIFESTS);
  await eventually('tabby-ipam to see the pool', async () => (await run(sqliteA, ['ipam', 'show'])).stdout.includes('10.77.0.0/16'), 30_000);
  for (const [name, node] of [['default/w1', 'n1'], ['default/w2', 'n1'], ['prod/w3', 'n2']]) {
    const out = await ok(sqliteA, ['workload', 'add', name, '--node', node]);
    addresses.push(/addresses: ([0-9.]+)\/32/.exec(out)![1]);
  }
  // A released address leaves a hole: the free list's order must survive the move too.
  await ok(sqliteA, ['workload', 'delete', 'default/w2']);
  addresses.splice(1, 1);
  before = await snapshot(sqliteA);
  beforeAllocations = await allocations(sqliteA, addresses);
}, 120_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

describe('datastore migrate', () => {
  it('sqlite to etcd: lock refuses writes, export, import into etcd, unlock; everything kept', async () => {
    const unlocked = await run(sqliteA, ['datastore', 'migrate', 'export']);
    expect(unlocked.code).toBe(1);
    expect(unlocked.stderr).toMatch(/is not locked: run tabbyctl datastore migrate lock first/);

    expect(await ok(sqliteA, ['datastore', 'migrate', 'lock'])).toMatch(/tabby-ipam at .*: datastore locked; writes are refused\ntabby-store at .*: datastore locked/);
    const add = await run(sqliteA, ['workload', 'add', 'default/late', '--node', 'n1']);
    expect(add.code).toBe(1);
    expect(add.stderr).toMatch(/locked for a migration/);
    const create = await run(sqliteA, ['create', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: late\nspec:\n  peerIP: 192.20.30.41\n  asNumber: 64568\n');
    expect(create.code).toBe(1);
    expect(create.stderr).toMatch(/locked for a migration/);

    exported = await ok(sqliteA, ['datastore', 'migrate', 'export']);
    writeFileSync(path.join(dir.path, 'sqlite.yaml'), exported);
    expect(exported).toMatch(/^# tabbyctl datastore migrate export/);
    expect(exported).toContain('kind: IPPool');
    expect(exported).toContain(`apiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock`);
    expect(exported).toMatch(/kind: IPAMHandle\n/);
    expect(exported).toMatch(/kind: BlockAffinity\n/);
    expect(exported).not.toMatch(/resourceVersion/);
    await sqliteA.stop();

    const etcdB = await startPlane('b', 'etcd');
    const status = await ok(etcdB, ['datastore', 'status']);
    expect(status).toMatch(/^SERVICE {3,}DATASTORE {3,}REVISION {3,}LOCKED {3,}LOCATION {3,}\ntabby-store {3,}etcd {3,}\d+ {3,}no {3,}http:\/\/127\.0\.0\.1:\d+ +\ntabby-ipam {3,}etcd {3,}0 {3,}no {3,}http:\/\/127\.0\.0\.1:\d+ +\n/);
    expect(status).toMatch(/\netcd cluster [0-9a-f]+, revision \d+:\nMEMBER {3,}ID {3,}CLIENT URLS {3,}PEER URLS {3,}LEADER {3,}\netcd1 {3,}[0-9a-f]+ {3,}http:\/\/127\.0\.0\.1:\d+ {3,}http:\/\/127\.0\.0\.1:\d+ {3,}yes {3,}\n/);
    expect(status).toMatch(/\ntabby-store {3,}IPPool {3,}0 {3,}\n/);

    const imported = await ok(etcdB, ['datastore', 'migrate', 'import', '-f', 'sqlite.yaml']);
    expect(imported).toMatch(/^Imported 7 resources into tabby-store at .* \(etcd\) and \d+ IPAM records into tabby-ipam at .* \(etcd\)\.\nBoth datastores stay locked/);
    const lockedAdd = await run(etcdB, ['workload', 'add', 'default/early', '--node', 'n1']);
    expect(lockedAdd.code).toBe(1);
    expect(lockedAdd.stderr).toMatch(/locked for a migration/);
    const again = await run(etcdB, ['datastore', 'migrate', 'import', '-f', 'sqlite.yaml']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^tabby-store at http:\/\/127\.0\.0\.1:\d+ \(etcd\) is not empty \(BGPConfiguration: 1, BGPPeer: 1, IPPool: 1, Node: 2, WorkloadEndpoint: 2\): import only into new, empty datastores\n$/);
    await ok(etcdB, ['datastore', 'migrate', 'unlock']);

    expect(await snapshot(etcdB)).toBe(before);
    await eventually('tabby-ipam on etcd to follow the imported pool', async () => (await run(etcdB, ['ipam', 'show'])).stdout.includes('10.77.0.0/16'), 30_000);
    expect(await allocations(etcdB, addresses)).toEqual(beforeAllocations);
    expect(await ok(etcdB, ['ipam', 'check'])).toMatch(/found 0 problems\.\n$/);
    const keys = (await etcd.etcdctl(['get', '--prefix', '/calico', '--keys-only'])).split('\n').filter((k) => k !== '');
    expect(keys).toEqual(
      expect.arrayContaining([
        '/calico/resources/v3/projectcalico.org/ippools/blue',
        '/calico/resources/v3/projectcalico.org/nodes/n1',
        '/calico/resources/v3/projectcalico.org/bgpconfigurations/default',
        '/calico/resources/v3/projectcalico.org/workloadendpoints/prod/n2-k8s-w3-eth0',
        '/calico/ipam/v2/config',
        expect.stringMatching(/^\/calico\/ipam\/v2\/assignment\/ipv4\/block\/10\.77\.\d+\.\d+-26$/),
        expect.stringMatching(/^\/calico\/ipam\/v2\/host\/n1\/ipv4\/block\/10\.77\.\d+\.\d+-26$/),
        expect.stringMatching(/^\/calico\/ipam\/v2\/handle\/.+/),
      ]),
    );
    // IPAM goes on where it left off: a new workload gets an address none of the old ones has.
    const next = /addresses: ([0-9.]+)\/32/.exec(await ok(etcdB, ['workload', 'add', 'default/w4', '--node', 'n1']))![1];
    expect(addresses).not.toContain(next);
    await ok(etcdB, ['workload', 'delete', 'default/w4']);

    // And back: etcd to new SQLite files; the export is the same, record for record.
    await ok(etcdB, ['datastore', 'migrate', 'lock']);
    const fromEtcd = await ok(etcdB, ['datastore', 'migrate', 'export']);
    writeFileSync(path.join(dir.path, 'etcd.yaml'), fromEtcd);
    await etcdB.stop();
    const sqliteC = await startPlane('c', 'sqlite');
    await ok(sqliteC, ['datastore', 'migrate', 'import', '-f', 'etcd.yaml']);
    expect(await ok(sqliteC, ['datastore', 'status'])).toMatch(/\ntabby-store {3,}sqlite {3,}\d+ {3,}yes {3,}\S+store\.db +\ntabby-ipam {3,}sqlite {3,}\d+ {3,}yes {3,}\S+ipam\.db +\n/);
    const fromSqlite = await ok(sqliteC, ['datastore', 'migrate', 'export']);
    await ok(sqliteC, ['datastore', 'migrate', 'unlock']);
    expect(await snapshot(sqliteC)).toBe(before);
    await eventually('tabby-ipam on sqlite to follow the imported pool', async () => (await run(sqliteC, ['ipam', 'show'])).stdout.includes('10.77.0.0/16'), 30_000);
    expect(await allocations(sqliteC, addresses)).toEqual(beforeAllocations);
    expect(await ok(sqliteC, ['ipam', 'check'])).toMatch(/found 0 problems\.\n$/);
    // w4 came and went on etcd: its release moved its ordinal to the end of the free list,
    // and so it is in the new file. SQLite keeps no Calico sequence numbers (only etcd has them).
    const noSequence = (text: string): string => body(text).replace(/^ {2}sequenceNumber(ForAllocation)?: .*\n/gm, '');
    expect(noSequence(fromSqlite)).toBe(noSequence(fromEtcd));
    expect(noSequence(fromEtcd)).not.toBe(noSequence(exported));
    await sqliteC.stop();
  }, 360_000);

  it('refuses a malformed file, naming the line, and changes nothing', async () => {
    const fresh = await startPlane('d', 'sqlite');
    const badYaml = 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: x\nspec:\n  cidr: [10.0.0.0/16\n';
    writeFileSync(path.join(dir.path, 'bad.yaml'), badYaml);
    const r1 = await run(fresh, ['datastore', 'migrate', 'import', '-f', 'bad.yaml']);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/^failed to import: bad\.yaml: .*line \d+/);
    const badBlock = `${body(exported)}---\napiVersion: crd.projectcalico.org/v1\nkind: IPAMBlock\nmetadata:\n  name: x\nspec:\n  cidr: 10.77.9.0/26\n  allocations: nope\n`;
    writeFileSync(path.join(dir.path, 'bad-block.yaml'), badBlock);
    const line = badBlock.split('\n').lastIndexOf('apiVersion: crd.projectcalico.org/v1') + 1;
    const r2 = await run(fresh, ['datastore', 'migrate', 'import', '-f', 'bad-block.yaml']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toBe(`failed to import: bad-block.yaml: document ${badBlock.split('\n---\n').length} (line ${line}): IPAMBlock: spec.allocations: expected a list\n`);
    // A block whose ordinals do not add up is refused by tabby-ipam, before the store is touched.
    const hole = exported.replace(/unallocated: \[(\d+),/, 'unallocated: [');
    writeFileSync(path.join(dir.path, 'hole.yaml'), hole);
    const r3 = await run(fresh, ['datastore', 'migrate', 'import', '-f', 'hole.yaml']);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/IPAMBlock 10\.77\.\d+\.\d+\/26\): 1 ordinals are neither allocated nor unallocated/);
    expect(await ok(fresh, ['get', 'ippool'])).not.toContain('blue');
    await fresh.stop();
  }, 120_000);
});

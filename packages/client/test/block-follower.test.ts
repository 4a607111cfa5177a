/**
 * BlockFollower against real tabby-store and tabby-ipam processes over loopback gRPC (two IPAM
 * replicas sharing one SQLite file; the binaries `npm test` builds first): the snapshot, the
 * other replica's commits, a replica killed (the stream resumes on the other one from the
 * revision reached), and a replica restarted after changes it cannot tell (OUT_OF_RANGE: a new
 * snapshot, the difference delivered).
 */
import { Writable } from 'node:stream';
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { ProcessGroup, eventually, freePort, startService, tempDir, type ServiceProcess } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary, createLogger } from '@tabby/runtime';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BlockFollower, dialIpam, type BlockChange } from '../src/index.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-block-follower-');
afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const call = <Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req) => callUnary(method, req, { timeoutMs: 30_000 });

function one(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors[0]?.message);
  return r.resources[0].resource;
}

/** The follower's log lines, to tell a resume from a new snapshot. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      cb();
    },
  });
  return { logger: createLogger({ service: 'block-follower-test', level: 'info', destination }), lines };
}

interface Setup {
  store: ServiceProcess;
  ipamArgs: string[];
}

async function setup(name: string): Promise<Setup> {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/${name}/store`]);
  const s = new ResourceStoreClient(store.address, credentials.createInsecure());
  await call(s.create.bind(s), {
    resource: one(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 10.80.0.0/16
  blockSize: 26
`),
  });
  for (const n of ['node-a', 'node-b', 'node-c']) {
    await call(s.create.bind(s), {
      resource: one(`apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ${n}
spec:
  bgp:
    ipv4Address: 127.0.0.11/32
`),
    });
  }
  s.close();
  return { store, ipamArgs: ['--data-dir', `${dir.path}/${name}/ipam`, '--store', store.address, '--recovery-interval', '1'] };
}

async function startIpam(s: Setup, port: number): Promise<{ proc: ServiceProcess; client: IpamClient }> {
  const proc = await startService(group, 'ipam', ['--listen', `127.0.0.1:${port}`, ...s.ipamArgs]);
  const client = new IpamClient(proc.address, credentials.createInsecure());
  await eventually('ipam to see the pool', async () => (await call(client.utilization.bind(client), { includeBlocks: false })).pools.length === 1 || undefined, 15_000, 50);
  return { proc, client };
}

const add = (client: IpamClient, name: string, node: string) =>
  call(client.workloadAdd.bind(client), { namespace: 'default', name, node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
const del = (client: IpamClient, name: string) => call(client.workloadDelete.bind(client), { namespace: 'default', name });

async function listed(client: IpamClient): Promise<string[]> {
  const r = await call(client.listBlocks.bind(client), { node: '' });
  return r.blocks.map((b) => `${b.cidr}@${b.node}`).sort();
}
const viewOf = (f: BlockFollower): string[] => f.list().map((b) => `${b.cidr}@${b.node}`).sort();
const describeChange = (c: BlockChange): string => `${c.block ? (c.previous ? 'modified' : 'added') : 'deleted'} ${c.previous?.node ?? ''}>${c.block?.node ?? ''}`;

let follower: BlockFollower | undefined;
afterEach(async () => {
  await follower?.stop();
  follower = undefined;
});

describe('BlockFollower against real tabby-ipam replicas', () => {
  it('follows both replicas\' commits, and when its replica is killed resumes on the other from the revision reached', async () => {
    const s = await setup('resume');
    const [pa, pb] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
    const a = await startIpam(s, pa);
    const b = await startIpam(s, pb);
    await add(a.client, 'w1', 'node-a');
    const { logger, lines } = capturedLogger();
    const client = dialIpam({ address: `127.0.0.1:${pa},127.0.0.1:${pb}`, logger });
    follower = new BlockFollower({ client, logger, backoff: { initialMs: 100, maxMs: 500 }, bookmarkIntervalS: 1 });
    const changes: string[] = [];
    follower.onChange((cs) => changes.push(...cs.map(describeChange)));
    await follower.start();
    expect(viewOf(follower)).toEqual(await listed(a.client));
    expect(changes).toEqual(['added >node-a']);

    await add(b.client, 'w2', 'node-b');
    await add(a.client, 'w3', 'node-c');
    await eventually('both replicas\' claims', () => follower!.list().length === 3, 10_000, 20);
    await del(b.client, 'w2');
    await eventually('the release', () => follower!.list().length === 2, 10_000, 20);
    expect(changes).toEqual(['added >node-a', 'added >node-b', 'added >node-c', 'deleted node-b>']);
    const reached = follower.revision;

    // Kill one replica hard: the stream (on either) ends up on b, resumed, not a new snapshot.
    a.proc.process.signal('SIGKILL');
    await a.proc.process.exited();
    await add(b.client, 'w4', 'node-b');
    await eventually('the claim made after the kill', () => follower!.list().length === 3, 20_000, 50);
    expect(follower.revision).toBeGreaterThan(reached);
    expect(viewOf(follower)).toEqual(await listed(b.client));
    expect(lines.some((l) => l.includes('taking a new snapshot'))).toBe(false);
    client.close();
  }, 120_000);

  it('after a replica restarts past changes it cannot tell (OUT_OF_RANGE), takes a new snapshot and delivers the difference', async () => {
    const s = await setup('out-of-range');
    const pa = await freePort('127.0.0.1');
    let a = await startIpam(s, pa);
    const b = await startIpam(s, 0);
    await add(a.client, 'w1', 'node-a');
    await add(a.client, 'w2', 'node-b');
    const { logger, lines } = capturedLogger();
    // Only replica a: when it is gone the follower waits for it.
    const client = dialIpam({ address: `127.0.0.1:${pa}`, logger });
    follower = new BlockFollower({ client, logger, backoff: { initialMs: 100, maxMs: 500 }, bookmarkIntervalS: 1 });
    const changes: string[] = [];
    follower.onChange((cs) => changes.push(...cs.map(describeChange)));
    await follower.start();
    expect(follower.list().length).toBe(2);
    changes.length = 0;

    a.proc.process.signal('SIGKILL');
    await a.proc.process.exited();
    // While a is down, b releases node-b's block and claims one for node-c.
    await del(b.client, 'w2');
    await add(b.client, 'w3', 'node-c');
    expect(viewOf(follower).map((v) => v.split('@')[1])).toEqual(['node-a', 'node-b']);
    a = await startIpam(s, pa);
    // a started after those deletions: it cannot resume the follower's revision.
    await eventually('the new snapshot', () => follower!.list().some((x) => x.node === 'node-c'), 30_000, 50);
    expect(viewOf(follower)).toEqual(await listed(a.client));
    expect(changes.sort()).toEqual(['added >node-c', 'deleted node-b>']);
    expect(lines.some((l) => l.includes('taking a new snapshot'))).toBe(true);

    // And it follows live again.
    await add(b.client, 'w4', 'node-b');
    await eventually('live again', () => follower!.list().some((x) => x.node === 'node-b'), 10_000, 20);
    client.close();
  }, 120_000);
});

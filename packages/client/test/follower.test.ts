import { credentials } from '@grpc/grpc-js';
import { parseManifest, metaOf } from '@tabby/api';
import { ProcessGroup, eventually, freePort, startService, tempDir } from '@tabby/harness';
import { ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary, createLogger } from '@tabby/runtime';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StoreFollower, type FollowEvent } from '../src/index.js';

const group = new ProcessGroup();
const dirs: { remove(): void }[] = [];
afterAll(async () => {
  await group.stopAll();
  for (const d of dirs) d.remove();
});

function node(name: string, labels: Record<string, string> = {}): Resource {
  const labelText = Object.entries(labels)
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  const r = parseManifest(`apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ${name}
${labelText ? `  labels:\n${labelText}\n` : ''}spec:
  bgp:
    ipv4Address: 127.0.0.1/32
`);
  if (r.errors.length > 0) throw new Error(r.errors[0]?.message);
  return r.resources[0].resource;
}

function pool(i: number): Resource {
  const r = parseManifest(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-${i}
spec:
  cidr: 10.${Math.floor(i / 256)}.${i % 256}.0/24
`);
  return r.resources[0].resource;
}

async function startStore(port: number, dataDir: string) {
  return startService(group, 'store', ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--event-retention', '1000']);
}

const logger = createLogger({ service: 'follower-test', level: 'silent' });
let follower: StoreFollower | undefined;
afterEach(async () => {
  await follower?.stop();
  follower = undefined;
});

function names(f: StoreFollower): string[] {
  return f.list('Node').map((r) => metaOf(r).name);
}

describe('StoreFollower against a real tabby-store', () => {
  it('lists, then follows every change in order, and delivers the initial list as a resync', async () => {
    const dir = tempDir('tabby-follower-');
    dirs.push(dir);
    const port = await freePort('127.0.0.1');
    const store = await startStore(port, dir.path);
    const client = new ResourceStoreClient(store.address, credentials.createInsecure());
    await callUnary(client.create.bind(client), { resource: node('node1') });
    follower = new StoreFollower({ client, kinds: ['Node', 'IPPool'], logger, minRetryMs: 100, maxRetryMs: 500 });
    const seen: string[] = [];
    follower.onChange((events: readonly FollowEvent[], info) => {
      for (const e of events) seen.push(`${info.resync ? 'resync ' : ''}${e.type} ${e.kind} ${e.key}`);
    });
    await follower.start();
    expect(names(follower)).toEqual(['node1']);
    await callUnary(client.create.bind(client), { resource: node('node2') });
    await callUnary(client.update.bind(client), { resource: node('node1', { rack: 'a' }) });
    await callUnary(client.delete.bind(client), { kind: 'Node', namespace: '', name: 'node2', resourceVersion: '', force: false });
    await callUnary(client.create.bind(client), { resource: pool(1) });
    await eventually('every change seen', () => seen.length === 5, 10_000);
    expect(seen).toEqual(['resync added Node node1', 'added Node node2', 'modified Node node1', 'deleted Node node2', 'added IPPool pool-1']);
    expect(metaOf(follower.get('Node', '', 'node1')!).labels).toEqual({ rack: 'a' });
    client.close();
  }, 60_000);

  it('on an empty store (revision 0) misses nothing written between its List and its Watch', async () => {
    const dir = tempDir('tabby-follower-');
    dirs.push(dir);
    const port = await freePort('127.0.0.1');
    const store = await startStore(port, dir.path);
    const client = new ResourceStoreClient(store.address, credentials.createInsecure());
    // Long bookmarks: nothing but the watch itself can deliver the write.
    follower = new StoreFollower({ client, kinds: ['Node'], logger, bookmarkIntervalS: 3600 });
    const started = follower.start();
    await callUnary(client.create.bind(client), { resource: node('early') });
    await started;
    await eventually('the early write seen', () => names(follower!).includes('early'), 10_000, 20);
    client.close();
  }, 60_000);

  it('keeps its view while the store is down, and after a compacted gap re-lists and delivers only the difference', async () => {
    const dir = tempDir('tabby-follower-');
    dirs.push(dir);
    const port = await freePort('127.0.0.1');
    let store = await startStore(port, dir.path);
    const client = new ResourceStoreClient(`127.0.0.1:${port}`, credentials.createInsecure());
    for (const n of ['a', 'b', 'c']) await callUnary(client.create.bind(client), { resource: node(n) });
    follower = new StoreFollower({ client, kinds: ['Node'], logger, backoff: { initialMs: 100, maxMs: 500 } });
    const seen: string[] = [];
    follower.onChange((events, info) => {
      for (const e of events) seen.push(`${info.resync ? 'resync ' : ''}${e.type} ${e.key}`);
    });
    await follower.start();
    await eventually('watching', () => follower?.synced === true, 10_000);
    seen.length = 0;

    await store.process.stop();
    expect(names(follower)).toEqual(['a', 'b', 'c']);
    // The store comes back on another port, where the follower does not look, so it moves past
    // its event retention before the follower can reconnect: delete b, change c, add d, then
    // 1,200 other writes.
    const elsewhere = await freePort('127.0.0.1');
    store = await startStore(elsewhere, dir.path);
    const writer = new ResourceStoreClient(store.address, credentials.createInsecure());
    await callUnary(writer.delete.bind(writer), { kind: 'Node', namespace: '', name: 'b', resourceVersion: '', force: false });
    await callUnary(writer.update.bind(writer), { resource: node('c', { zone: 'z1' }) });
    await callUnary(writer.create.bind(writer), { resource: node('d') });
    for (let i = 0; i < 1200; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => callUnary(writer.create.bind(writer), { resource: pool(i + j) })));
    writer.close();
    await store.process.stop();
    expect(names(follower)).toEqual(['a', 'b', 'c']);
    store = await startStore(port, dir.path);
    await eventually('the follower caught up', () => names(follower!).join() === 'a,c,d', 30_000, 100);
    expect(seen.sort()).toEqual(['resync added d', 'resync deleted b', 'resync modified c']);
    expect(metaOf(follower.get('Node', '', 'c')!).labels).toEqual({ zone: 'z1' });
    await eventually('watching again', () => follower?.synced === true, 10_000);
    await callUnary(client.create.bind(client), { resource: node('e') });
    await eventually('live again', () => seen.includes('added e'), 10_000);
    client.close();
  }, 90_000);
});

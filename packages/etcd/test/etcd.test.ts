/**
 * @tabby/etcd against a real etcd (Debian's etcd-server on loopback): the flag key as two
 * processes sharing one etcd see it, the members as etcdctl shows them, and the --etcd-* flags'
 * checks (each bad value named, as the service prints it before exiting 2), and a PrefixMirror
 * that says how current it is while its etcd is killed and started again (last: it kills etcd).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessGroup, eventually, startEtcdCluster, tempDir, type EtcdCluster } from '@tabby/harness';
import { createLogger } from '@tabby/runtime';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdFlagKey, PrefixMirror, etcdClientOptions, etcdErrorText, etcdMembers, etcdSettings } from '../src/index.js';
import { createServer } from 'node:net';

const group = new ProcessGroup();
const dir = tempDir('tabby-etcd-pkg-');
const logger = createLogger({ service: 'etcd-test', level: 'silent' });
let etcd: EtcdCluster;
const clients: Etcd3[] = [];

function client(): Etcd3 {
  const c = new Etcd3(etcdClientOptions({ endpoints: etcd.endpoints.split(',') }, 5_000));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  etcd = await startEtcdCluster(group, dir.path, { size: 1 });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await group.stopAll();
  dir.remove();
});

describe('EtcdFlagKey', () => {
  it('is seen by another client through its watch; set says what it was before; the key is what etcdctl shows', async () => {
    const a = new EtcdFlagKey(client(), '/test/flag', logger);
    const b = new EtcdFlagKey(client(), '/test/flag', logger);
    a.follow();
    b.follow();
    expect([a.isSet(), b.isSet()]).toEqual([false, false]);
    expect(await a.set(true)).toBe(false);
    expect(await a.set(true)).toBe(true);
    await eventually('b sees the flag set', () => Promise.resolve(b.isSet() || undefined), 10_000);
    expect((await etcd.etcdctl(['get', '/test/flag', '--print-value-only'])).trim()).toBe('true');
    expect(await b.set(false)).toBe(true);
    await eventually('a sees the flag cleared', () => Promise.resolve(!a.isSet() || undefined), 10_000);
    expect((await etcd.etcdctl(['get', '/test/flag', '--keys-only'])).trim()).toBe('');
    await a.close();
    await b.close();
  });

  it('reads a flag set before it started', async () => {
    await etcd.etcdctl(['put', '/test/early', 'true']);
    const c = new EtcdFlagKey(client(), '/test/early', logger);
    c.follow();
    await eventually('the flag read at start', () => Promise.resolve(c.isSet() || undefined), 10_000);
    await c.close();
  });
});

describe('etcdMembers', () => {
  it('names the member, its URLs and that it leads, with the cluster ID etcdctl prints', async () => {
    const m = await etcdMembers(client());
    expect(m.members).toHaveLength(1);
    expect(m.members[0]).toMatchObject({ name: etcd.members[0]?.name, clientUrls: [etcd.members[0]?.clientUrl], leader: true, learner: false });
    expect(m.revision).toBeGreaterThan(0);
    // etcdctl's JSON gives the 64-bit ID as a number (rounded by JSON.parse): read the fields output.
    const fields = await etcd.etcdctl(['endpoint', 'status', '-w', 'fields']);
    const id = /"ClusterID" : (\d+)/.exec(fields)?.[1];
    expect(id && BigInt(id).toString(16)).toBe(m.clusterId);
  });
});

describe('etcdSettings', () => {
  const pem = join(dir.path, 'pems');
  mkdirSync(pem, { recursive: true });
  writeFileSync(join(pem, 'ca.pem'), 'CA');
  writeFileSync(join(pem, 'cert.pem'), 'CERT');
  writeFileSync(join(pem, 'key.pem'), 'KEY');

  it.each([
    [{}, '--datastore etcd needs --etcd-endpoints URL,URL,... (the client URLs of the etcd members, e.g. http://127.0.0.1:2379)'],
    [{ etcdEndpoints: ' , ' }, '--etcd-endpoints is empty'],
    [{ etcdEndpoints: '127.0.0.1:2379' }, 'invalid --etcd-endpoints "127.0.0.1:2379": expected http://HOST:PORT or https://HOST:PORT'],
    [{ etcdEndpoints: 'http://127.0.0.1:0' }, 'invalid --etcd-endpoints "http://127.0.0.1:0": expected http://HOST:PORT or https://HOST:PORT'],
    [{ etcdEndpoints: 'http://a:1,https://b:2' }, '--etcd-endpoints mixes http:// and https:// URLs: use one scheme for every member'],
    [{ etcdEndpoints: 'https://a:1' }, "https:// --etcd-endpoints need --etcd-ca FILE (the CA of the etcd members' certificates)"],
    [{ etcdEndpoints: 'http://a:1', etcdCa: 'x' }, '--etcd-ca/--etcd-cert are for TLS: give https:// --etcd-endpoints'],
    [{ etcdEndpoints: 'https://a:1', etcdCa: '/nonexistent/ca.pem' }, '--etcd-ca /nonexistent/ca.pem: no such file'],
    [{ etcdEndpoints: 'https://a:1', etcdCa: 'x', etcdCert: 'y' }, 'an etcd client certificate needs both --etcd-cert and --etcd-key'],
  ])('refuses %j', (values, message) => {
    expect(() => etcdSettings(values)).toThrow(message);
  });

  it('reads the TLS files of https:// endpoints, and none for http://', () => {
    expect(etcdSettings({ etcdEndpoints: 'http://127.0.0.1:2379, http://127.0.0.2:2379' })).toEqual({ endpoints: ['http://127.0.0.1:2379', 'http://127.0.0.2:2379'] });
    const s = etcdSettings({ etcdEndpoints: 'https://a:2379', etcdCa: join(pem, 'ca.pem'), etcdCert: join(pem, 'cert.pem'), etcdKey: join(pem, 'key.pem') });
    expect([s.tls?.ca.toString(), s.tls?.cert?.toString(), s.tls?.key?.toString()]).toEqual(['CA', 'CERT', 'KEY']);
  });
});

// Last in the file: it kills the file's etcd (SIGKILL, by PID) and starts it again.
describe('etcdErrorText', () => {
  it('words a refused connection as what it is, naming the address, and keeps other messages', async () => {
    // A loopback port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const c = new Etcd3(etcdClientOptions({ endpoints: [`http://127.0.0.1:${port}`] }, 2_000));
    clients.push(c);
    const err = await c.get('/anything').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(etcdErrorText(err)).toBe(`connection refused (127.0.0.1:${port})`);
    expect(etcdErrorText(new Error('etcdserver: request timed out'))).toBe('etcdserver: request timed out');
    expect(etcdErrorText(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded after 2.001s'))).toBe('Deadline exceeded after 2.001s');
  });
});

describe('PrefixMirror', () => {
  it('follows a prefix; while etcd is killed it keeps its copy and says since when and why it is stale; live again once etcd is back', async () => {
    await etcd.etcdctl(['put', '/test/mirror/a', '1']);
    const changes: string[] = [];
    const m = new PrefixMirror(client(), '/test/mirror/', (k, v) => changes.push(`${k}=${v ?? '<deleted>'}`), logger);
    await m.start();
    expect(m.get('/test/mirror/a')).toBe('1');
    expect(m.freshness()).toMatchObject({ live: true, reason: '' });
    await etcd.etcdctl(['put', '/test/mirror/b', '2']);
    await etcd.etcdctl(['put', '/test/other', 'x']);
    await eventually('the watch to deliver b', () => Promise.resolve(m.get('/test/mirror/b') === '2' || undefined), 10_000);
    expect(m.entries().map((e) => e.key)).toEqual(['/test/mirror/a', '/test/mirror/b']);
    const revision = m.revision();

    // What etcd3 does when the member it watches is killed: the watcher emits 'disconnected'
    // (the stream ended) and keeps reconnecting; the copy stays as it was.
    const member = etcd.members[0];
    const killedAt = Date.now();
    member.process.signal('SIGKILL');
    await member.process.exited();
    const down = await eventually('the mirror to go stale', () => Promise.resolve(m.freshness().live ? undefined : m.freshness()), 10_000, 20);
    expect(down.revision).toBe(revision);
    expect(down.reason).not.toBe('');
    expect(down.currentAt).toBeGreaterThanOrEqual(killedAt - 1000);
    expect(down.currentAt).toBeLessThanOrEqual(Date.now());
    expect(m.get('/test/mirror/b')).toBe('2');
    await new Promise((r) => setTimeout(r, 300));
    expect(m.freshness().currentAt).toBe(down.currentAt);

    // Back on the same data directory: 'connected' again, and changes flow again.
    await etcd.restart(member);
    await eventually('the mirror to be live again', () => Promise.resolve(m.freshness().live || undefined), 30_000, 50);
    await etcd.etcdctl(['del', '/test/mirror/a']);
    await eventually('the watch to deliver the delete', () => Promise.resolve(m.get('/test/mirror/a') === undefined || undefined), 10_000);
    expect(m.revision()).toBeGreaterThan(revision);
    expect(changes).toEqual(['/test/mirror/a=1', '/test/mirror/b=2', '/test/mirror/a=<deleted>']);
    await m.close();
    expect(m.freshness().live).toBe(false);
  });
});

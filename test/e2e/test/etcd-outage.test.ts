/**
 * etcd unreachable (issue 15): tabby-store and tabby-ipam on a real etcd, which is killed
 * (SIGKILL, by PID) and started again on the same data directory. While it is down, reads
 * answer from the services' last copy and say how stale it is (tabbyctl prints the data, a
 * one-line warning on stderr, and exits 0); writes fail with UNAVAILABLE and a clear message;
 * a Get of an object the copy does not hold stays UNAVAILABLE. Once etcd is back, reads are
 * current again (no warning).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, startEtcdCluster, startService, tempDir, type EtcdCluster, type ServiceProcess } from '@tabby/harness';
import { tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-etcd-outage-');
let etcd: EtcdCluster;
let store: ServiceProcess;
let ipam: ServiceProcess;

const MANIFESTS = `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: n1
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
  cidr: 10.81.0.0/16
  blockSize: 26
`;

const NODE3 = `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: n3
spec:
  bgp: {ipv4Address: 127.0.0.13/32}
`;

function run(args: readonly string[], stdin?: string): Promise<CliResult> {
  return tabbyctl(args, { cwd: dir.path, env: { TABBY_STORE_ADDR: store.address, TABBY_IPAM_ADDR: ipam.address }, stdin });
}

const WARNING = /^Warning: the datastore is unreachable \(etcd at http:\/\/127\.0\.0\.1:\d+: [^\n]+\); showing revision (\d+) as last seen (\d+)s ago\n$/;

beforeAll(async () => {
  etcd = await startEtcdCluster(group, `${dir.path}/etcd`, { size: 1 });
  const on = ['--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints];
  store = await startService(group, 'store', ['--listen', '127.0.0.1:0', ...on]);
  ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--store', store.address, ...on]);
}, 90_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

describe('etcd unreachable', () => {
  it('reads say how stale they are while etcd is down, writes fail UNAVAILABLE, and reads are current once it is back', async () => {
    const applied = await run(['apply', '-f', '-'], MANIFESTS);
    expect(applied.code, applied.stderr).toBe(0);
    const added = await run(['workload', 'add', 'default/w1', '--node', 'n1']);
    expect(added.code, added.stderr).toBe(0);
    const fresh = await run(['get', 'nodes']);
    expect(fresh).toMatchObject({ code: 0, stderr: '' });
    expect(fresh.stdout).toMatch(/n1[\s\S]*n2/);
    const show = await run(['ipam', 'show']);
    expect(show).toMatchObject({ code: 0, stderr: '' });
    expect(show.stdout).toContain('10.81.0.0/16');

    const member = etcd.members[0];
    member.process.signal('SIGKILL');
    await member.process.exited();

    // tabbyctl get: the nodes as last seen, a warning, exit 0 — within a few seconds.
    const started = Date.now();
    const stale = await run(['get', 'nodes']);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.stdout).toBe(fresh.stdout);
    const warned = WARNING.exec(stale.stderr);
    expect(warned, stale.stderr).not.toBeNull();
    expect(Number(warned?.[1])).toBeGreaterThan(0);

    // One object by name: from the copy too; one the copy does not hold stays UNAVAILABLE.
    const one = await run(['get', 'node', 'n2']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain('n2');
    expect(one.stderr).toMatch(WARNING);
    const unknown = await run(['get', 'node', 'nosuch']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/cannot read Node\(nosuch\): etcd at http:\/\/127\.0\.0\.1:\d+ is unavailable \(.+\); retry when it is back/);
    expect(unknown.stderr).not.toContain('does not exist');

    // Writes never use the copy: UNAVAILABLE, naming etcd.
    const write = await run(['apply', '-f', '-'], NODE3);
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/etcd at http:\/\/127\.0\.0\.1:\d+ (is unavailable|did not confirm)/);

    // ipam answers from its copy, marked stale.
    const ipamStale = await eventually(
      'ipam show to warn',
      async () => {
        const r = await run(['ipam', 'show']);
        return WARNING.test(r.stderr) ? r : undefined;
      },
      15_000,
      250,
    );
    expect(ipamStale.code).toBe(0);
    expect(ipamStale.stdout).toBe(show.stdout);

    // etcd back on the same data directory: current again, no warning.
    await etcd.restart(member);
    await eventually('get nodes to be current again', async () => {
      const r = await run(['get', 'nodes']);
      return r.code === 0 && r.stderr === '' ? r : undefined;
    }, 30_000, 250);
    await eventually('ipam show to be current again', async () => {
      const r = await run(['ipam', 'show']);
      return r.code === 0 && r.stderr === '' ? r : undefined;
    }, 30_000, 250);
    const again = await run(['apply', '-f', '-'], NODE3);
    expect(again.code, again.stderr).toBe(0);
  });
});

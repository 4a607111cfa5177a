/**
 * Podman 4.3 with its CNI backend, for real, inside a node namespace this test creates — the
 * runtime half of the tabby-cni test, proved with the reference plugins (`ptp` + `host-local`)
 * before any Tabby code is involved.
 *
 * Fabric: one namespace `node1` (only `lo`; no link anywhere, nothing in this machine's own
 * namespace). Podman runs there (`nsenter --net`), with every file of its own in the test's
 * directory; containers come from a busybox image imported from busybox-static's binary.
 * Addresses: 198.18.161.0/24 (ptp, host-local), inside 198.18.0.0/15.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Fabric, eventually, tempDir } from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Podman, cniCallRecorder, processRunning, ptpNetwork, type ContainerInfo } from '../src/podman.js';

const fabric = new Fabric();
const dir = tempDir('tabby-cni-runtime-');
let podman: Podman | undefined;
// Registered before anything is built: containers, podman's files and the namespaces go even when set-up fails.
afterAll(async () => {
  try {
    await podman?.cleanup();
  } finally {
    try {
      await fabric.cleanup();
    } finally {
      dir.remove();
    }
  }
}, 60_000);

const SUBNET = '198.18.161.0/24';
const NETWORK = `${fabric.prefix}-ptp`;
const ipamDir = path.join(dir.path, 'host-local');
/** host-local's record of what it handed out: one file per address. */
const allocated = (): string[] =>
  existsSync(path.join(ipamDir, NETWORK))
    ? readdirSync(path.join(ipamDir, NETWORK))
        .filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
        .sort()
    : [];

const containers = new Map<string, ContainerInfo>();
/** ptp behind a wrapper that logs every call podman makes. */
const recorder = cniCallRecorder(path.join(dir.path, 'cni-bin'), 'ptp', '/usr/lib/cni/ptp', path.join(dir.path, 'cni-calls.log'));
/** The calls for one container, as `COMMAND` strings in order. */
const callsOf = (c: ContainerInfo): string[] => recorder.calls().filter((x) => x.containerId === c.id).map((x) => x.command);

beforeAll(async () => {
  const t0 = Date.now();
  const ns = await fabric.addNamespace('node1');
  podman = new Podman({ fabric, namespace: ns, dir: path.join(dir.path, 'podman-node1'), pluginDirs: [recorder.dir, '/usr/lib/cni'], networks: [ptpNetwork(NETWORK, SUBNET, ipamDir)] });
  await podman.importImage();
  console.log(`fabric ${fabric.prefix}: node1 and podman's busybox image ready in ${Date.now() - t0} ms`);
}, 60_000);

function pm(): Podman {
  if (!podman) throw new Error('podman was not set up');
  return podman;
}

describe('podman with the CNI backend inside a node namespace (reference plugins)', () => {
  it('1. two containers start on node1, each with an address of the ptp network', async () => {
    for (const name of ['a', 'b']) {
      const t0 = Date.now();
      const c = await pm().run(name);
      containers.set(name, c);
      console.log(`container ${name}: ${c.address}/${c.prefixLength} gw ${c.gateway} mac ${c.macAddress} netns ${c.sandboxKey} (pid ${c.pid}) in ${Date.now() - t0} ms`);
      expect(c.address).toMatch(/^198\.18\.161\.\d+$/);
      expect(c.sandboxKey).toMatch(/^\/run\/netns\/netns-[0-9a-f-]{36}$/);
    }
    expect(containers.get('a')!.address).not.toBe(containers.get('b')!.address);
    expect(allocated()).toEqual([containers.get('a')!.address, containers.get('b')!.address].sort());
    // The host side of each veth is in node1 (a /32 route to each container), not in this machine's namespace.
    const routes = await fabric.routes(fabric.ns('node1'));
    console.log(`node1's routes:\n    ${routes.map((r) => r.text).join('\n    ')}`);
    for (const c of containers.values()) expect(routes.some((r) => r.dst === `${c.address}/32` && r.dev?.startsWith('veth'))).toBe(true);
    const inside = await pm().exec('a', ['ip', '-4', 'addr', 'show', 'eth0']);
    expect(inside.stdout).toContain(`${containers.get('a')!.address}/24`);
    // What podman passed to the plugin: one ADD each, eth0 in the container's namespace,
    // CNI_ARGS with the container's name as K8S_POD_NAME and no K8S_POD_NAMESPACE.
    for (const c of containers.values()) {
      const calls = recorder.calls().filter((x) => x.containerId === c.id);
      console.log(`CNI calls for ${c.name}: ${calls.map((x) => `${x.command} ${x.ifname} ${x.netns} ${JSON.stringify(x.args)}`).join('; ')}`);
      expect(calls.map((x) => x.command)).toEqual(['ADD']);
      expect(calls[0]).toMatchObject({ ifname: 'eth0', netns: c.sandboxKey, args: { IgnoreUnknown: '1', K8S_POD_NAME: c.name } });
      expect(calls[0].args.K8S_POD_NAMESPACE).toBeUndefined();
    }
  });

  it('2. the containers ping each other', async () => {
    const a = containers.get('a')!;
    const b = containers.get('b')!;
    const ab = await pm().ping('a', b.address, { count: 2 });
    const ba = await pm().ping('b', a.address, { count: 2 });
    console.log(`ping a -> b ${b.address}: ${ab.received}/${ab.transmitted}; b -> a ${a.address}: ${ba.received}/${ba.transmitted}`);
    expect(ab.received, ab.output).toBe(2);
    expect(ba.received, ba.output).toBe(2);
  });

  it('3. stop runs the CNI DEL (host-local releases the address, the netns and the cached result go); rm after it calls nothing', async () => {
    const b = containers.get('b')!;
    await pm().stop('b');
    expect(callsOf(b)).toEqual(['ADD', 'DEL']);
    expect(allocated()).toEqual([containers.get('a')!.address]);
    expect(existsSync(b.sandboxKey)).toBe(false);
    expect(pm().cachedResults().some((f) => f.includes(b.id))).toBe(false);
    await pm().rm('b');
    expect((await pm().ps()).has('b')).toBe(false);
    expect(callsOf(b), 'podman rm of a stopped container calls no DEL: its network is already torn down').toEqual(['ADD', 'DEL']);
  });

  it('4. rm -f of a running container releases its address too; a new container gets one again and is reachable', async () => {
    const a = containers.get('a')!;
    await pm().rm('a', { force: true });
    expect(callsOf(a)).toEqual(['ADD', 'DEL']);
    expect(allocated()).toEqual([]);
    expect(existsSync(a.sandboxKey)).toBe(false);
    const c = await pm().run('c');
    const d = await pm().run('d');
    const r = await pm().ping('c', d.address, { count: 1 });
    console.log(`after churn: c ${c.address}, d ${d.address}; ping c -> d ${r.received}/${r.transmitted}`);
    expect(r.received, r.output).toBe(1);
    expect(allocated()).toEqual([c.address, d.address].sort());
    containers.set('c', c);
    containers.set('d', d);
  });

  it('5. a container that exits by itself gets its DEL from conmon (podman container cleanup); rm then calls nothing', async () => {
    const e = await pm().run('e', { command: ['sleep', '1'] });
    expect(e.address).toMatch(/^198\.18\.161\.\d+$/);
    // The wrapper logs a call before the plugin runs: wait for the DEL's effects, not its log line.
    await eventually('e to exit and its network to be torn down', () => !allocated().includes(e.address) && !existsSync(e.sandboxKey), 15_000, 100);
    expect(callsOf(e)).toEqual(['ADD', 'DEL']);
    expect((await pm().ps()).get('e')).toMatch(/^Exited \(0\)/);
    await pm().rm('e');
    expect(callsOf(e)).toEqual(['ADD', 'DEL']);
  });

  it('6. clean-up leaves no container process, namespace, cached result, cgroup or file behind', async () => {
    const p = pm();
    const pids = [...containers.values()].flatMap((c) => [c.pid, c.conmonPid]);
    const keys = [...containers.values()].map((c) => c.sandboxKey);
    await p.cleanup();
    await fabric.cleanup();
    expect(await fabric.listOurs()).toEqual([]);
    for (const k of keys) expect(existsSync(k), k).toBe(false);
    // Gone, or a zombie of PID 1 (conmon double-forks) until that reaps it.
    for (const pid of pids) expect(processRunning(pid), `pid ${pid} is running`).toBe(false);
    expect(p.cgroupDirs()).toEqual([]);
    expect(p.cachedResults()).toEqual([]);
    expect(existsSync(p.dir)).toBe(false);
  });
});

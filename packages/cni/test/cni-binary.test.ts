/**
 * dist/tabby-cni exactly as a container runtime runs it: a process per call, CNI_* in its
 * environment, the network config on stdin, the result or error JSON on stdout. The node is a
 * network namespace this test makes (the plugin runs in it under `nsenter --net`, with
 * TABBY_NETNS_GUARD naming it), tabby-store and tabby-ipam run there on its loopback, and
 * every container is a namespace of its own. Nothing touches this machine's own namespace;
 * every process is stopped by PID and every namespace removed in afterAll.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { Fabric, UNIX_FORWARD_SCRIPT, eventually, requireTool, startServiceIn, tempDir, type ServiceProcess, type TestProcess } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { containerMac } from '../src/index.js';

const BIN = path.resolve(import.meta.dirname, '../dist/tabby-cni');
const NODE = 'cni-node-1';
const NETWORK = 'tabby-test';
/**
 * tabby-ipam's garbage collection off: the STATUS test keeps a container on a node whose Node
 * resource it deleted, which the collector would clean up (services/ipam/test/gc.test.ts).
 */
const IPAM_GC_OFF = ['--gc-disabled'];
/** An address of the node itself (on its lo) that containers ping. */
const NODE_ADDRESS = '198.18.216.1';
const NSENTER = requireTool('nsenter', 'util-linux');

const fabric = new Fabric();
const dir = tempDir('tabby-cni-binary-');
let host = '';
let store: ServiceProcess;
let ipam: ServiceProcess;
let forwarder: TestProcess;
let storeClient: ResourceStoreClient;
let ipamClient: IpamClient;
const timings: Record<string, number[]> = { VERSION: [], ADD: [], DEL: [], CHECK: [], STATUS: [], GC: [], 'ADD, 50 at once': [], 'DEL, 50 at once': [] };

function one(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors[0]?.message);
  return r.resources[0].resource;
}

const pool = (name: string, cidr: string, blockSize: number, selector = 'all()'): Resource =>
  one(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n  blockSize: ${blockSize}\n  nodeSelector: ${JSON.stringify(selector)}\n`);

beforeAll(async () => {
  expect(existsSync(BIN), `${BIN} is built (npm run build)`).toBe(true);
  host = await fabric.addNamespace('node');
  await fabric.ip(host, ['addr', 'add', `${NODE_ADDRESS}/32`, 'dev', 'lo']);
  // The node forwards IPv6 (as calico-node makes it); IPv4 forwarding is per interface and tabby-cni turns it on for cali*.
  await fabric.sysctl(host, { 'net.ipv6.conf.all.forwarding': 1 });
  store = await startServiceIn(fabric, host, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
  ipam = await startServiceIn(fabric, host, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, '--recovery-interval', '1', ...IPAM_GC_OFF]);
  forwarder = fabric.start(host, 'forward', process.execPath, [UNIX_FORWARD_SCRIPT, `${dir.path}/store.sock`, String(store.port), `${dir.path}/ipam.sock`, String(ipam.port)]);
  await forwarder.waitForLine(/ipam\.sock/, 10_000);
  storeClient = new ResourceStoreClient(`unix:${dir.path}/store.sock`, credentials.createInsecure());
  ipamClient = new IpamClient(`unix:${dir.path}/ipam.sock`, credentials.createInsecure());
  const create = (resource: Resource) => callUnary(storeClient.create.bind(storeClient), { resource }, { timeoutMs: 10_000 });
  await create(one(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${NODE}\nspec:\n  bgp:\n    ipv4Address: ${NODE_ADDRESS}/32\n`));
  await create(pool('cni-main', '198.19.216.0/24', 26));
  await create(pool('cni-v6', '2001:db8:216::/120', 122));
  // Pools used only when named: the annotation's, a tiny one to exhaust, one whose addresses the node already routes elsewhere.
  await create(pool('cni-other', '198.19.218.0/24', 26, '!all()'));
  await create(pool('cni-tiny', '198.19.217.0/30', 30, '!all()'));
  await create(pool('cni-trap', '198.19.219.0/30', 30, '!all()'));
  await create(pool('cni-off', '198.19.220.0/24', 26, '!all()'));
  await callUnary(storeClient.apply.bind(storeClient), { resource: one('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: cni-off\nspec:\n  cidr: 198.19.220.0/24\n  blockSize: 26\n  nodeSelector: "!all()"\n  disabled: true\n') }, { timeoutMs: 10_000 });
  await eventually('ipam to see the 6 pools', async () => (await callUnary(ipamClient.utilization.bind(ipamClient), { includeBlocks: false }, { timeoutMs: 5000 })).pools.length === 6, 15_000, 100);
}, 120_000);

afterAll(async () => {
  const line = (k: string): string => {
    const t = [...(timings[k] ?? [])].sort((a, b) => a - b);
    if (t.length === 0) return `${k}: -`;
    const q = (p: number): number => Math.round(t[Math.min(t.length - 1, Math.floor(p * t.length))]);
    return `${k}: n=${t.length} p50=${q(0.5)}ms p99=${q(0.99)}ms max=${Math.round(t[t.length - 1])}ms`;
  };
  console.log(`tabby-cni process times (spawn to exit, under nsenter, ${os.cpus().length} CPUs): ${Object.keys(timings).map(line).join('; ')}`);
  storeClient?.close();
  ipamClient?.close();
  try {
    await fabric.cleanup();
  } finally {
    dir.remove();
  }
}, 120_000);

interface CniRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: Record<string, unknown> | undefined;
  readonly ms: number;
}

interface CallOpts {
  readonly containerId: string;
  /** Container namespace name (under /run/netns), or a path, or '' for none. */
  readonly netns: string;
  readonly ifname?: string;
  readonly args?: string;
  readonly config?: Record<string, unknown> | string;
  /** The timings row this call counts in (default: the command). */
  readonly timing?: string;
}

const netnsPath = (ns: string): string => (ns === '' || ns.startsWith('/') ? ns : `/run/netns/${ns}`);

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: NETWORK, type: 'tabby-cni', nodename: NODE, ipam: { ipv4_pools: ['cni-main'] }, tabby: { store: store.address, ipam: ipam.address }, ...extra };
}

/** Runs the bundle the way a runtime does, in the node namespace. GC and STATUS get only CNI_COMMAND and CNI_PATH, as libcni passes them. */
function cni(command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS', o: CallOpts): Promise<CniRun> {
  const container =
    command === 'GC' || command === 'STATUS'
      ? {}
      : {
          CNI_CONTAINERID: o.containerId,
          CNI_NETNS: netnsPath(o.netns),
          CNI_IFNAME: o.ifname ?? 'eth0',
          CNI_ARGS: o.args ?? 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=' + o.containerId,
        };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, TABBY_NETNS_GUARD: host, CNI_COMMAND: command, ...container, CNI_PATH: '/opt/cni/bin' };
  const stdin = typeof o.config === 'string' ? o.config : JSON.stringify(o.config ?? config());
  if (command === 'ADD') made.set(o.containerId, o);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(NSENTER, [`--net=/run/netns/${host}`, BIN], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      timings[o.timing ?? command]?.push(ms);
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() === '' ? undefined : (JSON.parse(stdout) as Record<string, unknown>);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json, ms });
    });
    child.stdin.end(stdin);
  });
}

/** Containers ADDed by the current test: afterEach DELs them (DEL is idempotent) so a failure does not spill into the next test. */
const made = new Map<string, CallOpts>();

async function cleanUpMade(): Promise<void> {
  for (const o of made.values()) await cni('DEL', { ...o, timing: 'cleanup' });
  made.clear();
  for (const ns of fabric.namespaces) if (ns !== host) await fabric.deleteNamespace(ns);
}

/** ADD that must succeed. */
async function add(o: CallOpts): Promise<Record<string, unknown>> {
  const r = await cni('ADD', o);
  expect(r.code, `ADD ${o.containerId}: ${r.stdout}${r.stderr}`).toBe(0);
  return r.json!;
}

async function links(ns: string): Promise<{ ifname: string; address: string; flags: string[]; addr_info: { local: string; prefixlen: number; scope: string }[] }[]> {
  return JSON.parse(await fabric.ip(ns, ['-j', 'addr', 'show'])) as never;
}

const hasLink = async (ns: string, name: string): Promise<boolean> => (await links(ns)).some((l) => l.ifname === name);

async function endpoints(): Promise<{ name: string; containerID: string; endpoint: string; interfaceName: string; mac: string; nets: string[] }[]> {
  const list = await callUnary(storeClient.list.bind(storeClient), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' }, { timeoutMs: 10_000 });
  return list.items.flatMap((r) =>
    r.kind?.$case === 'workloadEndpoint' && r.kind.value.spec
      ? [{ name: r.kind.value.metadata?.name ?? '', containerID: r.kind.value.spec.containerID, endpoint: r.kind.value.spec.endpoint, interfaceName: r.kind.value.spec.interfaceName, mac: r.kind.value.spec.mac, nets: r.kind.value.spec.ipNetworks }]
      : [],
  );
}

async function allocation(address: string): Promise<{ allocated: boolean; handle: string }> {
  return callUnary(ipamClient.getAllocation.bind(ipamClient), { address }, { timeoutMs: 10_000 });
}

async function inUse(poolName: string): Promise<number> {
  const u = await callUnary(ipamClient.utilization.bind(ipamClient), { includeBlocks: false }, { timeoutMs: 10_000 });
  return Number(u.pools.find((p) => p.name === poolName)?.inUse ?? -1);
}

const ipOf = (r: Record<string, unknown>, i = 0): string => ((r.ips as { address: string }[])[i]?.address ?? '').replace(/\/\d+$/, '');
const hostIf = (r: Record<string, unknown>): string => (r.interfaces as { name: string }[])[0].name;

describe('VERSION', () => {
  it('lists the versions tabby-cni speaks', async () => {
    const r = await cni('VERSION', { containerId: '', netns: '', config: '' });
    expect(r).toMatchObject({ code: 0, json: { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] } });
  });
});

describe('ADD, CHECK, DEL of one pod', () => {
  afterAll(cleanUpMade, 120_000);
  let c1 = '';
  let result: Record<string, unknown>;

  it('ADD wires the container the way Calico does and prints the 1.0.0 result', async () => {
    c1 = await fabric.addNamespace('pod-a');
    result = await add({ containerId: 'pod-a-1', netns: c1 });
    const cali = hostIf(result);
    expect(cali).toMatch(/^cali[0-9a-f]{11}$/);
    const mac = containerMac('pod-a-1', 'eth0');
    expect(result).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: cali, mac: 'ee:ee:ee:ee:ee:ee' },
        { name: 'eth0', mac, sandbox: `/run/netns/${c1}` },
      ],
      ips: [{ address: expect.stringMatching(/^198\.19\.216\.\d+\/32$/) as unknown, gateway: '169.254.1.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
      dns: {},
    });
    const address = ipOf(result);

    // Container side: eth0 with the /32 and our MAC, a link route to 169.254.1.1, the default via it.
    const eth0 = (await links(c1)).find((l) => l.ifname === 'eth0');
    expect(eth0).toMatchObject({ address: mac });
    expect(eth0?.flags).toContain('UP');
    expect(eth0?.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${address}/32`]);
    expect((await fabric.routes(c1)).map((r) => r.text).sort()).toEqual(['169.254.1.1/32 dev eth0 scope link', 'default via 169.254.1.1 dev eth0'].sort());
    expect((await fabric.ip(c1, ['neigh', 'show', '169.254.1.1'])).trim()).toBe('169.254.1.1 dev eth0 lladdr ee:ee:ee:ee:ee:ee PERMANENT');

    // Host side: cali… up, MAC ee:ee:ee:ee:ee:ee, no address, proxy ARP, proxy_delay 0, forwarding,
    // and `ADDR dev cali… scope link` in main with the agent's protocol (84), so its reconcile adopts it.
    const hostSide = (await links(host)).find((l) => l.ifname === cali);
    expect(hostSide).toMatchObject({ address: 'ee:ee:ee:ee:ee:ee' });
    expect(hostSide?.addr_info.filter((a) => a.scope !== 'link')).toEqual([]);
    const sysctl = async (key: string): Promise<string> => (await fabric.exec(host, requireTool('busybox', 'busybox-static'), ['sysctl', '-n', key])).stdout.trim();
    expect(await sysctl(`net.ipv4.conf.${cali}.proxy_arp`)).toBe('1');
    expect(await sysctl(`net.ipv4.neigh.${cali}.proxy_delay`)).toBe('0');
    expect(await sysctl(`net.ipv4.conf.${cali}.forwarding`)).toBe('1');
    const hostRoutes = await fabric.routes(host, { proto: 84 });
    expect(hostRoutes.map((r) => `${r.dst} dev ${r.dev} scope ${r.scope}`)).toEqual([`${address}/32 dev ${cali} scope link`]);

    // Control plane: the address under Calico's handle, the endpoint with container, interface and MAC.
    expect(await allocation(address)).toMatchObject({ allocated: true, handle: `${NETWORK}.pod-a-1` });
    expect(await endpoints()).toEqual([{ name: `${NODE.replace(/-/g, '--')}-k8s-pod--a--1-eth0`, containerID: 'pod-a-1', endpoint: 'eth0', interfaceName: cali, mac, nets: [`${address}/32`] }]);
  });

  it('the container reaches the node through its default route', async () => {
    const ping = await fabric.ping(c1, NODE_ADDRESS, { count: 2, timeoutS: 2 });
    expect(ping.received, ping.output).toBe(2);
  });

  it('ADD again for the same container prints the same result and changes nothing', async () => {
    const again = await cni('ADD', { containerId: 'pod-a-1', netns: c1 });
    expect(again.code).toBe(0);
    expect(again.json).toEqual(result);
    expect(await inUse('cni-main')).toBe(1);
    expect((await links(c1)).filter((l) => l.ifname === 'eth0')).toHaveLength(1);
    expect((await fabric.ping(c1, NODE_ADDRESS, { count: 1, timeoutS: 2 })).received).toBe(1);
  });

  it('CHECK passes on what ADD made, then reports each missing piece with a clear message', async () => {
    const checkWith = () => cni('CHECK', { containerId: 'pod-a-1', netns: c1, config: config({ prevResult: result }) });
    expect(await checkWith()).toMatchObject({ code: 0, stdout: '' });
    const cali = hostIf(result);
    const address = ipOf(result);

    await fabric.ip(c1, ['route', 'del', 'default']);
    let r = await checkWith();
    expect(r.json).toMatchObject({ code: 107, msg: 'CHECK failed: default route via 169.254.1.1 dev eth0 is missing in the container' });
    await fabric.ip(c1, ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);

    await fabric.ip(host, ['route', 'del', `${address}/32`, 'dev', cali]);
    r = await checkWith();
    expect(r.json).toMatchObject({ code: 107, msg: `CHECK failed: host route ${address}/32 dev ${cali} is missing from table 254` });
    await fabric.ip(host, ['route', 'add', `${address}/32`, 'dev', cali, 'scope', 'link', 'proto', '84']);

    await fabric.ip(c1, ['addr', 'del', `${address}/32`, 'dev', 'eth0']);
    r = await checkWith();
    expect(r.json?.msg).toMatch(new RegExp(`^CHECK failed: address ${address.replace(/\./g, '\\.')}/32 is missing on eth0 in the container`));
    await fabric.ip(c1, ['addr', 'add', `${address}/32`, 'dev', 'eth0']);
    await fabric.ip(c1, ['route', 'replace', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
    await fabric.ip(c1, ['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
    expect((await checkWith()).code).toBe(0);

    await fabric.ip(c1, ['link', 'set', 'eth0', 'name', 'eth9']);
    r = await checkWith();
    expect(r.json).toMatchObject({ code: 107, msg: 'CHECK failed: interface eth0 is missing in the container' });
    await fabric.ip(c1, ['link', 'set', 'eth9', 'name', 'eth0']);
    // Renaming took it down: bring it and its routes back for what follows.
    await fabric.ip(c1, ['link', 'set', 'eth0', 'up']);
    await fabric.ip(c1, ['route', 'replace', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
    await fabric.ip(c1, ['route', 'replace', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
    expect((await checkWith()).code).toBe(0);
  });

  it('CHECK with a 0.3.1 config is refused (CHECK came with 0.4.0)', async () => {
    const r = await cni('CHECK', { containerId: 'pod-a-1', netns: c1, config: config({ cniVersion: '0.3.1', prevResult: result }) });
    expect(r.json).toMatchObject({ cniVersion: '0.3.1', code: 1 });
  });

  it('DEL removes the interface, the endpoint and the address; DEL again still succeeds and releases nothing more', async () => {
    const cali = hostIf(result);
    const address = ipOf(result);
    const del = await cni('DEL', { containerId: 'pod-a-1', netns: c1 });
    expect(del).toMatchObject({ code: 0, stdout: '' });
    expect(await hasLink(c1, 'eth0')).toBe(false);
    expect(await hasLink(host, cali)).toBe(false);
    expect(await fabric.routes(host, { proto: 84 })).toEqual([]);
    expect(await endpoints()).toEqual([]);
    expect(await allocation(address)).toMatchObject({ allocated: false });
    expect(await inUse('cni-main')).toBe(0);

    // Another pod takes the address meanwhile; a repeated DEL of pod-a-1 must not release it.
    const c2 = await fabric.addNamespace('pod-b');
    const other = await add({ containerId: 'pod-b-1', netns: c2 });
    const again = await cni('DEL', { containerId: 'pod-a-1', netns: c1 });
    expect(again).toMatchObject({ code: 0, stdout: '' });
    // And once the namespace is gone, too (the runtime may call DEL after removing it).
    await fabric.deleteNamespace(c1);
    expect(await cni('DEL', { containerId: 'pod-a-1', netns: c1 })).toMatchObject({ code: 0, stdout: '' });
    expect(await cni('DEL', { containerId: 'pod-a-1', netns: '' })).toMatchObject({ code: 0, stdout: '' });
    expect(await allocation(ipOf(other))).toMatchObject({ allocated: true, handle: `${NETWORK}.pod-b-1` });
    expect(await inUse('cni-main')).toBe(1);
    expect(await cni('DEL', { containerId: 'pod-b-1', netns: c2 })).toMatchObject({ code: 0 });
    await fabric.deleteNamespace(c2);
    expect(await inUse('cni-main')).toBe(0);
  });
});

describe('two containers on one node', () => {
  afterEach(cleanUpMade, 300_000);
  it('ping each other over IPv4 and IPv6 (dual stack: /32 and /128, default via fe80::ecee:eeff:feee:eeee)', async () => {
    const dual = config({ ipam: { ipv4_pools: ['cni-main'], ipv6_pools: ['cni-v6'], assign_ipv6: 'true' } });
    const a = await fabric.addNamespace('dual-a');
    const b = await fabric.addNamespace('dual-b');
    const ra = await add({ containerId: 'dual-a', netns: a, config: dual });
    const rb = await add({ containerId: 'dual-b', netns: b, config: dual });
    expect((ra.ips as { address: string; gateway: string }[]).map((i) => [i.address.replace(/[0-9a-f]*\//, 'N/'), i.gateway])).toEqual([
      ['198.19.216.N/32', '169.254.1.1'],
      ['2001:db8:216::N/128', 'fe80::ecee:eeff:feee:eeee'],
    ]);
    expect(ra.routes).toEqual([
      { dst: '0.0.0.0/0', gw: '169.254.1.1' },
      { dst: '::/0', gw: 'fe80::ecee:eeff:feee:eeee' },
    ]);
    expect((await fabric.routes(a, { family: 6 })).filter((r) => r.dst === 'default').map((r) => `${r.gateway} ${r.dev}`)).toEqual(['fe80::ecee:eeff:feee:eeee eth0']);
    const cali = hostIf(ra);
    expect((await fabric.ip(host, ['-6', 'neigh', 'show', 'proxy', 'dev', cali])).trim()).toBe('fe80::ecee:eeff:feee:eeee proxy');
    const sysctl = async (key: string): Promise<string> => (await fabric.exec(host, requireTool('busybox', 'busybox-static'), ['sysctl', '-n', key])).stdout.trim();
    expect(await sysctl(`net.ipv6.conf.${cali}.proxy_ndp`)).toBe('1');
    expect(await sysctl(`net.ipv6.conf.${cali}.forwarding`)).toBe('1');
    expect((await fabric.routes(host, { proto: 84, family: 6 })).map((r) => `${r.dst} dev ${r.dev}`).sort()).toEqual([`${ipOf(ra, 1)}/128 dev ${cali}`, `${ipOf(rb, 1)}/128 dev ${hostIf(rb)}`].sort());

    for (const [from, to] of [
      [a, ipOf(rb)],
      [b, ipOf(ra)],
      [a, ipOf(rb, 1)],
      [b, ipOf(ra, 1)],
    ] as const) {
      const p = await fabric.ping(from, to, { count: 2, timeoutS: 2 });
      expect(p.received, `${from} → ${to}: ${p.output}`).toBe(2);
    }
    const check = await cni('CHECK', { containerId: 'dual-a', netns: a, config: { ...dual, prevResult: ra } });
    expect(check, check.stdout).toMatchObject({ code: 0, stdout: '' });
    for (const [id, ns] of [
      ['dual-a', a],
      ['dual-b', b],
    ] as const) {
      expect((await cni('DEL', { containerId: id, netns: ns, config: dual })).code).toBe(0);
      await fabric.deleteNamespace(ns);
    }
    expect(await inUse('cni-v6')).toBe(0);
  });

  it("a pod's new container takes over the host interface; the late DEL of the old one leaves the new one alone", async () => {
    const oldNs = await fabric.addNamespace('sts-old');
    const newNs = await fabric.addNamespace('sts-new');
    const args = 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0';
    const old = await add({ containerId: 'sts-old', netns: oldNs, args });
    const fresh = await add({ containerId: 'sts-new', netns: newNs, args });
    expect(hostIf(fresh)).toBe(hostIf(old));
    expect(ipOf(fresh)).not.toBe(ipOf(old));
    expect((await endpoints()).map((e) => e.containerID)).toEqual(['sts-new']);
    expect(await cni('DEL', { containerId: 'sts-old', netns: oldNs, args })).toMatchObject({ code: 0 });
    expect(await allocation(ipOf(old))).toMatchObject({ allocated: false });
    expect(await allocation(ipOf(fresh))).toMatchObject({ allocated: true, handle: `${NETWORK}.sts-new` });
    expect((await endpoints()).map((e) => e.containerID)).toEqual(['sts-new']);
    expect(await hasLink(host, hostIf(fresh))).toBe(true);
    expect((await fabric.ping(newNs, NODE_ADDRESS, { count: 1, timeoutS: 2 })).received).toBe(1);
    expect(await cni('DEL', { containerId: 'sts-new', netns: newNs, args })).toMatchObject({ code: 0 });
    expect(await endpoints()).toEqual([]);
    await fabric.deleteNamespace(oldNs);
    await fabric.deleteNamespace(newNs);
  });

  it('a bare container (podman: K8S_POD_NAME without a namespace) is named by its ID; pools from the pod annotation', async () => {
    const ns = await fabric.addNamespace('bare');
    const cid = 'b1e2c3d4e5f60718293a4b5c6d7e8f90';
    const r = await add({
      containerId: cid,
      netns: ns,
      args: 'IgnoreUnknown=1;K8S_POD_NAME=bare',
      config: config({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'cni.projectcalico.org/ipv4pools': '["cni-other"]' } } }),
    });
    expect(hostIf(r)).toBe('calib1e2c3d4e5f');
    expect(ipOf(r)).toMatch(/^198\.19\.218\./);
    expect(await endpoints()).toMatchObject([{ name: `${NODE.replace(/-/g, '--')}-cni-${cid}-eth0`, containerID: cid }]);
    expect((await cni('DEL', { containerId: cid, netns: ns, args: 'IgnoreUnknown=1;K8S_POD_NAME=bare' })).code).toBe(0);
    expect(await endpoints()).toEqual([]);
    await fabric.deleteNamespace(ns);
  });
});

describe('STATUS (1.1.0)', () => {
  afterEach(cleanUpMade, 120_000);
  const v11 = (extra: Record<string, unknown> = {}) => config({ cniVersion: '1.1.0', ...extra });

  it('exits 0 with nothing on stdout while tabby-ipam and tabby-store answer and the Node exists', async () => {
    expect(await cni('STATUS', { containerId: '', netns: '', config: v11() })).toMatchObject({ code: 0, stdout: '' });
  });

  it('tabby-ipam down: 50, naming it and its address; 0 again once it is back', async () => {
    await ipam.process.stop();
    try {
      const r = await cni('STATUS', { containerId: '', netns: '', config: v11() });
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ cniVersion: '1.1.0', code: 50, msg: expect.stringMatching(new RegExp(`^tabby-cni is not available: .*tabby-ipam at ${ipam.address.replace(/\./g, '\\.')} is unavailable: .*ECONNREFUSED`)) as unknown });
    } finally {
      ipam = await startServiceIn(fabric, host, 'ipam', ['--listen', `127.0.0.1:${ipam.port}`, '--data-dir', `${dir.path}/ipam`, '--store', store.address, '--recovery-interval', '1', ...IPAM_GC_OFF]);
    }
    await eventually('STATUS 0 with tabby-ipam back', async () => (await cni('STATUS', { containerId: '', netns: '', config: v11() })).code === 0, 30_000, 200);
  }, 90_000);

  it('no Node resource: 50; with containers of the network on the node: 51', async () => {
    const r = await cni('STATUS', { containerId: '', netns: '', config: v11({ nodename: 'cni-node-none' }) });
    expect(r.json).toMatchObject({ code: 50, msg: `tabby-cni is not available: node cni-node-none has no Node resource in tabby-store at ${store.address}: ADD would fail (code 103)` });

    // A second node with a container on it loses its Node resource.
    const node2 = 'cni-node-2';
    await callUnary(storeClient.create.bind(storeClient), { resource: one(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${node2}\nspec:\n  bgp:\n    ipv4Address: 198.18.216.2/32\n`) }, { timeoutMs: 10_000 });
    const ns = await fabric.addNamespace('st-node2');
    const on2 = v11({ nodename: node2 });
    await eventually('ipam to know node 2', async () => (await cni('ADD', { containerId: 'st-node2', netns: ns, config: on2 })).code === 0, 15_000, 200);
    await callUnary(storeClient.delete.bind(storeClient), { kind: 'Node', namespace: '', name: node2, resourceVersion: '', force: false }, { timeoutMs: 10_000 });
    const lost = await cni('STATUS', { containerId: '', netns: '', config: on2 });
    expect(lost.json).toMatchObject({ code: 51, msg: expect.stringMatching(/^tabby-cni is not available: node cni-node-2 has no Node resource .*, and the 1 container of network tabby-test on it may have limited connectivity/) as unknown });
    expect((await cni('DEL', { containerId: 'st-node2', netns: ns, config: on2 })).code).toBe(0);
    await nothingLeft(ns);
  }, 60_000);

  it('a 1.0.0 config does not allow it (1), as libcni\'s skel says', async () => {
    expect((await cni('STATUS', { containerId: '', netns: '', config: config() })).json).toMatchObject({ cniVersion: '1.0.0', code: 1 });
  });
});

describe('GC (1.1.0)', () => {
  afterAll(async () => {
    await fabric.ip(host, ['link', 'del', 'califoreign0'], { allowFailure: true });
    await cleanUpMade();
  }, 120_000);
  const v11 = (extra: Record<string, unknown> = {}) => config({ cniVersion: '1.1.0', mtu: 1400, ...extra });
  const gc = (valid: { containerID: string; ifname: string }[], extra: Record<string, unknown> = {}) => cni('GC', { containerId: '', netns: '', config: v11({ 'cni.dev/valid-attachments': valid, ...extra }) });
  let keepNs = '';
  let goneNs = '';
  let keep: Record<string, unknown>;
  let gone: Record<string, unknown>;
  let goneNoNs: Record<string, unknown>;
  let dotted: Record<string, unknown>;
  let otherNet: Record<string, unknown>;

  /** What GC must not change: addresses, endpoints, host links and routes. */
  async function snapshot(): Promise<unknown> {
    const u = await callUnary(ipamClient.listAllocations.bind(ipamClient), { node: '', handlePrefix: '' }, { timeoutMs: 10_000 });
    return {
      allocations: u.allocations.map((a) => `${a.handle} ${a.address}`).sort(),
      endpoints: (await endpoints()).map((e) => `${e.containerID} ${e.interfaceName}`).sort(),
      links: (await links(host)).map((l) => l.ifname).sort(),
      routes: (await fabric.routes(host, { proto: 84 })).map((r) => `${r.dst} ${r.dev}`).sort(),
    };
  }

  it('ADD with a 1.1.0 config prints the 1.1.0 result: as 1.0.0, with each interface\'s MTU', async () => {
    keepNs = await fabric.addNamespace('gc-keep');
    goneNs = await fabric.addNamespace('gc-gone');
    const goneNoNsPath = await fabric.addNamespace('gc-gone-ns');
    const dottedNs = await fabric.addNamespace('gc-dotted');
    const otherNs = await fabric.addNamespace('gc-other');
    keep = await add({ containerId: 'gc-keep', netns: keepNs, config: v11() });
    expect(keep).toMatchObject({
      cniVersion: '1.1.0',
      interfaces: [
        { name: hostIf(keep), mac: 'ee:ee:ee:ee:ee:ee', mtu: 1400 },
        { name: 'eth0', mac: containerMac('gc-keep', 'eth0'), mtu: 1400, sandbox: `/run/netns/${keepNs}` },
      ],
      ips: [{ address: expect.stringMatching(/^198\.19\.216\.\d+\/32$/) as unknown, gateway: '169.254.1.1', interface: 1 }],
    });
    expect((await links(keepNs)).find((l) => l.ifname === 'eth0')).toMatchObject({ mtu: 1400 });
    gone = await add({ containerId: 'gc-gone', netns: goneNs, config: v11() });
    goneNoNs = await add({ containerId: 'gc-gone-ns', netns: goneNoNsPath, config: v11() });
    // Its runtime removed the namespace (and with it the veth pair) but never called DEL.
    await fabric.deleteNamespace(goneNoNsPath);
    // Network "tabby-test.x": its handles start with "tabby-test." too. And another network.
    dotted = await add({ containerId: 'gc-dotted', netns: dottedNs, config: v11({ name: `${NETWORK}.x` }) });
    otherNet = await add({ containerId: 'gc-other', netns: otherNs, config: v11({ name: 'other-net' }) });
    // A veth with tabby-cni's MAC and name prefix that tabby-cni did not make (no route of its protocol).
    await fabric.ip(host, ['link', 'add', 'califoreign0', 'address', 'ee:ee:ee:ee:ee:ee', 'type', 'veth', 'peer', 'name', 'foreignpeer0']);
  }, 60_000);

  it('GC with only gc-keep valid releases gc-gone (address, endpoint, host interface and, with it, the container side) and gc-gone-ns; nothing of other networks or tabby-cni did not make', async () => {
    const goneCali = hostIf(gone);
    expect(await hasLink(host, goneCali)).toBe(true);
    const r = await gc([{ containerID: 'gc-keep', ifname: 'eth0' }]);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: '' });

    for (const x of [gone, goneNoNs]) expect(await allocation(ipOf(x))).toMatchObject({ allocated: false });
    expect((await endpoints()).map((e) => e.containerID).sort()).toEqual(['gc-dotted', 'gc-keep', 'gc-other']);
    expect(await hasLink(host, goneCali)).toBe(false);
    expect(await hasLink(goneNs, 'eth0')).toBe(false);
    expect((await fabric.routes(host, { proto: 84 })).map((x) => x.dst).sort()).toEqual([ipOf(keep), ipOf(dotted), ipOf(otherNet)].map((a) => `${a}/32`).sort());

    expect(await allocation(ipOf(keep))).toMatchObject({ allocated: true, handle: `${NETWORK}.gc-keep` });
    expect(await allocation(ipOf(dotted))).toMatchObject({ allocated: true, handle: `${NETWORK}.x.gc-dotted` });
    expect(await allocation(ipOf(otherNet))).toMatchObject({ allocated: true, handle: 'other-net.gc-other' });
    expect(await hasLink(host, 'califoreign0')).toBe(true);
    const ping = await fabric.ping(keepNs, NODE_ADDRESS, { count: 2, timeoutS: 2 });
    expect(ping.received, ping.output).toBe(2);
    const check = await cni('CHECK', { containerId: 'gc-keep', netns: keepNs, config: v11({ prevResult: keep }) });
    expect(check, check.stdout).toMatchObject({ code: 0, stdout: '' });
  });

  it('GC again changes nothing, and the kept container still works', async () => {
    const before = await snapshot();
    expect(await gc([{ containerID: 'gc-keep', ifname: 'eth0' }])).toMatchObject({ code: 0, stdout: '' });
    expect(await snapshot()).toEqual(before);
    expect((await fabric.ping(keepNs, NODE_ADDRESS, { count: 1, timeoutS: 2 })).received).toBe(1);
  });

  it('without cni.dev/valid-attachments it releases nothing (7); with tabby-ipam unreachable, 11', async () => {
    const before = await snapshot();
    const none = await cni('GC', { containerId: '', netns: '', config: v11() });
    expect(none.json).toMatchObject({ code: 7, msg: expect.stringMatching(/^GC needs cni\.dev\/valid-attachments/) as unknown });
    const down = await gc([], { tabby: { store: store.address, ipam: '127.0.0.1:1', timeout_seconds: 5 } });
    expect(down.json).toMatchObject({ code: 11, msg: expect.stringMatching(/tabby-ipam at 127\.0\.0\.1:1 is unavailable/) as unknown });
    expect(await snapshot()).toEqual(before);
  });
});

/** Nothing of container `id` anywhere: no interface in its namespace or on the node, no address, no endpoint. */
async function nothingLeft(ns: string | undefined): Promise<void> {
  if (ns !== undefined) expect((await links(ns)).map((l) => l.ifname)).toEqual(['lo']);
  expect((await links(host)).map((l) => l.ifname).filter((n) => n.startsWith('cali'))).toEqual([]);
  expect(await fabric.routes(host, { proto: 84 })).toEqual([]);
  expect(await endpoints()).toEqual([]);
  const u = await callUnary(ipamClient.utilization.bind(ipamClient), { includeBlocks: false }, { timeoutMs: 10_000 });
  expect(u.pools.filter((p) => p.inUse !== '0').map((p) => `${p.name} ${p.inUse}`)).toEqual([]);
}

describe('failures leave nothing behind', () => {
  afterEach(cleanUpMade, 300_000);
  it('tabby-ipam unreachable: code 11 (try again later)', async () => {
    const ns = await fabric.addNamespace('f-unreach');
    const r = await cni('ADD', { containerId: 'f-unreach', netns: ns, config: config({ tabby: { store: store.address, ipam: '127.0.0.1:1', timeout_seconds: 5 } }) });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ cniVersion: '1.0.0', code: 11, msg: expect.stringMatching(/^cannot assign addresses: tabby-ipam at 127\.0\.0\.1:1 is unavailable: .*ECONNREFUSED/) as unknown });
    await nothingLeft(ns);
    // DEL with IPAM unreachable is retried by the runtime: code 11 too.
    const del = await cni('DEL', { containerId: 'f-unreach', netns: ns, config: config({ tabby: { ipam: '127.0.0.1:1' } }) });
    expect(del.json).toMatchObject({ code: 11 });
    await fabric.deleteNamespace(ns);
  });

  it('the store unreachable behind tabby-ipam: code 11, the addresses given back', async () => {
    const ns = await fabric.addNamespace('f-store');
    await store.process.stop();
    try {
      const r = await cni('ADD', { containerId: 'f-store', netns: ns });
      expect(r.json).toMatchObject({ code: 11, msg: expect.stringMatching(/store is unreachable/) as unknown });
    } finally {
      store = await startServiceIn(fabric, host, 'store', ['--listen', `127.0.0.1:${store.port}`, '--data-dir', `${dir.path}/store`]);
    }
    await eventually('ipam to reach the store again', async () => (await cni('ADD', { containerId: 'f-store-probe', netns: ns })).code === 0, 30_000, 500);
    expect((await cni('DEL', { containerId: 'f-store-probe', netns: ns })).code).toBe(0);
    await nothingLeft(ns);
    await fabric.deleteNamespace(ns);
  }, 90_000);

  it('an exhausted pool: code 101 with IPAM\'s message', async () => {
    const namespaces: string[] = [];
    const tiny = config({ ipam: { ipv4_pools: ['cni-tiny'] } });
    for (let i = 0; i < 4; i++) {
      const ns = await fabric.addNamespace(`f-tiny-${i}`);
      namespaces.push(ns);
      await add({ containerId: `f-tiny-${i}`, netns: ns, config: tiny });
    }
    const ns = await fabric.addNamespace('f-tiny-x');
    const r = await cni('ADD', { containerId: 'f-tiny-x', netns: ns, config: tiny });
    expect(r.json).toMatchObject({ code: 101, msg: 'cannot assign addresses: Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [198.19.217.0/30]' });
    expect((await links(ns)).map((l) => l.ifname)).toEqual(['lo']);
    expect(await inUse('cni-tiny')).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect((await cni('DEL', { containerId: `f-tiny-${i}`, netns: namespaces[i], config: tiny })).code).toBe(0);
      await fabric.deleteNamespace(namespaces[i]);
    }
    await nothingLeft(ns);
    await fabric.deleteNamespace(ns);
  });

  it('an unknown or disabled pool: code 102', async () => {
    const ns = await fabric.addNamespace('f-pool');
    for (const name of ['no-such-pool', 'cni-off']) {
      const r = await cni('ADD', { containerId: 'f-pool', netns: ns, config: config({ ipam: { ipv4_pools: [name] } }) });
      expect(r.json).toMatchObject({ code: 102, msg: expect.stringMatching(/does not exist, or is not enabled/) as unknown });
    }
    await nothingLeft(ns);
    await fabric.deleteNamespace(ns);
  });

  it('wiring failing half way (the node routes the address elsewhere already): code 105, interface, address and endpoint all undone', async () => {
    const ns = await fabric.addNamespace('f-half');
    // Every address of cni-trap is taken in the node's table by a static route.
    for (let i = 0; i < 4; i++) await fabric.ip(host, ['route', 'add', `198.19.219.${i}/32`, 'dev', 'lo', 'proto', 'static']);
    try {
      const r = await cni('ADD', { containerId: 'f-half', netns: ns, config: config({ ipam: { ipv4_pools: ['cni-trap'] } }) });
      expect(r.json).toMatchObject({ code: 105, msg: expect.stringMatching(/^route 198\.19\.219\.\d\/32 already exists in table 254 for another interface \(198\.19\.219\.\d\/32 dev lo\), not cali/) as unknown });
      await nothingLeft(ns);
    } finally {
      for (let i = 0; i < 4; i++) await fabric.ip(host, ['route', 'del', `198.19.219.${i}/32`, 'dev', 'lo'], { allowFailure: true });
    }
    await fabric.deleteNamespace(ns);
  });

  it('a namespace that does not exist: code 3, IPAM never asked', async () => {
    const r = await cni('ADD', { containerId: 'f-gone', netns: '/run/netns/tabby-cni-no-such-ns' });
    expect(r.json).toEqual({ cniVersion: '1.0.0', code: 3, msg: "the container's network namespace /run/netns/tabby-cni-no-such-ns does not exist" });
    await nothingLeft(undefined);
  });

  it('an interface of that name made by someone else: code 106, left alone', async () => {
    const ns = await fabric.addNamespace('f-taken');
    await fabric.ip(ns, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
    const r = await cni('ADD', { containerId: 'f-taken', netns: ns });
    expect(r.json).toMatchObject({ code: 106 });
    expect(await hasLink(ns, 'eth0')).toBe(true);
    // DEL leaves another plugin's eth0 alone too.
    expect((await cni('DEL', { containerId: 'f-taken', netns: ns })).code).toBe(0);
    expect(await hasLink(ns, 'eth0')).toBe(true);
    await fabric.deleteNamespace(ns);
    await nothingLeft(undefined);
  });

  it('the namespace guard: a container namespace that is this machine\'s own is refused (code 108), before anything is read or made', async () => {
    // This test process runs in the machine's own namespace: its namespace file names it.
    const r = await cni('CHECK', { containerId: 'f-guard', netns: `/proc/${process.pid}/ns/net`, config: config({ prevResult: { cniVersion: '1.0.0', interfaces: [], ips: [] } }) });
    expect(r.json).toMatchObject({ code: 108, msg: expect.stringMatching(/refusing to wire a container in this machine's own network namespace/) as unknown });
  });

  it.each<[string, Partial<CallOpts>, number, RegExp]>([
    ['stdin that is not JSON', { config: '{"cniVersion": "1.0.0",' }, 6, /not JSON/],
    ['a config of another type', { config: { cniVersion: '1.0.0', name: NETWORK, type: 'calico' } }, 7, /type must be "tabby-cni"/],
    ['an unsupported version', { config: { cniVersion: '0.2.0', name: NETWORK, type: 'tabby-cni' } }, 1, /cniVersion "0.2.0" is not supported/],
    ['an unknown tabby key', { config: { cniVersion: '1.0.0', name: NETWORK, type: 'tabby-cni', tabby: { ipam_addr: 'x' } } }, 2, /unsupported field tabby.ipam_addr/],
    ['unknown CNI_ARGS', { args: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=x;FOO=bar' }, 4, /CNI_ARGS: unknown key "FOO"/],
    ['an interface name too long', { ifname: 'a-very-long-ifname' }, 4, /longer than 15 bytes/],
  ])('%s: the spec\'s error JSON, nothing touched', async (_what, over, code, msg) => {
    const ns = await fabric.addNamespace(`f-bad-${code}-${String(over.ifname ?? '').length}`);
    const r = await cni('ADD', { containerId: 'f-bad', netns: ns, ...over });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ code, msg: expect.stringMatching(msg) as unknown });
    expect(Object.keys(r.json ?? {}).sort()).toEqual(expect.arrayContaining(['cniVersion', 'code', 'msg']));
    await nothingLeft(ns);
    await fabric.deleteNamespace(ns);
  });
});

describe('50 containers at once', () => {
  afterEach(cleanUpMade, 300_000);
  it('50 concurrent ADDs get 50 distinct addresses, all wired; 50 concurrent DELs release them all', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `many-${i}`);
    const namespaces = await Promise.all(ids.map((id) => fabric.addNamespace(id)));
    const results = await Promise.all(ids.map((id, i) => cni('ADD', { containerId: id, netns: namespaces[i], timing: 'ADD, 50 at once' })));
    for (const r of results) expect(r.code, r.stdout + r.stderr).toBe(0);
    const addresses = results.map((r) => ipOf(r.json!));
    expect(new Set(addresses).size).toBe(50);
    expect(new Set(results.map((r) => hostIf(r.json!))).size).toBe(50);
    expect(await inUse('cni-main')).toBe(50);
    expect((await endpoints()).length).toBe(50);
    expect((await fabric.routes(host, { proto: 84 })).length).toBe(50);
    // Spot checks: first and last reach each other through the node.
    expect((await fabric.ping(namespaces[0], addresses[49], { count: 1, timeoutS: 2 })).received).toBe(1);
    expect((await fabric.ping(namespaces[49], addresses[0], { count: 1, timeoutS: 2 })).received).toBe(1);
    const dels = await Promise.all(ids.map((id, i) => cni('DEL', { containerId: id, netns: namespaces[i], timing: 'DEL, 50 at once' })));
    for (const d of dels) expect(d.code, d.stdout + d.stderr).toBe(0);
    for (const ns of namespaces) await fabric.deleteNamespace(ns);
    await nothingLeft(undefined);
  }, 300_000);
});

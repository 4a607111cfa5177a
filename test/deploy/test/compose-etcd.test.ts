/**
 * deploy/compose.etcd.yml, the override that puts the control plane on a three-member etcd
 * cluster, a three-node NATS cluster and two replicas of store, IPAM and topology. Tested
 * without a Docker engine, as compose.test.ts tests docker-compose.yml:
 * 1. `docker-compose config -q` accepts it on top of docker-compose.yml; every flag and TABBY_*
 *    variable is one the binary lists in --help; the etcd members, the NATS nodes and the
 *    replicas name each other consistently;
 * 2. every service of the merged file is started as a local process with its own command and
 *    environment (the compose network mapped to a loopback /24): the etcd members are Debian's
 *    etcd-server, the NATS nodes nats-server, the rest the Tabby binaries; then the demo's pool,
 *    nodes and workloads must be in etcd under /calico, both store replicas must serve them,
 *    both IPAM replicas must hand out addresses from the same blocks, the mesh must come up, and
 *    writes must go on while an etcd member is killed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { ProcessGroup, REPO_ROOT, eventually, listServicesByReflection, requireTool, sleep, tempDir, type TestProcess } from '@tabby/harness';
import { durationSeconds, localServices, startOrder, type ComposeFile, type LocalService } from './compose.js';
import { runCommand, stopCommands, type CommandResult } from './run-command.js';

const BASE = path.join(REPO_ROOT, 'docker-compose.yml');
const ETCD = path.join(REPO_ROOT, 'deploy', 'compose.etcd.yml');
const BIN_DIR = path.join(REPO_ROOT, 'node_modules', '.bin');
/** tabbyctl's own variables (healthchecks and the demo run tabbyctl with the service's environment). */
const TABBYCTL_VARS = new Set(['TABBY_STORE_ADDR', 'TABBY_IPAM_ADDR', 'TABBY_TOPOLOGY_ADDR']);
const ETCD_MEMBERS = ['etcd1', 'etcd2', 'etcd3'];
const NATS_NODES = ['nats', 'nats2', 'nats3'];
const AGENTS = ['node1', 'node2', 'node3'];

/** The merged configuration as Compose sees it. */
function merged(): ComposeFile {
  const out = execFileSync(requireTool('docker-compose'), ['-f', BASE, '-f', ETCD, 'config'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return parse(out) as ComposeFile;
}

/** Flags (`--name` → takes a value) and variables a binary's help lists. */
function help(bin: string): { flags: Map<string, boolean>; env: Set<string> } {
  const text = execFileSync(path.join(BIN_DIR, bin), ['--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const flags = new Map<string, boolean>();
  for (const m of text.matchAll(/^\s+--([a-z0-9-]+)(?: (\S+))?\s{2,}/gm)) flags.set(m[1], m[2] !== undefined);
  const env = new Set([...text.matchAll(/\[env (TABBY_[A-Z0-9_]+)/g)].map((m) => m[1]));
  return { flags, env };
}

/** `--flag value` pairs of a command line; a flag the help does not list throws. */
function flagsOf(argv: readonly string[], known: Map<string, boolean>, at: string): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z0-9-_]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`${at}: positional argument ${JSON.stringify(argv[i])}`);
    const takes = known.get(m[1]);
    if (takes === undefined) throw new Error(`${at}: --${m[1]} is no flag`);
    if (takes && m[2] === undefined) out.set(m[1], argv[++i] ?? '');
    else out.set(m[1], m[2] ?? 'true');
  }
  return out;
}

/** `--flag value` pairs of a command that is not ours (etcd, nats-server): every flag takes a value. */
function pairs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) out.set(argv[i].replace(/^-+/, ''), argv[i + 1]);
  return out;
}

const ipOf = (svc: ComposeFile['services'][string]): string => Object.values(svc.networks ?? {})[0]?.ipv4_address ?? '';

describe('deploy/compose.etcd.yml', () => {
  const m = merged();
  const tabby = Object.entries(m.services).filter(([, s]) => (s.command?.[0] ?? '').startsWith('tabby-'));
  const helps = new Map<string, ReturnType<typeof help>>();
  const helpOf = (bin: string): ReturnType<typeof help> => helps.get(bin) ?? helps.set(bin, help(bin)).get(bin)!;
  const flags = (name: string): Map<string, string> => {
    const cmd = m.services[name].command ?? [];
    return flagsOf(cmd.slice(1), helpOf(cmd[0]).flags, name);
  };

  it('docker-compose config -q accepts it on top of docker-compose.yml', () => {
    const r = spawnSync(requireTool('docker-compose'), ['-f', BASE, '-f', ETCD, 'config', '-q'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('sets only flags and variables the binaries know', () => {
    expect(tabby.map(([n]) => n).sort()).toEqual(['ipam', 'ipam2', 'node1', 'node2', 'node3', 'store', 'store2', 'topology', 'topology2', 'ui']);
    for (const [name, svc] of tabby) {
      const bin = svc.command![0];
      flags(name); // throws on a flag the binary does not have
      for (const v of Object.keys(svc.environment ?? {})) if (v.startsWith('TABBY_')) expect(helpOf(bin).env.has(v) || TABBYCTL_VARS.has(v), `${name}: ${v} is no flag of ${bin}`).toBe(true);
    }
    for (const v of Object.keys(m.services.demo.environment ?? {})) expect(TABBYCTL_VARS.has(v), `demo: ${v}`).toBe(true);
    // docker-compose 1.29's `config` drops pull_policy: read it from the file itself.
    const raw = parseDocument(readFileSync(ETCD, 'utf8'), { merge: true }).toJS() as ComposeFile;
    for (const name of ['store2', 'ipam2', 'topology2']) {
      expect(raw.services[name].image, name).toBe('tabby:0.1.0');
      expect(raw.services[name].pull_policy, name).toBe('never');
    }
  });

  it('three etcd members that name each other; store and ipam replicas on all three, without SQLite', () => {
    const peer = (n: string): string => `http://${n}:2380`;
    const cluster = ETCD_MEMBERS.map((n) => `${n}=${peer(n)}`).join(',');
    for (const n of ETCD_MEMBERS) {
      const svc = m.services[n];
      expect(svc.command?.[0]).toBe('/usr/local/bin/etcd');
      const f = pairs(svc.command!.slice(1));
      expect(f.get('name')).toBe(n);
      expect(f.get('initial-cluster')).toBe(cluster);
      expect(f.get('initial-advertise-peer-urls')).toBe(peer(n));
      expect(f.get('advertise-client-urls')).toBe(`http://${n}:2379`);
      expect(f.get('initial-cluster-state')).toBe('new');
      expect(f.get('auto-compaction-mode')).toBe('revision');
      // The data directory is on the member's own volume.
      const [vol, mount] = (svc.volumes?.[0] ?? '').split(':');
      expect(vol).toBe(`${n}-data`);
      expect(f.get('data-dir')?.startsWith(`${mount}/`)).toBe(true);
      expect(svc.healthcheck?.test?.slice(1, 2)).toEqual(['/usr/local/bin/etcdctl']);
    }
    const endpoints = ETCD_MEMBERS.map((n) => `http://${n}:2379`).join(',');
    for (const name of ['store', 'store2', 'ipam', 'ipam2']) {
      const f = flags(name);
      expect(f.get('datastore'), name).toBe('etcd');
      expect(f.get('etcd-endpoints'), name).toBe(endpoints);
      expect(f.has('data-dir'), `${name} --data-dir`).toBe(false);
    }
    for (const name of ['store', 'store2']) for (const n of ETCD_MEMBERS) expect(m.services[name].depends_on?.[n]?.condition, `${name} waits for ${n}`).toBe('service_healthy');
  });

  it('three NATS nodes routed to each other; every service is given all three', () => {
    for (const n of NATS_NODES) {
      const svc = m.services[n];
      expect(svc.image).toBe('nats:2.10-alpine');
      const f = pairs(svc.command!);
      expect(f.get('cluster_name')).toBe('tabby');
      expect(f.get('cluster')).toBe('nats://0.0.0.0:6222');
      expect(f.get('routes')?.split(',').sort()).toEqual(NATS_NODES.filter((o) => o !== n).map((o) => `nats://${o}:6222`).sort());
    }
    const urls = NATS_NODES.map((n) => `nats://${n}:4222`).join(',');
    // tabby-ui reads only through gRPC watches: it has no --nats.
    for (const [name, svc] of tabby) if (svc.command?.[0] !== 'tabby-ui') expect(flags(name).get('nats'), name).toBe(urls);
    expect(flags('ui').has('nats')).toBe(false);
  });

  it('replicas: store2 and ipam2 answer to the first replica\'s name, the agents get both topology replicas', () => {
    expect(m.services.store2.networks?.tabby?.aliases).toEqual(['store']);
    expect(m.services.ipam2.networks?.tabby?.aliases).toEqual(['ipam']);
    expect(flags('store2').get('listen')).toBe(flags('store').get('listen'));
    expect(flags('ipam2').get('listen')).toBe(flags('ipam').get('listen'));
    const topologies = ['topology', 'topology2'].map((n) => `${ipOf(m.services[n])}:${flags(n).get('listen')!.split(':')[1]}`).join(',');
    for (const n of AGENTS) {
      expect(flags(n).get('topology'), n).toBe(topologies);
      expect(flags(n).get('store'), n).toBe('store:50051');
      expect(m.services[n].environment?.TABBY_TOPOLOGY_ADDR, n).toBe(topologies);
    }
    expect(m.services.demo.environment?.TABBY_TOPOLOGY_ADDR).toBe(topologies);
    // Every address on the network is taken once.
    const ips = Object.values(m.services).map(ipOf).filter((a) => a !== '');
    expect(new Set(ips).size).toBe(ips.length);
  });
});

describe('deploy/compose.etcd.yml run as local processes', () => {
  const compose = merged();
  const group = new ProcessGroup();
  const dir = tempDir('tabby-compose-etcd-');
  const prefix = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}.`;
  const services = localServices(compose, { loopbackPrefix: prefix, volumeRoot: path.join(dir.path, 'volumes'), repoRoot: REPO_ROOT, binDir: BIN_DIR });
  const byName = new Map(services.map((s) => [s.name, s]));
  const env = (s: LocalService, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    PATH: `${BIN_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
    HOME: dir.path,
    TABBY_CONFIG: '',
    ETCDCTL_API: '3',
    ...s.env,
    ...extra,
  });
  // etcd's image keeps etcd and etcdctl in /usr/local/bin; here they are Debian's.
  const program = (name: string): string =>
    name === 'nats-server' ? requireTool('nats-server') : path.basename(name) === 'etcd' ? requireTool('etcd', 'etcd-server') : path.basename(name) === 'etcdctl' ? requireTool('etcdctl', 'etcd-client') : name;
  const running = new Map<string, TestProcess>();
  const addr = (name: string, port: number): string => `${byName.get(name)!.address}:${port}`;
  const endpoints = (): string => ETCD_MEMBERS.map((n) => `http://${addr(n, 2379)}`).join(',');

  const runIn = (s: LocalService, argv: readonly string[], extra: Record<string, string> = {}, timeoutMs = 15_000): Promise<CommandResult> =>
    runCommand(program(argv[0]), argv.slice(1), { env: env(s, extra), timeoutMs });
  const tabbyctl = (argv: readonly string[], extra: Record<string, string> = {}): Promise<CommandResult> => runIn(byName.get('demo')!, ['tabbyctl', ...argv], extra);
  const etcdctl = async (argv: readonly string[], eps = endpoints()): Promise<string> => {
    const r = await runIn(byName.get('etcd1')!, ['etcdctl', '--endpoints', eps, '--dial-timeout', '2s', '--command-timeout', '5s', ...argv]);
    if (r.code !== 0) throw new Error(`etcdctl ${argv.join(' ')}: exit ${r.code}: ${r.out}`);
    return r.out;
  };

  async function healthy(s: LocalService): Promise<void> {
    const hc = compose.services[s.name].healthcheck!;
    const budget = durationSeconds(hc.start_period, 0) + (hc.retries ?? 3) * (durationSeconds(hc.interval, 30) + durationSeconds(hc.timeout, 30));
    let last = { code: null as number | null, out: '' };
    const deadline = Date.now() + budget * 1000;
    while (Date.now() < deadline) {
      if ((running.get(s.name)?.child.exitCode ?? null) !== null) throw new Error(`${s.name} exited:\n${running.get(s.name)!.output().slice(-3000)}`);
      last = s.health![0] === 'wget' ? await httpCheck(s.health!) : await runIn(s, s.health!);
      if (last.code === 0) return;
      await sleep(500);
    }
    throw new Error(`${s.name} not healthy within ${budget} s (${s.health!.join(' ')}: ${last.out.trim()})\n${running.get(s.name)?.output().slice(-3000) ?? ''}`);
  }

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('the compose agents listen for BGP on port 179 as in their containers: run this test as root (as CI does)');
    for (const s of startOrder(services)) {
      for (const d of s.dependsOn) if (d.condition === 'service_healthy') await healthy(byName.get(d.service)!);
      for (const a of s.args) if (a.startsWith(path.join(dir.path, 'volumes'))) mkdirSync(path.dirname(a), { recursive: true });
      if (s.oneShot) {
        const r = await runIn(s, [s.program, ...s.args], {}, 120_000);
        if (r.code !== 0) throw new Error(`one-shot service ${s.name} failed (exit ${r.code}):\n${r.out}`);
        continue;
      }
      running.set(s.name, group.start(s.name, program(s.program), s.args, { env: env(s), logFile: path.join(dir.path, `${s.name}.log`) }));
    }
  }, 300_000);

  afterAll(async () => {
    stopCommands();
    await group.stopAll();
    dir.remove();
  });

  it('every long-running service passes its healthcheck; etcd has three members, every NATS node routes to the other two', async () => {
    for (const s of services) if (!s.oneShot) await healthy(s);
    const members = await etcdctl(['member', 'list']);
    for (const n of ETCD_MEMBERS) expect(members).toMatch(new RegExp(`started, ${n}, http://${addr(n, 2380).replace(/\./g, '\\.')}`));
    for (const n of NATS_NODES) {
      const res = await fetch(`http://${addr(n, 8222)}/routez`);
      expect(((await res.json()) as { num_routes: number }).num_routes, n).toBe(2);
    }
    for (const n of ['store', 'store2']) expect(await listServicesByReflection(addr(n, 50051))).toContain('tabby.v1.ResourceStore');
  }, 180_000);

  it('the demo created its pool and a workload on every node, and the data is in etcd under /calico', async () => {
    const r = await tabbyctl(['get', 'wep', '--all-namespaces']);
    expect(r.code, r.out).toBe(0);
    for (const n of AGENTS) expect(r.out).toMatch(new RegExp(`web-\\d\\s+${n}\\s+192\\.168\\.\\d+\\.\\d+/32`));
    const keys = (await etcdctl(['get', '--prefix', '/calico', '--keys-only'])).split('\n').filter((k) => k !== '');
    const res = '/calico/resources/v3/projectcalico.org';
    expect(keys).toContain(`${res}/ippools/default-ipv4-ippool`);
    expect(keys).toContain(`${res}/bgpconfigurations/default`);
    for (const n of AGENTS) {
      expect(keys, n).toContain(`${res}/nodes/${n}`);
      expect(keys.some((k) => k.startsWith(`${res}/workloadendpoints/default/${n}-`)), `${n}'s WorkloadEndpoint`).toBe(true);
      expect(keys.some((k) => k.startsWith(`/calico/ipam/v2/host/${n}/ipv4/block/192.168.`)), `${n}'s block affinity`).toBe(true);
    }
    expect(keys.filter((k) => k.startsWith('/calico/ipam/v2/assignment/ipv4/block/192.168.')).length).toBeGreaterThanOrEqual(3);
    expect(keys.filter((k) => k.startsWith('/calico/ipam/v2/handle/')).length).toBeGreaterThanOrEqual(3);
    const pool = JSON.parse(await etcdctl(['get', `${res}/ippools/default-ipv4-ippool`, '--print-value-only'])) as { kind: string; spec: { cidr: string } };
    expect(pool).toMatchObject({ kind: 'IPPool', spec: { cidr: '192.168.0.0/16' } });
  }, 60_000);

  it('the second store replica serves the same resources; the second IPAM replica hands out addresses from the same blocks', async () => {
    const viaStore2 = { TABBY_STORE_ADDR: addr('store2', 50051) };
    const one = await tabbyctl(['get', 'wep', '--all-namespaces']);
    const two = await tabbyctl(['get', 'wep', '--all-namespaces'], viaStore2);
    expect(two.code, two.out).toBe(0);
    expect(two.out).toBe(one.out);
    // A workload through ipam2, read back through store (the first replica): one set of blocks.
    const add = await tabbyctl(['workload', 'add', 'default/replica-1', '--node', 'node1'], { TABBY_IPAM_ADDR: addr('ipam2', 50052) });
    expect(add.code, add.out).toBe(0);
    const weps = await tabbyctl(['get', 'wep', '--all-namespaces']);
    const ips = [...weps.out.matchAll(/(192\.168\.\d+\.\d+)\/32/g)].map((x) => x[1]);
    expect(ips.length).toBe(4);
    expect(new Set(ips).size, weps.out).toBe(4);
    const blocks = await tabbyctl(['ipam', 'show', '--show-blocks'], { TABBY_IPAM_ADDR: addr('ipam', 50052) });
    expect(blocks.code, blocks.out).toBe(0);
    const blocks2 = await tabbyctl(['ipam', 'show', '--show-blocks'], { TABBY_IPAM_ADDR: addr('ipam2', 50052) });
    expect(blocks2.out).toBe(blocks.out);
  }, 60_000);

  it('the mesh reaches Established (agents follow the two topology replicas)', async () => {
    for (const n of AGENTS) {
      const others = AGENTS.filter((o) => o !== n).map((o) => byName.get(o)!.address);
      await eventually(
        `${n}'s mesh sessions Established`,
        async () => {
          const r = await tabbyctl(['node', 'status', n]);
          return r.code === 0 && others.every((ip) => new RegExp(`\\|\\s*${ip.replace(/\./g, '\\.')}\\s*\\|\\s*node-to-node mesh\\s*\\|\\s*up\\s*\\|.*Established`).test(r.out)) && r.out;
        },
        90_000,
        1000,
      );
    }
  }, 300_000);

  it('with one etcd member killed, both store replicas and both IPAM replicas still take writes', async () => {
    const victim = running.get('etcd2')!;
    victim.signal('SIGKILL');
    await victim.exited();
    for (const [i, [storeName, ipamName]] of [['store', 'ipam2'], ['store2', 'ipam']].entries()) {
      const via = { TABBY_STORE_ADDR: addr(storeName, 50051), TABBY_IPAM_ADDR: addr(ipamName, 50052) };
      await eventually(
        `a workload through ${storeName} and ${ipamName} with etcd2 gone`,
        async () => (await tabbyctl(['workload', 'add', `default/after-${i}`, '--node', 'node2'], via)).code === 0 || undefined,
        30_000,
        500,
      );
    }
    const keys = await etcdctl(['get', '--prefix', '/calico/resources/v3/projectcalico.org/workloadendpoints/default/', '--keys-only'], ['etcd1', 'etcd3'].map((n) => `http://${addr(n, 2379)}`).join(','));
    expect(keys).toMatch(/node2-.*after--0/);
    expect(keys).toMatch(/node2-.*after--1/);
  }, 120_000);
});

/** The nats healthcheck (`wget -q -O /dev/null URL`) where wget is installed; else the same GET. */
async function httpCheck(argv: readonly string[]): Promise<{ code: number | null; out: string }> {
  const url = argv[argv.length - 1];
  try {
    execFileSync('wget', [...argv.slice(1)], { stdio: 'pipe', timeout: 5000 });
    return { code: 0, out: '' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { code: 1, out: String(err) };
  }
  const res = await fetch(url).catch((e: unknown) => ({ ok: false, status: String(e) }));
  return { code: res.ok ? 0 : 1, out: `GET ${url}: ${res.status}` };
}

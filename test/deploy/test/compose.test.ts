/**
 * docker-compose.yml, tested without a Docker engine, two ways:
 * 1. `docker-compose config -q` (Debian's docker-compose, offline) accepts it;
 * 2. every service is started as a local process with its own command, flags and
 *    environment from the file (compose.ts remaps the compose network to a loopback /24),
 *    in depends_on order, each waited for with its own healthcheck command; the one-shot
 *    `demo` service applies the demo cluster; then the three agents' mesh must be
 *    Established in `tabbyctl node status` and every node must have the others' routes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, REPO_ROOT, eventually, listServicesByReflection, requireTool, sleep, tempDir, type TestProcess } from '@tabby/harness';
import { durationSeconds, localServices, readCompose, startOrder, type LocalService } from './compose.js';
import { runCommand, stopCommands, type CommandResult } from './run-command.js';

const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
const BIN_DIR = path.join(REPO_ROOT, 'node_modules', '.bin');
const compose = readCompose(COMPOSE_FILE);
const TABBY_SERVICES = ['store', 'ipam', 'topology', 'ui', 'node1', 'node2', 'node3', 'demo'];
const AGENTS = ['node1', 'node2', 'node3'];

describe('docker-compose.yml as written', () => {
  it('docker-compose config -q accepts it', () => {
    const dc = requireTool('docker-compose');
    const r = spawnSync(dc, ['-f', COMPOSE_FILE, 'config', '-q'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('runs every Tabby service from the one image, built once by deploy/Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['nats', ...TABBY_SERVICES].sort());
    for (const name of TABBY_SERVICES) expect(compose.services[name].image, name).toBe('tabby:0.1.0');
    const builders = TABBY_SERVICES.filter((n) => compose.services[n].build !== undefined);
    expect(builders).toEqual(['store']);
    expect(compose.services.store.build).toEqual({ context: '.', dockerfile: 'deploy/Dockerfile', args: { TABBY_GIT_COMMIT: '${TABBY_GIT_COMMIT:-unknown}' } });
    // The others never pull a tabby image from a registry: they wait for the one built here.
    for (const name of TABBY_SERVICES.filter((n) => n !== 'store')) expect(compose.services[name].pull_policy, name).toBe('never');
  });

  it('keeps data in volumes, gates on health, publishes only on the host loopback', () => {
    expect(compose.services.nats.command).toContain('-js');
    expect(compose.services.nats.volumes).toEqual(['nats-data:/data']);
    expect(compose.services.store.volumes).toEqual(['store-data:/var/lib/tabby']);
    expect(compose.services.ipam.volumes).toEqual(['ipam-data:/var/lib/tabby']);
    for (const [name, svc] of Object.entries(compose.services)) {
      if (svc.restart !== 'no') expect(svc.healthcheck?.test, `${name} healthcheck`).toBeDefined();
      for (const d of Object.values(svc.depends_on ?? {})) expect(d.condition, `${name} depends_on`).toBe('service_healthy');
      for (const p of svc.ports ?? []) expect(p, `${name} publishes ${p}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    // grpcurl -plaintext localhost:50051 list works from the host.
    expect(compose.services.store.ports).toContain('127.0.0.1:50051:50051');
  });

  it('only the agents run as root, with only the capabilities they need', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (AGENTS.includes(name)) {
        expect(svc.user).toBe('root');
        expect([...(svc.cap_add ?? [])].sort()).toEqual(['NET_ADMIN', 'NET_BIND_SERVICE']);
        // Each container's routing table is programmed (NET_ADMIN is for that).
        expect(svc.environment?.TABBY_DATAPLANE, name).toBe('linux');
      } else {
        expect(svc.user, name).toBeUndefined();
        expect(svc.cap_add, name).toBeUndefined();
      }
    }
  });
});

describe('docker-compose.yml run as local processes', () => {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-compose-');
  // A loopback /24 of its own stands in for the compose network (no clash with other tests).
  const prefix = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}.`;
  const services = localServices(compose, { loopbackPrefix: prefix, volumeRoot: path.join(dir.path, 'volumes'), repoRoot: REPO_ROOT, binDir: BIN_DIR });
  const byName = new Map(services.map((s) => [s.name, s]));
  const env = (s: LocalService): NodeJS.ProcessEnv => ({ ...process.env, PATH: `${BIN_DIR}${path.delimiter}${process.env.PATH ?? ''}`, HOME: dir.path, TABBY_CONFIG: '', ...s.env });
  const program = (name: string): string => (name === 'nats-server' ? requireTool('nats-server') : name);
  const running = new Map<string, TestProcess>();
  const store = (): string => `${byName.get('store')!.address}:50051`;

  /** Runs a command the way the image would (its bins on PATH); stopped by PID if it hangs. */
  const runIn = (s: LocalService, argv: readonly string[], timeoutMs = 15_000): Promise<CommandResult> => runCommand(program(argv[0]), argv.slice(1), { env: env(s), timeoutMs });

  /** Waits until the service's own healthcheck command passes, within compose's budget. */
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
      if (s.name === 'nats') mkdirSync(s.args[s.args.indexOf('-sd') + 1], { recursive: true });
      if (s.oneShot) {
        const r = await runIn(s, [s.program, ...s.args], 120_000);
        if (r.code !== 0) throw new Error(`one-shot service ${s.name} failed (exit ${r.code}):\n${r.out}`);
        continue;
      }
      running.set(s.name, group.start(s.name, program(s.program), s.args, { env: env(s), logFile: path.join(dir.path, `${s.name}.log`) }));
    }
  }, 240_000);

  afterAll(async () => {
    stopCommands();
    await group.stopAll();
    dir.remove();
  });

  it('every long-running service passes its healthcheck', async () => {
    for (const s of services) if (!s.oneShot) await healthy(s);
  }, 120_000);

  it('the store answers reflection on its published port (what grpcurl list shows)', async () => {
    expect(await listServicesByReflection(store())).toContain('tabby.v1.ResourceStore');
  });

  it('the demo service created the pool and a workload on every node', async () => {
    const s = byName.get('demo')!;
    const r = await runIn(s, ['tabbyctl', 'get', 'wep', '--all-namespaces']);
    expect(r.code).toBe(0);
    for (const n of AGENTS) expect(r.out).toMatch(new RegExp(`web-\\d\\s+${n}\\s+192\\.168\\.\\d+\\.\\d+/32`));
  });

  it('the mesh reaches Established and tabbyctl node status shows it', async () => {
    const s = byName.get('demo')!;
    for (const n of AGENTS) {
      const others = AGENTS.filter((o) => o !== n).map((o) => byName.get(o)!.address);
      const table = await eventually(
        `${n}'s mesh sessions Established`,
        async () => {
          const r = await runIn(s, ['tabbyctl', 'node', 'status', n]);
          return r.code === 0 && others.every((ip) => new RegExp(`\\|\\s*${ip.replace(/\./g, '\\.')}\\s*\\|\\s*node-to-node mesh\\s*\\|\\s*up\\s*\\|.*Established`).test(r.out)) && r.out;
        },
        90_000,
        1000,
      );
      expect(table).toContain('IPv4 BGP status');
    }
  }, 300_000);

  it("every agent has the other nodes' blocks (tabbyctl node routes, no --agent)", async () => {
    const s = byName.get('demo')!;
    for (const n of AGENTS) {
      const others = AGENTS.filter((o) => o !== n).map((o) => byName.get(o)!.address);
      await eventually(
        `${n}'s routes from both other nodes`,
        async () => {
          const r = await runIn(s, ['tabbyctl', 'node', 'routes', n]);
          return r.code === 0 && others.every((ip) => r.out.includes(ip)) && /192\.168\.\d+\.\d+\/26/.test(r.out);
        },
        60_000,
        1000,
      );
    }
  }, 200_000);
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

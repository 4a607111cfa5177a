/**
 * bench/fib: writing routes into a kernel routing table. Two fresh network namespaces (random
 * `tfib-<hex>-…` names, a veth pair inside each, 198.18.0.0/15 addresses, deleted in `finally`),
 * N IPv4 /32 routes (default 10,000, in 198.19.0.0/16) via an on-link gateway:
 * - Tabby: @tabby/dataplane's LinuxDataplane (`ip -n NS`, table main, proto 84) in this
 *   process: reconcile from empty, again with nothing changed, and to empty (prune).
 *   open() is not timed (the agent opens once at start).
 * - BIRD: `ip netns exec NS bird -f` with a `protocol static` of the same routes and
 *   `protocol kernel { ipv4 { export all; }; learn off; }` (no persist, so it removes its
 *   routes when it stops), timed from spawning the process to `ip route show proto bird`
 *   counting N (polled every 20 ms); its removal is timed from SIGTERM to a count of 0. The
 *   same with one route gives BIRD's startup cost, shown subtracted on its own row.
 * - Floor: the same N `route add` lines, pre-built, piped to one `ip -batch` (what any
 *   iproute2-based writer pays at least).
 * Each figure is the median of BENCH_FIB_RUNS runs (default 3). Nothing is asserted. Must run
 * as root, with BIRD installed (`npm run bench` installs it). Run: npm run bench:fib -w @tabby/bench
 * (BENCH_FIB_ROUTES=N to change the size).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LinuxDataplane, type KernelRoute } from '@tabby/dataplane';
import { ProcessGroup, findTool, tempDir } from '@tabby/harness';

const COUNT = Number(process.env.BENCH_FIB_ROUTES ?? 10_000);
const RUNS = Number(process.env.BENCH_FIB_RUNS ?? 3);
const POLL_MS = 20;
const GATEWAY = '198.18.0.2';
const PROTOCOL = 84;

/** The i-th /32 in 198.19.0.0/16. */
function hostRoute(i: number): string {
  return `198.19.${(i >> 8) & 255}.${i & 255}/32`;
}

function ip(args: readonly string[], input?: string): string {
  return execFileSync('ip', [...args], { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

/** A namespace with lo up and veth pair fv0/fv1 inside it (198.18.0.1/24 on fv0, 198.18.1.1/24 on fv1). */
function createNamespace(name: string): void {
  ip(['netns', 'add', name]);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
  ip(['-n', name, 'link', 'add', 'fv0', 'type', 'veth', 'peer', 'name', 'fv1']);
  ip(['-n', name, 'link', 'set', 'fv0', 'up']);
  ip(['-n', name, 'link', 'set', 'fv1', 'up']);
  ip(['-n', name, 'addr', 'add', '198.18.0.1/24', 'dev', 'fv0']);
  ip(['-n', name, 'addr', 'add', '198.18.1.1/24', 'dev', 'fv1']);
}

/** Counts the IPv4 routes of a protocol in a namespace's main table (one `ip route show`). */
function countRoutes(ns: string, proto: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['-n', ns, '-4', 'route', 'show', 'proto', proto], { stdio: ['ignore', 'pipe', 'ignore'] });
    let lines = 0;
    child.stdout.on('data', (b: Buffer) => {
      for (const c of b) if (c === 10) lines += 1;
    });
    child.once('error', reject);
    child.once('close', () => resolve(lines));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls every POLL_MS until the count is `want`; resolves with the ms since `t0`. */
async function untilCount(ns: string, proto: string, want: number, t0: number, timeoutMs = 120_000): Promise<number> {
  for (;;) {
    if ((await countRoutes(ns, proto)) === want) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${want} routes of proto ${proto} in ${ns}`);
    await sleep(POLL_MS);
  }
}

function birdConfig(routes: readonly string[], socketDir: string): string {
  return [
    '# bench/fib: a static protocol exported to the kernel table, nothing else.',
    'router id 198.18.0.1;',
    'log stderr { warning, error, fatal, bug };',
    'protocol device { }',
    'protocol kernel {',
    '  ipv4 { export all; };',
    '  learn off;',
    '  scan time 10;',
    '}',
    'protocol static {',
    '  ipv4;',
    ...routes.map((r) => `  route ${r} via ${GATEWAY};`),
    '}',
    `# control socket: ${socketDir}`,
    '',
  ].join('\n');
}

interface BirdRun {
  readonly installMs: number;
  readonly removeMs: number;
}

/** Starts BIRD in `ns` with `routes`, times it to all of them in the kernel, then SIGTERM to none. */
async function runBird(group: ProcessGroup, dir: string, ns: string, routes: readonly string[], tag: string): Promise<BirdRun> {
  const conf = path.join(dir, `bird-${tag}.conf`);
  const sock = path.join(dir, `bird-${tag}.ctl`);
  writeFileSync(conf, birdConfig(routes, dir));
  const t0 = performance.now();
  // `ip netns exec` execs bird in place: the PID is BIRD's.
  const bird = group.start(`bird-${tag}`, 'ip', ['netns', 'exec', ns, 'bird', '-f', '-c', conf, '-s', sock]);
  const installMs = await untilCount(ns, 'bird', routes.length, t0);
  const t1 = performance.now();
  bird.signal('SIGTERM');
  const removeMs = await untilCount(ns, 'bird', 0, t1);
  await bird.stop();
  return { installMs, removeMs };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function requireRootAndBird(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stderr.write('bench/fib: creates network namespaces and must run as root\n');
    process.exit(1);
  }
  if (!findTool('bird')) {
    process.stderr.write('bench/fib: BIRD is not installed, and it is the anchor this benchmark measures Tabby against.\nInstall it with `node scripts/ensure-tools.mjs` from the repository root (`npm run bench` does this first).\n');
    process.exit(1);
  }
}

async function main(): Promise<void> {
  requireRootAndBird();
  const tag = randomBytes(3).toString('hex');
  const nsTabby = `tfib-${tag}-tabby`;
  const nsBird = `tfib-${tag}-bird`;
  const prefixes = Array.from({ length: COUNT }, (_, i) => hostRoute(i));
  const desired: KernelRoute[] = prefixes.map((prefix) => ({ prefix, type: 'unicast', nextHops: [{ via: GATEWAY }] }));
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-fib-');
  const made: string[] = [];
  const tabby = { install: [] as number[], noChange: [] as number[], remove: [] as number[] };
  const floor: number[] = [];
  const bird = { install: [] as number[], remove: [] as number[], baseInstall: [] as number[], baseRemove: [] as number[] };
  const ipVersion = ip(['-V']).trim();
  // `bird --version` prints to stderr.
  const v = spawnSync('bird', ['--version'], { encoding: 'utf8' });
  const birdVersion = `${v.stdout}${v.stderr}`.trim() || 'BIRD (version unknown)';
  console.log(`bench/fib: ${COUNT.toLocaleString('en')} IPv4 /32 routes via ${GATEWAY} into the main table of a fresh network namespace; median of ${RUNS} runs (${ipVersion}; ${birdVersion})`);
  try {
    for (const ns of [nsTabby, nsBird]) {
      createNamespace(ns);
      made.push(ns);
    }
    const dp = await LinuxDataplane.open({ netns: nsTabby, protocol: PROTOCOL });
    for (let run = 0; run < RUNS; run++) {
      const a = await dp.reconcile(desired);
      if (a.added !== COUNT || a.failed.length > 0) throw new Error(`Tabby added ${a.added} of ${COUNT}: ${JSON.stringify(a.failed.slice(0, 3))}`);
      if ((await countRoutes(nsTabby, String(PROTOCOL))) !== COUNT) throw new Error('Tabby: the kernel does not hold every route');
      tabby.install.push(a.ms);
      const b = await dp.reconcile(desired);
      if (b.unchanged !== COUNT || b.added + b.changed + b.removed !== 0) throw new Error(`Tabby rewrote routes on a reconcile with nothing changed: ${JSON.stringify(b)}`);
      tabby.noChange.push(b.ms);
      const c = await dp.reconcile([]);
      if (c.removed !== COUNT) throw new Error(`Tabby removed ${c.removed} of ${COUNT}`);
      tabby.remove.push(c.ms);

      // Floor: the same routes as pre-built lines into one ip -batch (then flushed).
      const lines = `${prefixes.map((p) => `route add ${p} via ${GATEWAY} dev fv0 onlink table 254 proto ${PROTOCOL}`).join('\n')}\n`;
      const t = performance.now();
      ip(['-n', nsTabby, '-batch', '-'], lines);
      floor.push(performance.now() - t);
      ip(['-n', nsTabby, 'route', 'flush', 'proto', String(PROTOCOL)]);

      const r = await runBird(group, dir.path, nsBird, prefixes, `n${run}`);
      bird.install.push(r.installMs);
      bird.remove.push(r.removeMs);
      const base = await runBird(group, dir.path, nsBird, prefixes.slice(0, 1), `one${run}`);
      bird.baseInstall.push(base.installMs);
      bird.baseRemove.push(base.removeMs);
      process.stderr.write(`  run ${run + 1} / ${RUNS}\r`);
    }
    await dp.close();
    process.stderr.write('\x1b[2K');
  } finally {
    await group.stopAll();
    for (const ns of made) {
      try {
        ip(['netns', 'del', ns]);
      } catch (err) {
        process.stderr.write(`bench/fib: could not delete network namespace ${ns}: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    dir.remove();
  }

  const ms = (v: number | undefined): string => (v === undefined ? '-' : `${v.toFixed(0)} ms`);
  const rate = (n: number, v: number | undefined): string => (v === undefined || n === 0 ? '-' : Math.round((n * 1000) / v).toLocaleString('en'));
  const row = (label: string, n: number, t: number | undefined, b: number | undefined): string =>
    `  ${label.padEnd(34)}${n.toLocaleString('en').padStart(8)}${ms(t).padStart(12)}${rate(n, t).padStart(12)}${ms(b).padStart(12)}${rate(n, b).padStart(12)}`;
  console.log(`  ${''.padEnd(34)}${'routes'.padStart(8)}${'Tabby'.padStart(12)}${'routes/s'.padStart(12)}${'BIRD'.padStart(12)}${'routes/s'.padStart(12)}`);
  const birdInstall = median(bird.install);
  const birdBase = median(bird.baseInstall);
  console.log(row('install (empty -> all)', COUNT, median(tabby.install), birdInstall));
  console.log(row('  BIRD less its startup (1 route)', COUNT, undefined, birdInstall - birdBase));
  console.log(row('nothing changed', COUNT, median(tabby.noChange), undefined));
  console.log(row('remove all (prune / BIRD stop)', COUNT, median(tabby.remove), median(bird.remove)));
  console.log(`  BIRD startup to its 1 route: ${ms(birdBase)}, stop to 0 routes: ${ms(median(bird.baseRemove))}; BIRD times are from spawning it (polled every ${POLL_MS} ms).`);
  console.log(`  floor: the same ${COUNT.toLocaleString('en')} lines pre-built into one \`ip -batch\`: ${ms(median(floor))} (${rate(COUNT, median(floor))} routes/s).`);
}

await main();

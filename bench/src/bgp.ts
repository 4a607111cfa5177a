/**
 * bench/bgp: Tabby's speaker beside BIRD 2, the same run, the same machine, each fed and read
 * by the same raw peers (bgp-raw-peer.ts, their own processes): one pre-generated feed of
 * 1,000,000 IPv4 prefixes (~100k attribute sets, AS paths of 2-8 hops) is written as pre-built
 * UPDATE bytes as fast as the socket takes them, and a raw receiver counts what a new peer is
 * sent. A sender written on the speaker's own codec would be the bottleneck and make every
 * receiver look alike; the raw peers leave only the receiver's work in the figure.
 *
 * Per speaker it prints and reports (bench/src/results.ts): the time from the first byte sent
 * until every prefix is in the RIB (Tabby: its Loc-RIB count; BIRD: the feed channel's
 * imported count, polled every 20 ms over its control socket, as Tabby's count is), memory
 * growth per route (RSS after the load minus RSS before), the time a new peer takes to get the
 * full table (from Established to the last prefix), and the largest silence of each speaker
 * towards its peers during both (a stalled event loop shows as a KEEPALIVE gap).
 * BIRD is the anchor: without it the bench stops before loading anything and exits 1 with the
 * command that installs it (`npm run bench` installs it first, as `npm test` does).
 * Run: npm run bench:bgp -w @tabby/bench (BENCH_BGP_PREFIXES to change the size,
 * BENCH_BGP_PROFILE=DIR for a CPU profile of the Tabby speaker).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessGroup, findTool, freePort, startBird, tempDir, type TestProcess } from '@tabby/harness';
import { buildFeed } from './bgp-feed.js';
import { report } from './results.js';

const COUNT = Number(process.env.BENCH_BGP_PREFIXES ?? 1_000_000);
const SENDER = '127.0.0.200';
const SINK = '127.0.0.203';
/** Hold time for every session: short, so a stalled event loop would show as a KEEPALIVE gap. */
const HOLD_S = 3;
const TIMEOUT_MS = 900_000;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** BENCH_BGP_PROFILE=DIR writes a V8 CPU profile of the Tabby speaker into DIR. */
function profileFlags(): string[] {
  const dir = process.env.BENCH_BGP_PROFILE;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

const mb = (n: number): string => `${(n / 1048576).toFixed(0)} MB`;

/** The anchor must be there before an expensive run starts: no figures without BIRD's beside them. */
function requireBird(): void {
  if (findTool('bird')) return;
  process.stderr.write(
    'bench/bgp: BIRD is not installed, and it is the anchor this benchmark measures Tabby against.\n' +
      'Install it with `node scripts/ensure-tools.mjs` from the repository root (as root it installs bird2 with apt;\n' +
      'otherwise it prints the command to run as root). `npm run bench` does this first.\n',
  );
  process.exit(1);
}

interface Line {
  readonly msg: string;
  readonly at: number;
  readonly [k: string]: unknown;
}

async function line(p: TestProcess, msg: string, timeoutMs = TIMEOUT_MS): Promise<Line> {
  return JSON.parse((await p.waitForLine(new RegExp(`^{"msg":"${msg}".*}$`), timeoutMs))[0]) as Line;
}

/** The largest silence a raw peer saw, from its last `gap` line (0 when it printed none). */
function maxGapOf(p: TestProcess): number {
  let gap = 0;
  for (const l of p.output().split('\n')) if (l.startsWith('{"msg":"gap"')) gap = Math.max(gap, (JSON.parse(l) as { maxGapMs: number }).maxGapMs);
  return gap;
}

function notificationOf(p: TestProcess): string {
  const l = p.output().split('\n').find((x) => x.startsWith('{"msg":"notification"'));
  if (!l) return '';
  const n = JSON.parse(l) as { code: number; subcode: number };
  return `, NOTIFICATION ${n.code}/${n.subcode}`;
}

interface Figures {
  ingestS: number;
  bytesPerRoute: number;
  ingestGapMs: number;
  sendS: number;
  sendGapMs: number;
  sent: number;
  notes: string;
}

const rawPeer = fileURLToPath(new URL('./bgp-raw-peer.js', import.meta.url));

function startRawSender(group: ProcessGroup, name: string, port: number, host: string, feedFile: string): TestProcess {
  return group.start(name, process.execPath, [rawPeer, 'send', host, String(port), SENDER, '10.0.0.200', String(HOLD_S), feedFile]);
}

function startRawReceiver(group: ProcessGroup, name: string, port: number, host: string, expected: number): TestProcess {
  return group.start(name, process.execPath, [rawPeer, 'receive', host, String(port), SINK, '10.0.0.203', String(HOLD_S), String(expected)]);
}

async function measureTabby(group: ProcessGroup, feedFile: string, prefixes: number): Promise<Figures> {
  const receiver = group.start('tabby-speaker', process.execPath, [
    '--expose-gc',
    ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    ...profileFlags(),
    fileURLToPath(new URL('./bgp-receiver.js', import.meta.url)),
    '127.0.0.201',
    SENDER,
    String(prefixes),
    String(HOLD_S),
    SINK,
  ]);
  const ready = JSON.parse((await receiver.waitForLine(/^{.*"msg":"ready".*}$/))[0]) as { port: number; rss: number };
  const sender = startRawSender(group, 'raw-sender-tabby', ready.port, '127.0.0.201', feedFile);
  const sending = await line(sender, 'sending', 30_000);
  const loaded = JSON.parse((await receiver.waitForLine(/^{.*"msg":"loaded".*}$/, TIMEOUT_MS))[0]) as { at: number; rss: number; state: string; lastError: string };
  const sink = startRawReceiver(group, 'raw-receiver-tabby', ready.port, '127.0.0.201', prefixes);
  const up = await line(sink, 'up', 30_000);
  const got = await line(sink, 'received');
  const figures: Figures = {
    ingestS: (loaded.at - sending.at) / 1000,
    bytesPerRoute: (loaded.rss - ready.rss) / prefixes,
    ingestGapMs: maxGapOf(sender),
    sendS: (got.at - up.at) / 1000,
    sendGapMs: maxGapOf(sink),
    sent: Number(got.prefixes),
    notes: `session ${loaded.state}${loaded.lastError ? ` (${loaded.lastError})` : ''}${notificationOf(sender)}${notificationOf(sink)}`,
  };
  await sink.stop();
  await sender.stop();
  await receiver.stop();
  return figures;
}

async function measureBird(group: ProcessGroup, dir: string, feedFile: string, prefixes: number): Promise<Figures> {
  const port = await freePort('127.0.0.202');
  const bird = await startBird(group, dir, {
    name: 'bench',
    routerId: '10.0.0.202',
    address: '127.0.0.202',
    port,
    as: 65200,
    peers: [
      { name: 'feed', neighbor: SENDER, neighborPort: 179, remoteAs: 65100, passive: true, families: ['ipv4'], export: 'none' },
      { name: 'sink', neighbor: SINK, neighborPort: 179, remoteAs: 65300, passive: true, families: ['ipv4'], import: 'none' },
    ],
  });
  const base = rssOf(bird.process.pid);
  const sender = startRawSender(group, 'raw-sender-bird', port, '127.0.0.202', feedFile);
  const sending = await line(sender, 'sending', 30_000);
  let loadedAt = 0;
  const deadline = Date.now() + TIMEOUT_MS;
  while (loadedAt === 0) {
    const feed = await bird.protocol('feed');
    if ((feed.channels.ipv4?.imported ?? 0) >= prefixes) loadedAt = performance.timeOrigin + performance.now();
    else if (Date.now() > deadline) throw new Error(`BIRD imported ${feed.channels.ipv4?.imported ?? 0} of ${prefixes} prefixes in ${TIMEOUT_MS / 1000} s`);
    else await new Promise((r) => setTimeout(r, 20));
  }
  const memory = rssOf(bird.process.pid) - base;
  const state = (await bird.protocol('feed')).bgpState ?? '?';
  const sink = startRawReceiver(group, 'raw-receiver-bird', port, '127.0.0.202', prefixes);
  const up = await line(sink, 'up', 30_000);
  const got = await line(sink, 'received');
  const figures: Figures = {
    ingestS: (loadedAt - sending.at) / 1000,
    bytesPerRoute: memory / prefixes,
    ingestGapMs: maxGapOf(sender),
    sendS: (got.at - up.at) / 1000,
    sendGapMs: maxGapOf(sink),
    sent: Number(got.prefixes),
    notes: `session ${state}${notificationOf(sender)}${notificationOf(sink)}`,
  };
  await sink.stop();
  await sender.stop();
  await bird.stop();
  return figures;
}

async function main(): Promise<void> {
  requireBird();
  const t = performance.now();
  const feed = buildFeed(COUNT);
  console.log(
    `bench/bgp feed: ${feed.prefixes.toLocaleString('en')} IPv4 prefixes, ${feed.attributeSets.toLocaleString('en')} attribute sets, ${feed.messages.length.toLocaleString('en')} UPDATEs (${mb(feed.bytes)}), built in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-bgp-');
  let tabby: Figures;
  let bird: Figures;
  try {
    const feedFile = path.join(dir.path, 'feed.bin');
    writeFileSync(feedFile, Buffer.concat(feed.messages, feed.bytes));
    process.stderr.write('  tabby: loading...\n');
    tabby = await measureTabby(group, feedFile, feed.prefixes);
    process.stderr.write('  bird: loading...\n');
    bird = await measureBird(group, dir.path, feedFile, feed.prefixes);
  } finally {
    await group.stopAll();
    dir.remove();
  }
  const n = feed.prefixes;
  const row = (label: string, a: string, b: string, ratio: string): string => `${label.padEnd(26)}${a.padEnd(24)}${b.padEnd(24)}${ratio}`;
  const gap = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  console.log(row('', 'Tabby', 'BIRD', 'Tabby/BIRD'));
  console.log(row('time to RIB (raw sender)', `${tabby.ingestS.toFixed(2)} s`, `${bird.ingestS.toFixed(2)} s`, `${(tabby.ingestS / bird.ingestS).toFixed(2)}x`));
  console.log(row('prefixes/s', Math.round(n / tabby.ingestS).toLocaleString('en'), Math.round(n / bird.ingestS).toLocaleString('en'), ''));
  console.log(row('memory (RSS growth)', mb(tabby.bytesPerRoute * n), mb(bird.bytesPerRoute * n), `${(tabby.bytesPerRoute / bird.bytesPerRoute).toFixed(2)}x`));
  console.log(row('bytes per route', String(Math.round(tabby.bytesPerRoute)), String(Math.round(bird.bytesPerRoute)), `${(tabby.bytesPerRoute / bird.bytesPerRoute).toFixed(2)}x`));
  console.log(row('full table to a new peer', `${tabby.sendS.toFixed(2)} s`, `${bird.sendS.toFixed(2)} s`, `${(tabby.sendS / bird.sendS).toFixed(2)}x`));
  console.log(row('prefixes the new peer got', tabby.sent.toLocaleString('en'), bird.sent.toLocaleString('en'), ''));
  console.log(row('max silence, loading', gap(tabby.ingestGapMs), gap(bird.ingestGapMs), `(largest gap between KEEPALIVE/UPDATE; hold ${HOLD_S} s, keepalive ${HOLD_S / 3} s)`));
  console.log(row('max silence, sending', gap(tabby.sendGapMs), gap(bird.sendGapMs), ''));
  console.log(row('after load', tabby.notes, bird.notes, ''));
  const size = n >= 1_000_000 ? `${n / 1_000_000}M` : n.toLocaleString('en');
  report({ bench: 'bgp', measure: `ingest ${size} IPv4 prefixes (100k attribute sets), raw sender`, unit: 's', tabby: tabby.ingestS, anchor: { name: 'BIRD', value: bird.ingestS }, better: 'lower', goal: 1.0 });
  report({ bench: 'bgp', measure: `memory growth per route at ${size}`, unit: 'B', tabby: tabby.bytesPerRoute, anchor: { name: 'BIRD', value: bird.bytesPerRoute }, better: 'lower', goal: 1.2 });
  report({ bench: 'bgp', measure: `send the full ${size} table to a new peer, raw receiver`, unit: 's', tabby: tabby.sendS, anchor: { name: 'BIRD', value: bird.sendS }, better: 'lower', goal: 1.0 });
}

await main();

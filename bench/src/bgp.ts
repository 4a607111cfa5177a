/**
 * bench/bgp: one pre-generated feed of 1,000,000 IPv4 prefixes (~100k attribute sets, AS
 * paths of 2-8 hops) sent over a real TCP session by a sender built on @tabby/bgp, first
 * into a Tabby speaker (its own process) and then into BIRD on the same machine. Prints the
 * time until every prefix is in the Loc-RIB, prefixes/s, memory per route, the Tabby/BIRD
 * ratios, and the largest gap between the receiver's KEEPALIVE/UPDATE messages during the load.
 * BIRD is the anchor: without it the bench stops before loading anything and exits 1 with the
 * command that installs it (`npm run bench` installs it first, as `npm test` does).
 * Run: npm run bench:bgp -w @tabby/bench (BENCH_BGP_PREFIXES to change the size,
 * BENCH_BGP_PROFILE=DIR for a CPU profile of the Tabby receiver).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProcessGroup, eventually, findTool, freePort, startBird, tempDir } from '@tabby/harness';
import { buildFeed } from './bgp-feed.js';
import { FeedSender } from './bgp-sender.js';

const COUNT = Number(process.env.BENCH_BGP_PREFIXES ?? 1_000_000);
const SENDER = '127.0.0.200';
/** Hold time for every session: short, so a stalled event loop would show as a KEEPALIVE gap. */
const HOLD_S = 3;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface Result {
  readonly seconds: number;
  readonly memory: number;
  readonly keepaliveGapMs: number;
  readonly keepalives: number;
  readonly notes: string;
}

function gapText(r: Result): string {
  return r.keepalives < 2 ? `n/a (${r.keepalives} message)` : `${(r.keepaliveGapMs / 1000).toFixed(1)} s`;
}

/** BENCH_BGP_PROFILE=DIR writes a V8 CPU profile of the Tabby receiver into DIR. */
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

async function main(): Promise<void> {
  requireBird();
  const t = performance.now();
  const feed = buildFeed(COUNT);
  console.log(
    `bench/bgp feed: ${feed.prefixes.toLocaleString('en')} IPv4 prefixes, ${feed.attributeSets.toLocaleString('en')} attribute sets, ${feed.messages.length.toLocaleString('en')} UPDATEs (${mb(feed.bytes)}), built in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-bgp-');
  const results: Partial<Record<'tabby' | 'tabbySend' | 'bird', Result>> = {};
  try {
    // Tabby
    const receiver = group.start('tabby-receiver', process.execPath, ['--expose-gc', ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean), ...profileFlags(), fileURLToPath(new URL('./bgp-receiver.js', import.meta.url)), '127.0.0.201', SENDER, String(feed.prefixes), String(HOLD_S)]);
    const ready = JSON.parse((await receiver.waitForLine(/^{.*"msg":"ready".*}$/))[0]) as { port: number; rss: number };
    const sender = new FeedSender();
    await sender.connect('127.0.0.201', ready.port, SENDER, '10.0.0.200', HOLD_S);
    const progress = setInterval(() => process.stderr.write('  tabby: loading...\r'), 2000);
    const sent = await sender.sendFeed(feed.messages);
    const loaded = JSON.parse((await receiver.waitForLine(/^{.*"msg":"loaded".*}$/, 900_000))[0]) as { rss: number; state: string; lastError: string };
    clearInterval(progress);
    const tabbySeconds = (performance.now() - sent.startedAt) / 1000;
    results.tabby = {
      seconds: tabbySeconds,
      memory: loaded.rss - ready.rss,
      keepaliveGapMs: sender.maxKeepaliveGapMs,
      keepalives: sender.keepalivesReceived,
      notes: `session ${loaded.state}${loaded.lastError ? ` (${loaded.lastError})` : ''}${sender.notification ? `, NOTIFICATION ${sender.notification}` : ''}`,
    };
    // Send side: a peer that connects now gets the whole table from Tabby.
    const sink = new FeedSender(65300);
    const sinkStart = performance.now();
    await sink.connect('127.0.0.201', ready.port, '127.0.0.203', '10.0.0.203', HOLD_S);
    await eventually('the full table at the sink', () => sink.endOfRibAt > 0, 900_000, 50);
    results.tabbySend = {
      seconds: (sink.endOfRibAt - sinkStart) / 1000,
      memory: 0,
      keepaliveGapMs: sink.maxKeepaliveGapMs,
      keepalives: sink.keepalivesReceived,
      notes: `${sink.prefixesReceived.toLocaleString('en')} prefixes${sink.notification ? `, NOTIFICATION ${sink.notification}` : ''}`,
    };
    sink.close();
    sender.close();
    await receiver.stop();

    // BIRD
    const port = await freePort('127.0.0.202');
    const bird = await startBird(group, dir.path, {
      name: 'bench',
      routerId: '10.0.0.202',
      address: '127.0.0.202',
      port,
      as: 65200,
      peers: [{ name: 'feed', neighbor: SENDER, neighborPort: 179, remoteAs: 65100, passive: true, families: ['ipv4'] }],
    });
    const base = rssOf(bird.process.pid);
    const s2 = new FeedSender();
    await s2.connect('127.0.0.202', port, SENDER, '10.0.0.200', HOLD_S);
    const sent2 = await s2.sendFeed(feed.messages);
    await eventually('BIRD to hold every prefix', async () => (await bird.routeCount('ipv4')) >= feed.prefixes, 900_000, 100);
    const birdSeconds = (performance.now() - sent2.startedAt) / 1000;
    const proto = await bird.protocol('feed');
    results.bird = { seconds: birdSeconds, memory: rssOf(bird.process.pid) - base, keepaliveGapMs: s2.maxKeepaliveGapMs, keepalives: s2.keepalivesReceived, notes: `session ${proto.bgpState ?? '?'}` };
    s2.close();
    await bird.stop();
  } finally {
    await group.stopAll();
    dir.remove();
  }
  const n = feed.prefixes;
  const tb = results.tabby;
  const bd = results.bird;
  if (!tb || !bd) throw new Error('bench/bgp: a run ended without its figures');
  const row = (label: string, a: string, b: string, ratio: string): string => `${label.padEnd(22)}${a.padEnd(24)}${b.padEnd(24)}${ratio}`;
  console.log(row('', 'Tabby', 'BIRD', 'Tabby/BIRD'));
  console.log(row('time to Loc-RIB', `${tb.seconds.toFixed(2)} s`, `${bd.seconds.toFixed(2)} s`, `${(tb.seconds / bd.seconds).toFixed(2)}x`));
  console.log(row('prefixes/s', Math.round(n / tb.seconds).toLocaleString('en'), Math.round(n / bd.seconds).toLocaleString('en'), ''));
  console.log(row('memory (RSS growth)', mb(tb.memory), mb(bd.memory), `${(tb.memory / bd.memory).toFixed(2)}x`));
  console.log(row('bytes per route', String(Math.round(tb.memory / n)), String(Math.round(bd.memory / n)), `${(tb.memory / bd.memory).toFixed(2)}x`));
  console.log(row('max silence of peer', gapText(tb), gapText(bd), `(largest gap between KEEPALIVE/UPDATE; hold ${HOLD_S} s, keepalive ${HOLD_S / 3} s)`));
  console.log(row('session after load', tb.notes, bd.notes, ''));
  const ts = results.tabbySend;
  if (ts)
    console.log(
      `Tabby sending the table to a new peer: ${ts.seconds.toFixed(2)} s (${Math.round(n / ts.seconds).toLocaleString('en')} prefixes/s), ${ts.notes}, max silence ${gapText(ts)}`,
    );
}

await main();

/**
 * The Tabby side of bench/bgp, run as its own process (so its memory is measured alone): a
 * Speaker with one passive peer that feeds it and one passive peer that is sent the table.
 * Prints JSON lines: `ready` (with its port and baseline memory), then `loaded` (with `at`, ms
 * since the epoch) when the Loc-RIB holds the expected number of prefixes.
 * Args: ADDRESS FEED_PEER EXPECTED HOLD_S SINK_PEER.
 */
import { Speaker } from '@tabby/bgp';

const [address, peerAddress, expectedText, holdText, sinkAddress] = process.argv.slice(2);
const holdTimeS = Number(holdText ?? 9);
const expected = Number(expectedText);
const gc = (globalThis as { gc?: () => void }).gc;

gc?.();
const baseline = process.memoryUsage();
const speaker = new Speaker({ asn: 65200, routerId: '10.0.0.201', listen: [{ address, port: 0 }] });
await speaker.start();
speaker.addPeer({ address: peerAddress, remoteAs: 65100, passive: true, holdTimeS, families: ['ipv4-unicast'] });
speaker.addPeer({ address: sinkAddress ?? '127.0.0.203', remoteAs: 65300, passive: true, holdTimeS, families: ['ipv4-unicast'], nextHopIPv4: '10.0.0.201' });
process.stdout.write(`${JSON.stringify({ msg: 'ready', port: speaker.listenPort(), rss: baseline.rss, heap: baseline.heapUsed })}\n`);

let firstAt = 0;
const timer = setInterval(() => {
  const n = speaker.routeCount('ipv4-unicast');
  if (n > 0 && firstAt === 0) firstAt = performance.now();
  if (n < expected) return;
  clearInterval(timer);
  const at = performance.timeOrigin + performance.now();
  gc?.();
  const m = process.memoryUsage();
  const peer = speaker.peers()[0];
  process.stdout.write(`${JSON.stringify({ msg: 'loaded', at, routes: n, rss: m.rss, heap: m.heapUsed, state: peer?.state, lastError: peer?.lastError })}\n`);
}, 20);

process.on('SIGTERM', () => {
  void speaker.stop().then(() => process.exit(0));
});

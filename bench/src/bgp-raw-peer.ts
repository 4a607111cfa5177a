/**
 * A raw BGP peer for bench/bgp, run as its own process so that neither side of a measurement
 * shares an event loop with the other. It does only what a session needs (OPEN, KEEPALIVE
 * every hold/3 s, framing) and no per-route work:
 *
 * - `send HOST PORT LOCAL ROUTER_ID HOLD FEED`: once the session is up, writes the file FEED
 *   (pre-built UPDATE messages, back to back) in one socket write, as fast as the kernel takes
 *   it, then an End-of-RIB;
 * - `receive HOST PORT LOCAL ROUTER_ID HOLD EXPECTED`: counts the prefixes of the UPDATEs it
 *   is sent by reading the NLRI lengths only, until EXPECTED prefixes (or an End-of-RIB) came.
 *
 * It prints JSON lines on stdout, each with `at` (ms since the epoch, sub-ms precision, so
 * the bench compares them across processes): `up` when Established, `sending` and `written`
 * (send), `received` with the count (receive), `gap` whenever the largest silence of the
 * other side (between its KEEPALIVE/UPDATE messages) grows, and `notification` when one comes.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { encodeEndOfRib, encodeMessage } from '@tabby/bgp';
import { SENDER_AS } from './bgp-feed.js';

const [mode, host, portText, localAddress, routerId, holdText, arg] = process.argv.slice(2);
if ((mode !== 'send' && mode !== 'receive') || !host || !portText || !localAddress || !routerId || !holdText || !arg) {
  process.stderr.write('usage: bgp-raw-peer send|receive HOST PORT LOCAL ROUTER_ID HOLD FEED|EXPECTED\n');
  process.exit(2);
}
const holdS = Number(holdText);
const asn = mode === 'send' ? SENDER_AS : 65300;
const feed = mode === 'send' ? readFileSync(arg) : undefined;
const expected = mode === 'receive' ? Number(arg) : 0;

const now = (): number => performance.timeOrigin + performance.now();
const say = (msg: string, extra: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ msg, at: now(), ...extra })}\n`);
};

const open = encodeMessage(
  {
    type: 'open',
    version: 4,
    myAs: asn,
    holdTime: holdS,
    bgpId: routerId,
    capabilities: [
      { code: 1, afi: 1, safi: 1 },
      { code: 65, asn },
    ],
  },
  { fourOctetAs: true },
);
const keepalive = encodeMessage({ type: 'keepalive' }, { fourOctetAs: true });

const socket = connect({ host, port: Number(portText), localAddress, noDelay: true });
socket.on('error', (err) => {
  say('error', { error: err.message });
  process.exit(1);
});
socket.on('close', () => {
  say('closed');
  process.exit(0);
});
socket.on('connect', () => socket.write(open));

let buffered: Buffer = Buffer.alloc(0);
let up = false;
let lastHeard = 0;
let maxGap = 0;
let prefixes = 0;
let done = false;

function established(): void {
  up = true;
  say('up');
  setInterval(() => socket.write(keepalive), (holdS * 1000) / 3).unref();
  if (!feed) return;
  say('sending', { bytes: feed.length });
  socket.write(feed, () => say('written'));
  socket.write(encodeEndOfRib(1));
}

/** The prefixes in an UPDATE's IPv4 NLRI field (after the withdrawn routes and attributes). */
function countNlri(frame: Buffer, start: number, end: number): number {
  let p = start + 19;
  const withdrawnLength = frame.readUInt16BE(p);
  p += 2 + withdrawnLength;
  const attributesLength = frame.readUInt16BE(p);
  p += 2 + attributesLength;
  let n = 0;
  while (p < end) {
    p += 1 + ((frame[p] + 7) >> 3);
    n++;
  }
  return n;
}

function onMessage(frame: Buffer, start: number, end: number): void {
  const type = frame[start + 18];
  if (type === 1) {
    socket.write(keepalive);
    return;
  }
  if (type === 3) {
    say('notification', { code: frame[start + 19], subcode: frame[start + 20] });
    return;
  }
  if (type !== 4 && type !== 2) return;
  const t = now();
  if (up && lastHeard > 0 && t - lastHeard > maxGap) {
    maxGap = t - lastHeard;
    say('gap', { maxGapMs: maxGap });
  }
  lastHeard = t;
  if (type === 4 && !up) established();
  if (type !== 2 || done) return;
  const n = countNlri(frame, start, end);
  prefixes += n;
  // An UPDATE of only the two length fields is the IPv4 End-of-RIB.
  const endOfRib = end - start === 23;
  if (prefixes >= expected && expected > 0 || endOfRib) {
    done = true;
    say('received', { prefixes, endOfRib });
  }
}

socket.on('data', (chunk: Buffer) => {
  buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
  let p = 0;
  while (buffered.length - p >= 19) {
    const length = buffered.readUInt16BE(p + 16);
    if (buffered.length - p < length) break;
    onMessage(buffered, p, p + length);
    p += length;
  }
  buffered = p === buffered.length ? Buffer.alloc(0) : buffered.subarray(p);
});

process.on('SIGTERM', () => {
  socket.destroy();
  process.exit(0);
});

#!/usr/bin/env node
// Throwaway capture of what real BGP speakers send, for the codec's test vectors.
// NOT part of the test run (vitest only picks up *.test.ts). See README.md in this folder.
//
// For each scenario it listens on a 127.0.0.x address with node:net, starts the daemon with a
// config of its own (BIRD: strict bind, multihop, no kernel protocol, own control socket;
// GoBGP: local-address-list, --pprof-disable, API on 127.0.0.1), plays a minimal BGP peer
// (OPEN + KEEPALIVEs, hand-made bytes), records every message the daemon sends, asks the
// daemon to shut the session down (NOTIFICATION Cease), and stops the daemon by its PID.
// Safety: only 127.0.0.0/8, never pkill/killall, always our own config.
//
// Usage (from this folder): node capture.mjs [bird|bird-as2|gobgp ...]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const MARKER = Buffer.alloc(16, 0xff);
function msg(type, body) {
  const len = 19 + body.length;
  return Buffer.concat([MARKER, Buffer.from([len >> 8, len & 0xff, type]), Buffer.from(body)]);
}
function openMsg({ as, id, fourOctet }) {
  const caps = [1, 4, 0, 1, 0, 1, 1, 4, 0, 2, 0, 1, 2, 0];
  if (fourOctet) caps.push(65, 4, (as >>> 24) & 255, (as >>> 16) & 255, (as >>> 8) & 255, as & 255);
  const my = as > 0xffff ? 23456 : as;
  return msg(1, [4, my >> 8, my & 255, 0, 9, ...id, caps.length + 2, 2, caps.length, ...caps]);
}
const KEEPALIVE = msg(4, []);

/** Names a captured message by what it is. */
function classify(f) {
  const type = f[18];
  if (type === 1) return 'open';
  if (type === 3) return 'notification';
  if (type === 4) return 'keepalive';
  if (type === 5) return 'route-refresh';
  const wl = f.readUInt16BE(19);
  const tal = f.readUInt16BE(21 + wl);
  const aStart = 23 + wl;
  const nlriLen = f.length - aStart - tal;
  if (wl === 0 && tal === 0 && nlriLen === 0) return 'eor-ipv4';
  let mpReach = false;
  let mpUnreach = 0;
  for (let p = aStart; p < aStart + tal; ) {
    const ext = f[p] & 0x10;
    const t = f[p + 1];
    const l = ext ? f.readUInt16BE(p + 2) : f[p + 2];
    if (t === 14) mpReach = true;
    if (t === 15) mpUnreach = l;
    p += (ext ? 4 : 3) + l;
  }
  if (mpUnreach === 3 && !mpReach && tal <= 7) return 'eor-ipv6';
  if (mpReach) return 'update-ipv6';
  if (nlriLen > 0) return 'update-ipv4';
  return 'update-withdraw';
}

/** Listens, plays the peer, collects frames until `done(frames)` or timeout. */
function peer({ host, port, open, until, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const frames = [];
    let buf = Buffer.alloc(0);
    let ka;
    const server = createServer((sock) => {
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 19) {
          const len = buf.readUInt16BE(16);
          if (buf.length < len) break;
          const f = buf.subarray(0, len);
          buf = buf.subarray(len);
          frames.push(Buffer.from(f));
          if (f[18] === 1) {
            sock.write(open);
            sock.write(KEEPALIVE);
            ka = setInterval(() => sock.write(KEEPALIVE), 3000);
          }
        }
        if (until.state === 'collecting' && until.enough(frames)) {
          until.state = 'enough';
          until.onEnough();
        }
        if (until.state === 'enough' && frames.some((f) => f[18] === 3)) finish();
      });
      sock.on('error', () => {});
      sock.on('close', () => finish());
    });
    const timer = setTimeout(() => finish(new Error(`timeout; got ${frames.map(classify).join(',')}`)), timeoutMs);
    let finished = false;
    function finish(err) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearInterval(ka);
      server.close();
      if (err) reject(err);
      else resolve(frames);
    }
    server.listen(port, host);
  });
}

function save(prefix, frames, notes) {
  const seen = new Set();
  const saved = [];
  for (const f of frames) {
    const kind = classify(f);
    if (seen.has(kind)) continue;
    seen.add(kind);
    const name = `${prefix}-${kind}.hex`;
    const hexText = f.toString('hex').replace(/(.{64})/g, '$1\n').trim();
    writeFileSync(path.join(HERE, name), `${notes.map((n) => `# ${n}`).join('\n')}\n# message: ${kind}, ${f.length} octets\n${hexText}\n`);
    saved.push(name);
  }
  return saved;
}

function stop(child) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

async function bird({ localAs, fourOctet, prefix }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tabby-capture-'));
  const conf = `log stderr all;
router id 10.0.0.12;
protocol device { }
protocol static own4 {
  ipv4 { import filter { bgp_community.add((65002,100)); bgp_community.add((65002,200)); bgp_med = 50; accept; }; };
  route 10.2.0.0/24 blackhole;
  route 10.2.1.0/24 blackhole;
}
protocol static own6 { ipv6; route fd00:2::/48 blackhole; }
protocol bgp peer1 {
  local 127.0.0.12 port 17912 as ${localAs};
  neighbor 127.0.0.11 port 17911 as 65001;
  strict bind;
  multihop;
  hold time 9; keepalive time 3; connect retry time 2; connect delay time 1;
  ipv4 { import none; export all; next hop address 10.0.0.12; };
  ipv6 { import none; export all; next hop address 2001:db8::12; };
}
`;
  writeFileSync(path.join(dir, 'bird.conf'), conf);
  const ctl = path.join(dir, 'bird.ctl');
  const version = execFileSync('sh', ['-c', 'bird --version 2>&1'], { encoding: 'utf8' }).trim();
  const child = spawn('bird', ['-f', '-c', path.join(dir, 'bird.conf'), '-s', ctl, '-P', path.join(dir, 'bird.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  try {
    const until = {
      state: 'collecting',
      enough: (fs) => ['eor-ipv4', 'eor-ipv6', 'update-ipv4', 'update-ipv6'].every((k) => fs.some((f) => classify(f) === k)),
      onEnough: () => execFileSync('birdc', ['-s', ctl, 'disable', 'peer1'], { stdio: 'ignore' }),
    };
    const frames = await peer({ host: '127.0.0.11', port: 17911, open: openMsg({ as: 65001, id: [10, 0, 0, 11], fourOctet }), until, timeoutMs: 20000 });
    return save(prefix, frames, [
      `captured from ${version.replace(/\n/g, ' ')} (Debian bird2) by vectors/capture.mjs on ${new Date().toISOString().slice(0, 10)}`,
      `BIRD: eBGP, local 127.0.0.12 AS ${localAs}, router id 10.0.0.12, hold 9, strict bind, multihop, no kernel protocol`,
      `BIRD exports static 10.2.0.0/24 + 10.2.1.0/24 (communities 65002:100 65002:200, bgp_med 50 which BIRD does not send to an eBGP peer, next hop 10.0.0.12) and fd00:2::/48 (next hop 2001:db8::12)`,
      `peer (capture script): AS 65001, id 10.0.0.11, caps MP ipv4+ipv6, route refresh${fourOctet ? ', 4-octet AS' : ' (NO 4-octet AS: a 2-octet speaker)'}`,
      'session ended with: birdc disable peer1 (BIRD sends Cease)',
    ]);
  } finally {
    stop(child);
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
    if (process.env.CAPTURE_DEBUG) console.error(log);
  }
}

async function gobgp() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tabby-capture-'));
  const api = '127.0.0.1:50913';
  const conf = `[global.config]
  as = 65001
  router-id = "10.0.0.13"
  port = 17913
  local-address-list = ["127.0.0.13"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.11"
    peer-as = 65001
  [neighbors.transport.config]
    local-address = "127.0.0.13"
    remote-port = 17911
  [neighbors.timers.config]
    connect-retry = 2
    hold-time = 9
    keepalive-interval = 3
    idle-hold-time-after-reset = 1
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
`;
  writeFileSync(path.join(dir, 'gobgpd.toml'), conf);
  const version = execFileSync('gobgpd', ['--version'], { encoding: 'utf8' }).trim();
  const child = spawn('gobgpd', ['-f', path.join(dir, 'gobgpd.toml'), '-p', '-l', 'info', '--api-hosts', api, '--pprof-disable'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const cli = (...args) => execFileSync('gobgp', ['-u', '127.0.0.1', '-p', '50913', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    for (let i = 0; i < 50; i++) {
      try {
        cli('global');
        break;
      } catch {
        await sleep(100);
      }
    }
    cli('global', 'rib', 'add', '-a', 'ipv4', '10.3.0.0/24', 'nexthop', '10.0.0.13', 'community', '65001:300', 'med', '10', 'local-pref', '200', 'aspath', '65010,65011');
    cli('global', 'rib', 'add', '-a', 'ipv4', '10.3.1.0/24', 'nexthop', '10.0.0.13', 'community', '65001:300', 'med', '10', 'local-pref', '200', 'aspath', '65010,65011');
    cli('global', 'rib', 'add', '-a', 'ipv6', 'fd00:3::/48', 'nexthop', '2001:db8::13', 'local-pref', '150');
    const until = {
      state: 'collecting',
      enough: (fs) => ['update-ipv4', 'update-ipv6'].every((k) => fs.some((f) => classify(f) === k)),
      onEnough: () => setTimeout(() => cli('neighbor', '127.0.0.11', 'disable'), 500),
    };
    const frames = await peer({ host: '127.0.0.11', port: 17911, open: openMsg({ as: 65001, id: [10, 0, 0, 11], fourOctet: true }), until, timeoutMs: 25000 });
    return save('gobgp', frames, [
      `captured from ${version} (Debian gobgpd) by vectors/capture.mjs on ${new Date().toISOString().slice(0, 10)}`,
      'GoBGP: iBGP, AS 65001, router id 10.0.0.13, local-address-list 127.0.0.13, hold 9, graceful restart (120 s, ipv4+ipv6)',
      'GoBGP routes: 10.3.0.0/24 and 10.3.1.0/24 (nexthop 10.0.0.13, community 65001:300, med 10, local-pref 200, aspath 65010,65011); fd00:3::/48 (nexthop 2001:db8::13, local-pref 150)',
      'peer (capture script): AS 65001, id 10.0.0.11, caps MP ipv4+ipv6, route refresh, 4-octet AS',
      'session ended with: gobgp neighbor 127.0.0.11 disable (GoBGP sends Cease)',
    ]);
  } finally {
    stop(child);
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
    if (process.env.CAPTURE_DEBUG) console.error(log);
  }
}

const which = process.argv.slice(2);
const run = which.length ? which : ['bird', 'bird-as2', 'gobgp'];
for (const w of run) {
  let saved;
  if (w === 'bird') saved = await bird({ localAs: 65002, fourOctet: true, prefix: 'bird' });
  else if (w === 'bird-as2') saved = await bird({ localAs: 4200000002, fourOctet: false, prefix: 'bird-as2' });
  else if (w === 'gobgp') saved = await gobgp();
  else throw new Error(`unknown scenario ${w}`);
  console.log(`${w}: ${saved.join(' ')}`);
}

// A Tabby speaker (@tabby/bgp) for the GTSM tests (gtsm*.test.ts), run inside a namespace with `ip netns exec`:
// node gtsm-speaker.mjs CONFIG.json. It reads { asn, routerId, listen, peers } from the file,
// applies every change of `peers` with updatePeer (so a test edits the file to re-configure
// it), and prints one JSON line per 250 ms: { peers: [{ key, state, lastError, since, flaps }] }.
// Its own log goes to stdout too, as { log: LEVEL, … } lines (debug with GTSM_SPEAKER_DEBUG=1).
// SIGTERM stops the speaker (CEASE to its peers) and exits.
import { readFileSync } from 'node:fs';
import { Speaker } from '@tabby/bgp';

/** The speaker's log as JSON lines on stdout (one write each, so never torn by the status lines): info and up (session transitions, collisions), debug too with GTSM_SPEAKER_DEBUG=1. */
function logger(bindings) {
  const line = (level) => (obj, msg) => console.log(JSON.stringify({ log: level, t: Date.now(), ...bindings, ...obj, msg }));
  return {
    debug: process.env.GTSM_SPEAKER_DEBUG === '1' ? line('debug') : () => undefined,
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: (more) => logger({ ...bindings, ...more }),
  };
}

const file = process.argv[2];
const read = () => JSON.parse(readFileSync(file, 'utf8'));
const cfg = read();
const speaker = new Speaker({ asn: cfg.asn, routerId: cfg.routerId, listen: cfg.listen, logger: logger({}) });
await speaker.start();
for (const p of cfg.peers) speaker.updatePeer(p);
let applied = JSON.stringify(cfg.peers);

const timer = setInterval(() => {
  let next;
  try {
    next = read();
  } catch {
    // Deliberate: the test is rewriting the file; the next tick reads it whole.
  }
  if (next && JSON.stringify(next.peers) !== applied) {
    applied = JSON.stringify(next.peers);
    for (const p of next.peers) console.log(JSON.stringify({ updated: p.address, result: speaker.updatePeer(p) }));
  }
  const peers = speaker.peers().map((p) => ({ key: p.key, state: p.state, lastError: p.lastError, since: p.since, flaps: p.flaps }));
  console.log(JSON.stringify({ peers }));
}, 250);

process.on('SIGTERM', () => {
  clearInterval(timer);
  speaker.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

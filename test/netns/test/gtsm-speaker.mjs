// A Tabby speaker (@tabby/bgp) for gtsm.test.ts, run inside a namespace with `ip netns exec`:
// node gtsm-speaker.mjs CONFIG.json. It reads { asn, routerId, listen, peers } from the file,
// applies every change of `peers` with updatePeer (so a test edits the file to re-configure
// it), and prints one JSON line per 250 ms: { peers: [{ key, state, lastError, since, flaps }] }.
// SIGTERM stops the speaker (CEASE to its peers) and exits.
import { readFileSync } from 'node:fs';
import { Speaker } from '@tabby/bgp';

const file = process.argv[2];
const read = () => JSON.parse(readFileSync(file, 'utf8'));
const cfg = read();
const speaker = new Speaker({ asn: cfg.asn, routerId: cfg.routerId, listen: cfg.listen });
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

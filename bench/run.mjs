#!/usr/bin/env node
// Runs the benchmarks (`npm run bench` from the repository root, after the build). First it makes
// sure the programs the benches compare with or run on are installed (scripts/ensure-tools.mjs:
// nats-server, BIRD, GoBGP; as root it installs them, otherwise it prints the command and this
// stops), so no bench quietly drops its anchor. `node bench/run.mjs bgp convergence` runs only
// the named benches. Exits non-zero when any bench fails.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BENCHES = [
  { name: 'store', file: 'store.js', flags: [] },
  { name: 'store-etcd', file: 'store-etcd.js', flags: [] },
  { name: 'ipam', file: 'ipam.js', flags: [] },
  { name: 'ipam-etcd', file: 'ipam-etcd.js', flags: [] },
  { name: 'ipam-gc', file: 'ipam-gc.js', flags: [] },
  { name: 'ipam-check', file: 'ipam-check.js', flags: [] },
  { name: 'codec', file: 'bgp-codec.js', flags: [] },
  { name: 'bgp', file: 'bgp.js', flags: ['--expose-gc'] },
  { name: 'topology', file: 'topology.js', flags: [] },
  { name: 'convergence', file: 'convergence.js', flags: [] },
  { name: 'fib', file: 'fib.js', flags: [] },
  { name: 'cni', file: 'cni.js', flags: [] },
];

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = fileURLToPath(new URL('./dist/', import.meta.url));

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !BENCHES.some((b) => b.name === a));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench ${unknown.join(', ')}; the benches are: ${BENCHES.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}
const selected = asked.length === 0 ? BENCHES : BENCHES.filter((b) => asked.includes(b.name));

const tools = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/ensure-tools.mjs', import.meta.url))], { cwd: root, stdio: 'inherit' });
if (tools.status !== 0) {
  process.stderr.write('bench: the benchmarks need the tools above; nothing was run\n');
  process.exit(1);
}

const notBuilt = selected.filter((b) => !existsSync(dist + b.file));
if (notBuilt.length > 0) {
  process.stderr.write(`bench: ${notBuilt.map((b) => `dist/${b.file}`).join(', ')} not built; run \`npm run build\` in the repository root first\n`);
  process.exit(1);
}

const failed = [];
for (const b of selected) {
  process.stdout.write(`\n== bench/${b.name}\n`);
  const r = spawnSync(process.execPath, [...b.flags, dist + b.file], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${b.name} (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`})`);
}
if (failed.length > 0) {
  process.stderr.write(`\nbench: failed: ${failed.join(', ')}\n`);
  process.exit(1);
}

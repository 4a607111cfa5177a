#!/usr/bin/env node
// Runs the benchmarks (`npm run bench` from the repository root, after the build). First it makes
// sure the programs the benches compare with or run on are installed (scripts/ensure-tools.mjs:
// nats-server, BIRD, GoBGP; as root it installs them, otherwise it prints the command and this
// stops), so no bench quietly drops its anchor. `node bench/run.mjs bgp convergence` runs only
// the named benches. Exits non-zero when any bench fails.
//
// Each bench reports its headline figures through src/results.ts (one JSON line per row in the
// file BENCH_RESULTS names). After the benches, this prints one table, each figure beside its
// anchor measured in the same run (BIRD, etcd) with the ratio and the goal, and writes it to
// bench/RESULTS.md with the machine's CPU and core count. A run of only some benches writes the
// table of those.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCHES = [
  { name: 'store', file: 'store.js', flags: [] },
  { name: 'store-etcd', file: 'store-etcd.js', flags: [] },
  { name: 'store-vs-etcd', file: 'store-vs-etcd.js', flags: [] },
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

const scratch = mkdtempSync(join(tmpdir(), 'tabby-bench-'));
const resultsFile = join(scratch, 'results.jsonl');
writeFileSync(resultsFile, '');
const started = new Date();
const failed = [];
for (const b of selected) {
  process.stdout.write(`\n== bench/${b.name}\n`);
  const r = spawnSync(process.execPath, [...b.flags, dist + b.file], { cwd: root, stdio: 'inherit', env: { ...process.env, BENCH_RESULTS: resultsFile } });
  if (r.status !== 0) failed.push(`${b.name} (${r.signal ? `signal ${r.signal}` : `exit ${r.status}`})`);
}
const rows = readFileSync(resultsFile, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l));
rmSync(scratch, { recursive: true, force: true });
// The table is drawn by the same module the benches report through (built with them).
const { resultsTable } = await import('./dist/results.js');
const table = resultsTable(rows);
process.stdout.write(`\n${table}`);
const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${process.platform} ${process.arch}`;
const benches = selected.map((b) => b.name).join(', ');
writeFileSync(
  join(root, 'bench', 'RESULTS.md'),
  `# Benchmark results\n\nWritten by \`npm run bench\` (bench/run.mjs) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC.\n\n` +
    `- Machine: ${machine}\n- Benches run: ${benches}${failed.length > 0 ? ` (failed: ${failed.join(', ')})` : ''}\n` +
    `- Each anchor was measured in the same run on the same machine, so the ratios carry across machines; absolute figures do not. ` +
    `Ratio is Tabby ÷ anchor; goal is the ratio (or, without an anchor, the figure) issue 17 asks for.\n\n${table}`,
);
process.stdout.write(`\nbench: wrote bench/RESULTS.md (${machine})\n`);
if (failed.length > 0) {
  process.stderr.write(`\nbench: failed: ${failed.join(', ')}\n`);
  process.exit(1);
}


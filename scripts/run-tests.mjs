// `npm test`'s main step: every workspace's lint, test and interop tasks, two at a time (the
// machine has two cores), all of them even after a failure. When some failed, this prints at
// the very end the failing lines each failed task printed (turbo writes no log file of a failed
// task): with two tasks running at once their output interleaves across thousands of lines, and
// a CI log that keeps only its tail would otherwise end with "Failed: @tabby/e2e#test" and
// nothing about which test. Exits non-zero when any task failed.
//
// The two slots are two turbo processes of one task at a time each, over a fixed split of the
// workspaces: one turbo with --concurrency=2 starts the longest suites (deploy, e2e) last, and
// one slot then idled for minutes while deploy ran alone. LONG holds the four longest suites
// (about 21 of the 43 task-minutes of a CI run); the other turbo runs everything else. Builds
// are done before (`turbo run build`), so both run with --only: neither touches dist/ while the
// other's tests read it. With arguments (`node scripts/run-tests.mjs --filter=@tabby/bgp`) one
// turbo runs them as given.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// vitest's failure markers, tsc and eslint errors, a failed command's exit.
const FAILURE = /(^|\s)(×|FAIL\s|AssertionError|error TS\d+|\d+:\d+\s+error\s|ERR!|exited \(\d+\)|Error: )/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const MAX_LINES = 60;

/** Failure lines of each task, as turbo prefixes its lines ("@tabby/e2e:test: …"); bounded. */
const failures = new Map();
/** The tasks turbo's summaries name: "Failed:    @tabby/e2e#test, @tabby/bgp#interop". */
const failed = new Set();
function scan(lines) {
  for (const raw of lines) {
    const line = raw.replace(ANSI, '');
    const summary = /^\s*Failed:\s+(.+)$/.exec(line);
    if (summary) for (const t of summary[1].split(/[,\s]+/)) if (t.includes('#')) failed.add(t);
    const m = /^(@[\w.-]+\/[\w.-]+):(\w+): (.*)$/.exec(line);
    if (!m || !FAILURE.test(m[3])) continue;
    const key = `${m[1]}#${m[2]}`;
    const list = failures.get(key) ?? [];
    if (list.length < MAX_LINES + 1) list.push(m[3].trim().slice(0, 400));
    failures.set(key, list);
  }
}
const TASKS = ['lint', 'test', 'interop'];
const LONG = ['@tabby/deploy-tests', '@tabby/e2e', '@tabby/netns-tests', '@tabby/cni'];
const args = process.argv.slice(2);
const runs =
  args.length > 0
    ? [[...TASKS, '--concurrency=2', '--continue', ...args]]
    : [
        [...TASKS, '--concurrency=1', '--continue', '--only', ...LONG.map((p) => `--filter=${p}`)],
        [...TASKS, '--concurrency=1', '--continue', '--only', ...LONG.map((p) => `--filter=!${p}`)],
      ];

/** Runs one turbo, passing its output through; resolves with its exit code. */
function turbo(turboArgs) {
  const child = spawn('npx', ['turbo', 'run', ...turboArgs], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const [from, to] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    let partial = '';
    from.on('data', (chunk) => {
      to.write(chunk);
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      scan(lines);
    });
    from.on('end', () => scan([partial]));
  }
  return new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
}

const codes = await Promise.all(runs.map(turbo));
const code = codes.find((c) => c !== 0) ?? 0;
if (code !== 0) {
  console.error(`\nnpm test: ${failed.size > 0 ? [...failed].join(', ') : 'turbo'} failed`);
  for (const t of failed) {
    const lines = failures.get(t) ?? [];
    console.error(`\n==> ${t}: ${lines.length === 0 ? 'no failure line seen in its output (see above)' : 'its failure lines'}`);
    for (const l of lines.slice(0, MAX_LINES)) console.error(`  ${l}`);
    if (lines.length > MAX_LINES) console.error('  … and more');
  }
}
process.exit(code);

// `npm test`'s main step: turbo runs every workspace's lint, test and interop tasks (two at a
// time, all of them even after a failure). When some failed, this prints at the very end the
// failing lines each failed task printed (turbo writes no log file of a failed task): with two tasks
// running at once their output interleaves across thousands of lines, and a CI log that keeps
// only its tail would otherwise end with "Failed: @tabby/e2e#test" and nothing about which
// test. Exits with turbo's status.
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
let tail = '';
let partial = '';
function scan(text) {
  const lines = (partial + text).split('\n');
  partial = lines.pop() ?? '';
  for (const raw of lines) {
    const line = raw.replace(ANSI, '');
    const m = /^(@[\w.-]+\/[\w.-]+):(\w+): (.*)$/.exec(line);
    if (!m || !FAILURE.test(m[3])) continue;
    const key = `${m[1]}#${m[2]}`;
    const list = failures.get(key) ?? [];
    if (list.length < MAX_LINES + 1) list.push(m[3].trim().slice(0, 400));
    failures.set(key, list);
  }
}
const child = spawn('npx', ['turbo', 'run', 'lint', 'test', 'interop', '--concurrency=2', '--continue', ...process.argv.slice(2)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
  from.on('data', (chunk) => {
    to.write(chunk);
    const text = chunk.toString('utf8');
    scan(text);
    tail = (tail + text).slice(-20_000);
  });
}
const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
if (code !== 0) {
  // turbo's summary: "Failed:    @tabby/e2e#test, @tabby/bgp#interop"
  const failed = [...tail.replace(ANSI, '').matchAll(/Failed:\s+(.+)/g)].flatMap((m) => m[1].split(/[,\s]+/)).filter((t) => t.includes('#'));
  console.error(`\nnpm test: ${failed.length > 0 ? failed.join(', ') : 'turbo'} failed`);
  for (const t of failed) {
    const lines = failures.get(t) ?? [];
    console.error(`\n==> ${t}: ${lines.length === 0 ? 'no failure line seen in its output (see above)' : 'its failure lines'}`);
    for (const l of lines.slice(0, MAX_LINES)) console.error(`  ${l}`);
    if (lines.length > MAX_LINES) console.error('  … and more');
  }
}
process.exit(code);

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';

/** A process started by a test, known by its PID. */
export interface TestProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output line matching `re` (rejects on exit or timeout). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves when the process has exited, with its code or signal. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal to this PID (never by name). */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<TestProcess>();
const OUTPUT_LIMIT = 1024 * 1024;
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test runner dies without running cleanup: kill what we started, by PID.
  process.on('exit', () => {
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Starts a process for a test. Its output is kept (and mirrored to `logFile` if given) so
 * tests can wait for lines and show logs on failure. Stop it with `stop()` or a
 * {@link ProcessGroup}.
 */
export function startProcess(name: string, command: string, args: readonly string[], opts: SpawnOptions & { logFile?: string } = {}): TestProcess {
  installExitHook();
  const child = spawn(command, [...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command}): is it installed?`);
  const pid = child.pid;
  let out = '';
  let log: WriteStream | undefined;
  if (opts.logFile) log = createWriteStream(opts.logFile, { flags: 'a' });
  const lineWaiters = new Set<{ re: RegExp; resolve: (m: RegExpExecArray) => void }>();
  let pendingLine = '';
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    out += text;
    // Keep the last 1 MiB: enough to show on failure, bounded for chatty processes.
    if (out.length > 2 * OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
    // Output can still arrive between 'exit' and 'close' (pipes drain after the process ends).
    if (log && !log.writableEnded) log.write(text);
    pendingLine += text;
    const lines = pendingLine.split('\n');
    pendingLine = lines.pop() ?? '';
    for (const line of lines) {
      for (const w of [...lineWaiters]) {
        const m = w.re.exec(line);
        if (m) {
          lineWaiters.delete(w);
          w.resolve(m);
        }
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // Resolve once stdout/stderr are drained ('close'), so output() holds everything the process
    // printed; a grandchild that inherited the pipes can hold them open, so give up waiting 2 s after 'exit'.
    let closed = false;
    child.once('close', () => {
      closed = true;
      log?.end();
    });
    child.once('exit', (code, signal) => {
      live.delete(proc);
      if (closed) return resolve({ code, signal });
      const timer = setTimeout(() => resolve({ code, signal }), 2_000);
      child.once('close', () => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
  });
  let exitedFlag = false;
  void exitPromise.then(() => (exitedFlag = true));
  const proc: TestProcess = {
    name,
    pid,
    child,
    output: () => out,
    waitForLine: (re, timeoutMs = 15_000) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        for (const line of out.split('\n')) {
          const m = re.exec(line);
          if (m) return resolve(m);
        }
        const w = { re, resolve: (m: RegExpExecArray) => (clearTimeout(timer), resolve(m)) };
        const timer = setTimeout(() => {
          lineWaiters.delete(w);
          reject(new Error(`${name} (pid ${pid}) printed no line matching ${re} within ${timeoutMs} ms; output:\n${out.slice(-4000)}`));
        }, timeoutMs);
        lineWaiters.add(w);
        void exitPromise.then(({ code, signal }) => {
          if (!lineWaiters.has(w)) return;
          lineWaiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`${name} (pid ${pid}) exited (code ${code}, signal ${signal}) before printing ${re}; output:\n${out.slice(-4000)}`));
        });
      }),
    exited: () => exitPromise,
    signal: (sig) => {
      if (!exitedFlag) process.kill(pid, sig);
    },
    stop: async (graceMs = 5000) => {
      if (exitedFlag) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }, graceMs);
      await exitPromise;
      clearTimeout(timer);
    },
  };
  live.add(proc);
  return proc;
}

/** Processes (and other cleanups) owned by one test file; `stopAll` in afterAll/afterEach. */
export class ProcessGroup {
  private readonly procs: TestProcess[] = [];
  private readonly cleanups: (() => Promise<void> | void)[] = [];

  add(p: TestProcess): TestProcess {
    this.procs.push(p);
    return p;
  }

  start(name: string, command: string, args: readonly string[], opts?: SpawnOptions & { logFile?: string }): TestProcess {
    return this.add(startProcess(name, command, args, opts));
  }

  /** Runs `fn` at cleanup, after the processes are stopped. */
  defer(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** Stops every process by PID (SIGTERM, then SIGKILL) and runs deferred cleanups. */
  async stopAll(): Promise<void> {
    const procs = this.procs.splice(0).reverse();
    await Promise.all(procs.map((p) => p.stop()));
    for (const fn of this.cleanups.splice(0).reverse()) await fn();
  }
}

/** Waits for `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr instanceof Error ? lastErr.message : JSON.stringify(lastErr)}` : ''}`);
    await sleep(intervalMs);
  }
}

export { once };

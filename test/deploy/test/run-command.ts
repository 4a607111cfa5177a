/**
 * Runs a command to its end for these tests (an install, a RUN step, a one-shot service, a
 * tabbyctl call), without blocking the test runner: its own process group, output kept,
 * and the whole group stopped by its PID when it outlives its time or the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface CommandResult {
  readonly code: number | null;
  /** stdout and stderr as they came (the last 100,000 characters). */
  readonly out: string;
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** Runs `command args` in `cwd` with `env`; after `timeoutMs` its process group is killed. */
export function runCommand(command: string, args: readonly string[], opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(child);
    let out = '';
    const keep = (d: Buffer): void => {
      out = (out + d.toString()).slice(-100_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => {
      out += `\n(killed after ${opts.timeoutMs} ms)`;
      killGroup(child);
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, out });
    });
  });
}

/** For afterAll: stops every command still running (each process group, by its PID). */
export function stopCommands(): void {
  for (const child of running) killGroup(child);
}

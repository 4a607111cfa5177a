import { spawn, type ChildProcess } from 'node:child_process';

/** What a finished command printed and how it ended (`code` null: killed, e.g. at its timeout). */
export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CollectOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is /dev/null. */
  readonly input?: string;
  /** Killed (SIGKILL, by PID) after this long. */
  readonly timeoutMs: number;
  /** Resolve on a non-zero exit instead of rejecting with `failure(result)`. */
  readonly allowFailure?: boolean;
  /** The child is in this set while it runs, so its owner can stop it by PID in clean-up. */
  readonly tracked?: Set<ChildProcess>;
  /** The error a non-zero exit rejects with. */
  readonly failure: (result: CommandResult) => Error;
}

/** Runs a program (no shell) and collects its output. */
export function collectCommand(program: string, args: readonly string[], opts: CollectOptions): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(program, args, { env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    opts.tracked?.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      opts.tracked?.delete(child);
    };
    child.once('error', (e) => {
      done();
      reject(e);
    });
    child.once('close', (code) => {
      done();
      const result = { code, stdout, stderr };
      if (code !== 0 && !opts.allowFailure) reject(opts.failure(result));
      else resolve(result);
    });
  });
}

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@tabby/harness';

/** The built tabbyctl. */
export const TABBYCTL = path.join(REPO_ROOT, 'packages/cli/dist/main.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real tabbyctl binary with arguments, optional stdin, in `cwd`, with `env` added. */
export function tabbyctl(args: readonly string[], opts: { stdin?: string; cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TABBYCTL, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, HOME: opts.cwd, TABBY_CONFIG: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Masks what differs between runs: uids and creation times. */
export function normalize(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uid>')
    .replace(/"?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"?/g, '<time>')
    .replace(/Git commit: {8}\S+/g, 'Git commit:        <commit>');
}

/**
 * A transcript of commands and what they printed, compared with a golden file.
 * `UPDATE_GOLDEN=1` rewrites the file instead.
 */
export class Transcript {
  private text = '';

  /** `mask` hides what differs between runs beyond uids and times (e.g. assigned addresses). */
  constructor(
    readonly cwd: string,
    readonly env: Record<string, string>,
    private readonly mask: (text: string) => string = (t) => t,
  ) {}

  /** Runs `tabbyctl ARGS` (stdin optional), records it, and returns the result. */
  async run(args: readonly string[], stdin?: string, opts: { redirect?: string; note?: string } = {}): Promise<CliResult> {
    const r = await tabbyctl(args, { stdin, cwd: this.cwd, env: this.env });
    const shown = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ');
    let line = `$ ${stdin !== undefined ? `cat << EOF | ` : ''}tabbyctl ${shown}${opts.redirect ? ` > ${opts.redirect}` : ''}`;
    if (opts.note) line = `# ${opts.note}\n${line}`;
    if (stdin !== undefined) line += `\n${stdin}EOF`;
    this.text += `${this.mask(line)}\n[exit ${r.code}]\n`;
    if (opts.redirect) writeFileSync(path.join(this.cwd, opts.redirect), r.stdout);
    else if (r.stdout) this.text += `--- stdout\n${this.mask(normalize(r.stdout))}`;
    if (r.stderr) this.text += `--- stderr\n${this.mask(normalize(r.stderr))}`;
    this.text += '\n';
    return r;
  }

  /** Records a step done outside tabbyctl (an edit), with the resulting file. */
  edit(file: string, change: (text: string) => string, note: string): void {
    const p = path.join(this.cwd, file);
    const after = change(readFileSync(p, 'utf8'));
    writeFileSync(p, after);
    this.text += `# ${note}\n$ cat ${file}\n${this.mask(normalize(after))}\n`;
  }

  /** Compares with (or, with UPDATE_GOLDEN=1, writes) the golden file; returns [actual, expected]. */
  golden(file: string): [string, string] {
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, this.text);
    if (!existsSync(file)) throw new Error(`golden file ${file} is missing: run the test with UPDATE_GOLDEN=1 and review it`);
    return [this.text, readFileSync(file, 'utf8')];
  }
}

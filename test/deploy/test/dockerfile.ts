/**
 * A small reader of deploy/Dockerfile and a stand-in for `docker build` where no Docker
 * engine exists: each stage gets a folder standing for its filesystem, COPY copies (honouring
 * .dockerignore for the build context), and RUN runs the stage's commands on this machine
 * with the stage's WORKDIR, ENV and ARGs — except the commands that only set up the operating
 * system of the image (apt-get, users), which cannot run here and are reported back so a test
 * can check that nothing else was left out.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from './run-command.js';

export interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly name: string;
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  readonly globalArgs: Readonly<Record<string, string>>;
  readonly stages: readonly Stage[];
}

/** Parses a Dockerfile: comments, line continuations, FROM … AS name stages. */
export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: { name: string; from: string; instructions: Instruction[] }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i])) continue;
      line = `${line.slice(0, -1)} ${lines[i].trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot read "${line}"`);
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile line ${start}: FROM needs an image`);
      stages.push({ name: f[2] ?? String(stages.length), from: f[1], instructions: [] });
    } else if (stages.length === 0) {
      if (op !== 'ARG') throw new Error(`Dockerfile line ${start}: only ARG may come before FROM`);
      const [k, v = ''] = args.split('=');
      globalArgs[k] = v;
    } else {
      stages[stages.length - 1].instructions.push({ op, args, line: start });
    }
  }
  return { globalArgs, stages };
}

/** `${NAME}`, `$NAME` and `${NAME:-default}` as the Dockerfile and sh expand them. */
function expand(s: string, vars: Readonly<Record<string, string>>): string {
  return s.replace(/\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (m, a: string | undefined, def: string | undefined, b: string | undefined) => {
    const k = a ?? b!;
    return vars[k] ?? def ?? m;
  });
}

/** JSON-array (exec form) or space-separated arguments. */
export function words(args: string): string[] {
  if (args.startsWith('[')) return JSON.parse(args) as string[];
  return args.split(/\s+/).filter((w) => w !== '');
}

/** Reads `.dockerignore` patterns (the subset this repository uses: `**` and `*`). */
function ignoreMatcher(contextDir: string): (rel: string) => boolean {
  const file = path.join(contextDir, '.dockerignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
    : [];
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '(?:.*/)?')
          .replace(/\*\*/g, '.*')
          .replace(/\*/g, '[^/]*')}(?:/.*)?$`,
      ),
  );
  return (rel) => res.some((r) => r.test(rel));
}

export interface BuildResult {
  /** Folder standing for each stage's filesystem root. */
  readonly roots: Readonly<Record<string, string>>;
  /** RUN commands that were not run here (operating-system setup of the image). */
  readonly skipped: readonly string[];
  /** The final stage's ENV (with paths under its root). */
  readonly env: Readonly<Record<string, string>>;
  readonly user?: string;
  readonly healthcheck?: string;
  readonly cmd?: readonly string[];
}

export interface BuildOptions {
  readonly contextDir: string;
  readonly workRoot: string;
  readonly buildArgs?: Readonly<Record<string, string>>;
  /** RUN commands matching this are the image's OS setup: recorded, not run. */
  readonly imageOnly: RegExp;
  /** Environment for RUN (PATH, npm settings, HOME). */
  readonly env: NodeJS.ProcessEnv;
  readonly log?: (line: string) => void;
}

/** Runs every stage of `df` as `docker build` would, in folders under `workRoot`. */
export async function build(df: Dockerfile, opts: BuildOptions): Promise<BuildResult> {
  const roots: Record<string, string> = {};
  const skipped: string[] = [];
  const ignored = ignoreMatcher(opts.contextDir);
  let last: Omit<BuildResult, 'roots' | 'skipped'> = { env: {} };
  for (const stage of df.stages) {
    const root = path.join(opts.workRoot, stage.name);
    mkdirSync(root, { recursive: true });
    roots[stage.name] = root;
    const inRoot = (p: string): string => path.join(root, p);
    let workdir = '/';
    const env: Record<string, string> = {};
    const args: Record<string, string> = { ...df.globalArgs };
    let user: string | undefined;
    let healthcheck: string | undefined;
    let cmd: string[] | undefined;
    // Absolute paths of this stage's image (its WORKDIRs) as folders here.
    const localPaths = (s: string): string => s.replace(/(^|[\s:=])(\/(?:src|opt|var)\b[^\s:]*)/g, (_m, pre: string, p: string) => `${pre}${inRoot(p)}`);
    for (const ins of stage.instructions) {
      const vars = { ...args, ...env };
      switch (ins.op) {
        case 'ARG': {
          const [k, v] = ins.args.split('=');
          args[k] = opts.buildArgs?.[k] ?? v ?? df.globalArgs[k] ?? '';
          break;
        }
        case 'ENV': {
          for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = localPaths(expand(m[2].replace(/^"|"$/g, ''), { ...vars, PATH: opts.env.PATH ?? '' }));
          break;
        }
        case 'WORKDIR':
          workdir = path.posix.resolve(workdir, expand(ins.args, vars));
          mkdirSync(inRoot(workdir), { recursive: true });
          break;
        case 'COPY': {
          const w = words(ins.args);
          const from = w.find((x) => x.startsWith('--from='))?.slice('--from='.length);
          const rest = w.filter((x) => !x.startsWith('--'));
          const dst = path.posix.resolve(workdir, rest[rest.length - 1]);
          for (const src of rest.slice(0, -1)) {
            const srcPath = from ? path.join(roots[from] ?? '', src) : path.join(opts.contextDir, src);
            if (from && !roots[from]) throw new Error(`Dockerfile line ${ins.line}: no stage ${from}`);
            if (!existsSync(srcPath)) throw new Error(`Dockerfile line ${ins.line}: COPY source ${src} does not exist${from ? ` in stage ${from}` : ' in the build context'}`);
            const isDir = statSync(srcPath).isDirectory();
            const target = isDir || dst.endsWith('/') || rest.length > 2 ? (isDir ? inRoot(dst) : path.join(inRoot(dst), path.basename(src))) : inRoot(dst);
            cpSync(srcPath, target, {
              recursive: true,
              // node_modules/@tabby/* are relative links to the workspaces: keep them relative.
              verbatimSymlinks: true,
              filter: (p) => from !== undefined || !ignored(path.relative(opts.contextDir, p).split(path.sep).join('/')),
            });
          }
          break;
        }
        case 'RUN': {
          const command = ins.args.startsWith('[') ? words(ins.args).join(' ') : ins.args;
          // `a && b && c`: OS setup parts are recorded; the rest runs, in order, as one script.
          const parts = command.split(/\s+&&\s+/);
          const run = parts.filter((p) => {
            if (opts.imageOnly.test(p)) {
              skipped.push(p);
              return false;
            }
            return true;
          });
          if (run.length === 0) break;
          const script = localPaths(run.join(' && '));
          // Never touch this machine outside the stage folders: any other absolute path stops the build.
          const stray = script.split(/[\s"'=:;|&<>()]+/).filter((t) => t.startsWith('/') && t !== '/dev/null' && !t.startsWith(opts.workRoot));
          if (stray.length > 0) throw new Error(`Dockerfile line ${ins.line}: RUN uses ${stray.join(', ')} outside the image's folders; this stand-in will not run it here`);
          opts.log?.(`[${stage.name}] RUN ${script}`);
          const r = await runCommand('sh', ['-ec', script], { cwd: inRoot(workdir), env: { ...opts.env, ...args, ...env }, timeoutMs: 600_000 });
          if (r.code !== 0) throw new Error(`Dockerfile line ${ins.line} (stage ${stage.name}): RUN failed with exit ${r.code}:\n${script}\n${r.out.slice(-6000)}`);
          break;
        }
        case 'USER':
          user = ins.args;
          break;
        case 'HEALTHCHECK':
          healthcheck = ins.args;
          break;
        case 'CMD':
          cmd = words(ins.args);
          break;
        case 'LABEL':
        case 'VOLUME':
        case 'EXPOSE':
          break;
        default:
          throw new Error(`Dockerfile line ${ins.line}: ${ins.op} is not handled by this stand-in`);
      }
    }
    last = { env, user, healthcheck, cmd };
  }
  return { roots, skipped, ...last };
}

/** The commit of the checkout, as a build arg would carry it. */
export function gitCommit(dir: string): string {
  return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
}

import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseManifest, type ManifestResource } from '@tabby/api';
import { CliError } from './errors.js';
import type { CliIO } from './io.js';

/** One resource read from `-f`, with the file it came from. */
export interface InputResource extends ManifestResource {
  /** File name as given (`-` is shown as `stdin`). */
  readonly source: string;
}

export interface ReadOptions {
  readonly recursive: boolean;
  readonly skipEmpty: boolean;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function filesOf(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...filesOf(p, true));
    } else if (EXTENSIONS.has(path.extname(entry.name).toLowerCase())) {
      out.push(p);
    }
  }
  return out;
}

function readText(file: string, shown: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`failed to read ${shown}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : String(err)}`);
  }
}

function parseText(text: string, source: string, opts: ReadOptions, emptyMessage: string): InputResource[] {
  const r = parseManifest(text, { source });
  if (r.errors.length > 0) throw new CliError(`failed to execute command: ${r.errors.map((e) => e.message).join('\n')}`);
  if (r.resources.length === 0 && !opts.skipEmpty) throw new CliError(emptyMessage);
  return r.resources.map((m) => Object.assign(Object.create(null) as object, m, { source }) as InputResource);
}

/**
 * Reads `-f FILE|DIR|-`: a file (YAML with any number of documents, Lists, or JSON), the
 * .yaml/.yml/.json files of a directory (subdirectories with `-R`), or standard input.
 * Parse errors name the file, document, line and column; an empty input is an error
 * unless `--skip-empty`.
 */
export async function readInput(file: string, io: CliIO, opts: ReadOptions): Promise<InputResource[]> {
  if (file === '-') return parseText(await io.readStdin(), 'stdin', opts, 'no resources specified in file -');
  const full = path.resolve(io.cwd, file);
  let isDir = false;
  try {
    isDir = statSync(full).isDirectory();
  } catch {
    // readText below reports the missing file
  }
  if (!isDir) return parseText(readText(full, file), file, opts, `no resources specified in file ${file}`);
  const files = filesOf(full, opts.recursive);
  const out: InputResource[] = [];
  for (const f of files) {
    const shown = path.relative(io.cwd, f) || f;
    out.push(...parseText(readText(f, shown), shown, { ...opts, skipEmpty: true }, ''));
  }
  if (out.length === 0 && !opts.skipEmpty) throw new CliError(`no resources specified in directory ${file}`);
  return out;
}

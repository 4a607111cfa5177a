import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@tabby/harness';
import { describe, expect, it } from 'vitest';

// npm links a workspace's bins on `npm install` only when the file exists then. dist/ does not
// exist on a fresh clone, so a bin that points into dist/ is missing from node_modules/.bin after
// the first install and `npx tabbyctl` goes to the public registry instead (a 404 at best, someone
// else's package at worst). Every bin must therefore be a file tracked by git.

const EXPECTED_BINS = ['tabby-agent', 'tabby-cni', 'tabby-ipam', 'tabby-store', 'tabby-topology', 'tabby-ui', 'tabbyctl'];

function workspaces(): { dir: string; pkg: { name: string; bin?: Record<string, string> } }[] {
  const files = execFileSync('git', ['ls-files', '--', '*/package.json', 'package.json'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f !== '' && !f.includes('node_modules/'));
  return files.map((f) => ({ dir: path.dirname(f), pkg: JSON.parse(readFileSync(path.join(REPO_ROOT, f), 'utf8')) as { name: string; bin?: Record<string, string> } }));
}

const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n'));

describe('bins', () => {
  const bins = workspaces().flatMap(({ dir, pkg }) => Object.entries(pkg.bin ?? {}).map(([name, target]) => ({ name, dir, target, pkg: pkg.name })));

  it('the seven commands are declared', () => {
    expect(bins.map((b) => b.name).sort()).toEqual(EXPECTED_BINS);
  });

  it.each(bins)('$name ($pkg) points at a tracked, executable file outside dist/', ({ dir, target }) => {
    const file = path.posix.normalize(path.posix.join(dir, target));
    expect(file.split('/')).not.toContain('dist');
    expect(tracked.has(file), `${file} is not tracked by git`).toBe(true);
    // Git keeps the executable bit; npm also sets it when linking, but a clone must not rely on that.
    const mode = execFileSync('git', ['ls-files', '-s', '--', file], { cwd: REPO_ROOT, encoding: 'utf8' }).split(' ')[0];
    expect(mode).toBe('100755');
    expect(readFileSync(path.join(REPO_ROOT, file), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it.each(bins)('$name is linked in node_modules/.bin and runs --help', ({ name }) => {
    const link = path.join(REPO_ROOT, 'node_modules', '.bin', name);
    expect(statSync(link).isFile()).toBe(true);
    const out = execFileSync(link, ['--help'], { encoding: 'utf8' });
    expect(out).toMatch(/Usage|usage|Options/);
  });
});

/**
 * Shell completion through real bash: the script tabbyctl prints is sourced, COMP_WORDS is
 * set as bash sets it, and the candidates come from the real binary and a real store.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, findTool, startService, tempDir, walkthroughManifest } from '@tabby/harness';
import { TABBYCTL, tabbyctl } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-completion-');
let env: Record<string, string>;

beforeAll(async () => {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
  env = { TABBY_STORE_ADDR: store.address };
  for (const flow of ['2. global BGP peer', '3. node-specific BGP peer']) {
    expect((await tabbyctl(['create', '-f', '-'], { stdin: walkthroughManifest(flow), cwd: dir.path, env })).code).toBe(0);
  }
  // A `tabbyctl` on PATH, as an installed one would be.
  mkdirSync(path.join(dir.path, 'bin'));
  writeFileSync(path.join(dir.path, 'bin', 'tabbyctl'), `#!/bin/sh\nexec "${process.execPath}" "${TABBYCTL}" "$@"\n`, { mode: 0o755 });
  // The script printed once, as an install writes it (tabbyctl completion bash > FILE), and sourced by each completion below.
  const script = await tabbyctl(['completion', 'bash'], { cwd: dir.path, env });
  expect(script.code).toBe(0);
  writeFileSync(path.join(dir.path, 'tabbyctl.bash'), script.stdout);
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

function complete(line: string): string[] {
  const words = line.split(' ');
  const script = `source '${path.join(dir.path, 'tabbyctl.bash')}'
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
COMP_CWORD=${words.length - 1}
_tabbyctl
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync(findTool('bash') ?? '/bin/bash', ['-c', script], {
    env: { ...process.env, ...env, PATH: `${path.join(dir.path, 'bin')}:${process.env.PATH ?? ''}`, HOME: dir.path },
  }).toString();
  return out.split('\n').filter((l) => l !== '');
}

describe('bash completion', () => {
  it('completes verbs, kinds and resource names read from the store', () => {
    expect(complete('tabbyctl ge')).toEqual(['get']);
    expect(complete('tabbyctl get bgp')).toEqual(['bgpconfiguration', 'bgpfilter', 'bgppeer']);
    expect(complete('tabbyctl get bgppeer ')).toEqual(['bgppeer-global-3040', 'bgppeer-node-aabbff']);
    expect(complete('tabbyctl delete bp bgppeer-n')).toEqual(['bgppeer-node-aabbff']);
    expect(complete('tabbyctl get ippool -o w')).toEqual(['wide']);
    expect(complete('tabbyctl completion ')).toEqual(['bash', 'zsh']);
    expect(complete('tabbyctl ipam ')).toEqual(['check', 'configure', 'migrate', 'release', 'show']);
    expect(complete('tabbyctl ipam show --show-b')).toEqual(['--show-blocks', '--show-borrowed']);
    expect(complete('tabbyctl workload ')).toEqual(['add', 'delete']);
  }, 60_000);

  it('prints a zsh script that defines the completion function', async () => {
    const r = await tabbyctl(['completion', 'zsh'], { cwd: dir.path, env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^#compdef tabbyctl\n/);
    expect(r.stdout).toContain('tabbyctl __complete');
  });
});

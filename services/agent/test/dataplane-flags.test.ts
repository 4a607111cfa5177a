/**
 * The agent's data-plane flags, through the real program: bad values stop it at once with
 * one line naming the flag, and the Linux data plane refuses this machine's own network
 * namespace under a test (VITEST is in the environment the child inherits), before any
 * route could be written. Programming routes is tested inside namespaces (test/netns).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function agent(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, '--node', 'n1', '--bgp-address', '127.0.0.1', '--listen', '127.0.0.1:0', '--store', '127.0.0.1:1', '--topology', '127.0.0.1:1', ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, VITEST: 'true' },
  });
  return { status: r.status, stderr: r.stderr };
}

describe('tabby-agent --dataplane', () => {
  it('refuses a table that is not Tabby’s to take, naming the flag', () => {
    for (const [table, why] of [
      ['local', /--route-table: .*255.*local/i],
      ['255', /--route-table: .*local/i],
      ['0', /--route-table/],
      ['4294967296', /--route-table/],
      ['main2', /--route-table/],
    ] as const) {
      const r = agent('--dataplane', 'linux', '--route-table', table);
      expect(r.status, `--route-table ${table}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 60_000);

  it('refuses another daemon’s protocol number and an unknown data plane', () => {
    const bird = agent('--dataplane', 'linux', '--route-protocol', '12');
    expect(bird.status).toBe(2);
    expect(bird.stderr).toMatch(/bird/i);
    const other = agent('--dataplane', 'bpf');
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/--dataplane/);
  }, 60_000);

  it('refuses a route cleanup grace period that is not 0-3600 seconds, naming the flag', () => {
    for (const value of ['-1', '3601', '1.5', 'ten']) {
      const r = agent('--dataplane', 'linux', '--route-cleanup-grace', value);
      expect(r.status, `--route-cleanup-grace ${value}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/--route-cleanup-grace/);
    }
  }, 60_000);

  it('refuses to program this machine’s own namespace under a test', () => {
    const r = agent('--dataplane', 'linux');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing to program routes in this machine's own network namespace/);
  }, 60_000);
});

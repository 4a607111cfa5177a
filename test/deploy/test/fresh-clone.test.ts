/**
 * A new user's first hour, for real: `git clone`, one `npm install` (from the local npm
 * cache: nothing comes from a registry), then `npm start`, then every
 * `npx tabbyctl …` line that `npm start` prints, run exactly as printed. npm is pointed at a
 * registry address where nothing listens, so a command that is not linked locally fails
 * instead of being fetched from the public registry.
 *
 * `npm start` uses its documented fixed addresses (127.0.0.1:50051-50056, NATS 4222, agents
 * on 127.0.0.11-13 port 1790): they must be free while this test runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, eventually, listServicesByReflection, tempDir } from '@tabby/harness';
import { betterSqlitePrebuild } from './prebuilt.js';
import { runCommand, stopCommands } from './run-command.js';

const BINS = ['tabby-agent', 'tabby-ipam', 'tabby-store', 'tabby-topology', 'tabbyctl'];
const dir = tempDir('tabby-clone-');
const clone = path.join(dir.path, 'tabby');
// No registry: anything npm would fetch fails at once.
const env: NodeJS.ProcessEnv = { ...process.env, npm_config_registry: 'http://127.0.0.1:9/', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', TABBY_CONFIG: '', HOME: process.env.HOME };
// A user's shell, not an npm script's: npm's own variables (local prefix, package, lifecycle)
// would point npm at this repository instead of the clone. The cache stays the same.
for (const k of Object.keys(env)) if (/^(npm_(?!config_cache$|config_registry$)|INIT_CWD$|TABBY_(STORE|IPAM|TOPOLOGY|AGENT)_ADDR$)/i.test(k)) delete env[k];

/**
 * The environment for `npm install`: as the user has it (registry included), npm's own
 * variables out, better-sqlite3's binary offered locally where a user's install downloads it.
 */
function installEnv(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...env, ...betterSqlitePrebuild(path.join(dir.path, 'prebuilds')) };
  delete e.npm_config_registry;
  if (process.env.npm_config_registry !== undefined) e.npm_config_registry = process.env.npm_config_registry;
  return e;
}

function sh(command: string, timeoutMs = 60_000): { code: number | null; out: string } {
  const r = spawnSync('sh', ['-c', command], { cwd: clone, env, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

let start: ChildProcess | undefined;
let startOutput = '';

afterAll(async () => {
  // An install cut short is stopped with everything it started (its process group).
  stopCommands();
  if (start?.pid !== undefined && start.exitCode === null && start.signalCode === null) {
    // npm start stops its children, each by PID, on SIGTERM; its process group is the fallback.
    const pid = start.pid;
    const exited = new Promise((r) => start!.once('exit', r));
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 20_000);
    await exited;
    clearTimeout(timer);
    try {
      process.kill(-pid, 'SIGKILL'); // anything of the group still there (normally nothing)
    } catch {
      // the group is gone: everything stopped
    }
  }
  dir.remove();
}, 60_000);

describe('fresh clone', () => {
  beforeAll(async () => {
    const c = spawnSync('git', ['clone', '--quiet', REPO_ROOT, clone], { encoding: 'utf8' });
    if (c.status !== 0) throw new Error(`git clone failed: ${c.stderr}`);
    // --offline: everything from the local cache (which npm ci filled; the configured registry
    // stays because the cache is keyed by it), better-sqlite3's binary from a local prebuild
    // (prebuilt.ts), not downloaded: nothing leaves the machine. The npx calls below get no registry at all.
    const i = await runCommand('npm', ['install', '--offline'], { cwd: clone, env: installEnv(), timeoutMs: 900_000 });
    if (i.code !== 0) throw new Error(`npm install --offline failed (exit ${i.code}):\n${i.out.slice(-4000)}`);
  }, 960_000);

  it('has all five commands in node_modules/.bin after the first npm install', () => {
    const bin = path.join(clone, 'node_modules', '.bin');
    expect(readdirSync(bin).filter((f) => BINS.includes(f)).sort()).toEqual(BINS);
    for (const b of BINS) expect(existsSync(path.join(bin, b)), b).toBe(true);
  });

  it('npx --no-install tabbyctl version works right away', () => {
    const v = sh('npx --no-install tabbyctl version --client');
    expect(v.out).toMatch(/^Client Version: {4}v\d+\.\d+\.\d+\nGit commit: {8}[0-9a-f]{7,}\n$/);
    expect(v.code).toBe(0);
    // With no store running, as calicoctl: the client part, then one line saying why not more.
    const w = sh('npx --no-install tabbyctl version');
    expect(w.out).toMatch(/^Client Version: {4}v\d+\.\d+\.\d+\n/);
    expect(w.out).toMatch(/Unable to detect installed Tabby version: cannot reach the Tabby store at 127\.0\.0\.1:50051/);
  });

  it('npm start, then every command it prints works as printed', async () => {
    for (const [host, port] of [['127.0.0.1', 50051], ['127.0.0.1', 50052], ['127.0.0.1', 50053], ['127.0.0.1', 50054], ['127.0.0.1', 4222], ['127.0.0.11', 1790]] as const) {
      expect(await portFree(host, port), `${host}:${port} must be free for npm start`).toBe(true);
    }
    start = spawn('npm', ['start'], { cwd: clone, env: { ...env, TABBY_LOG_LEVEL: 'warn' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    start.stdout!.on('data', (d: Buffer) => (startOutput += d.toString()));
    start.stderr!.on('data', (d: Buffer) => (startOutput += d.toString()));
    await eventually('npm start to print what to try', () => startOutput.includes('Try:') || (start!.exitCode !== null && Promise.reject(new Error(startOutput))), 240_000, 500);
    const tries = startOutput
      .slice(startOutput.indexOf('Try:'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('npx ') || l.startsWith('grpcurl '));
    expect(tries.filter((l) => l.startsWith('npx tabbyctl')).length).toBeGreaterThanOrEqual(5);
    expect(tries).toContain('npx tabbyctl node routes node1');

    // The mesh must be up before the session table and routes show anything.
    await eventually('node1 Established with node2 and node3', () => {
      const r = sh('npx tabbyctl node status node1');
      return r.code === 0 && (r.out.match(/\|\s*up\s*\|.*Established/g) ?? []).length === 2 && r.out;
    }, 120_000, 1000);
    await eventually("node1's routes include another node's block", () => {
      const r = sh('npx tabbyctl node routes node1');
      return r.code === 0 && /127\.0\.0\.1[23]/.test(r.out) && r.out;
    }, 60_000, 1000);

    for (const line of tries) {
      if (line.startsWith('grpcurl ')) {
        // grpcurl is not a Debian package: ask the same question through server reflection.
        const addr = /(\S+:\d+) list$/.exec(line)?.[1];
        expect(addr, line).toBeDefined();
        expect((await listServicesByReflection(addr!)).some((s) => s.startsWith('tabby.v1.')), line).toBe(true);
        continue;
      }
      const r = sh(line);
      expect({ line, code: r.code, out: r.out }).toMatchObject({ line, code: 0 });
    }
    const routes = sh('npx tabbyctl node routes node1');
    expect(routes.out).toMatch(/192\.168\.\d+\.\d+\/26/);
  }, 600_000);
});

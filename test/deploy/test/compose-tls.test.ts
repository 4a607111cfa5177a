/**
 * deploy/compose.tls.yml, the override that turns on TLS and NATS authentication: Compose
 * accepts it on top of docker-compose.yml, every TABBY_* variable it sets is a flag of the
 * binary that runs in that service (or a tabbyctl variable, for the healthchecks and the
 * demo), and every file it names is one deploy/tls/make-certs.sh makes or one committed
 * beside it. No key is committed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, requireTool } from '@tabby/harness';

const BASE = path.join(REPO_ROOT, 'docker-compose.yml');
const TLS = path.join(REPO_ROOT, 'deploy', 'compose.tls.yml');
/** tabbyctl's own variables (healthchecks run tabbyctl with the service's environment). */
const TABBYCTL_VARS = new Set(['TABBY_TLS_CA', 'TABBY_TLS_CERT', 'TABBY_TLS_KEY', 'TABBY_STORE_ADDR', 'TABBY_IPAM_ADDR', 'TABBY_TOPOLOGY_ADDR']);

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
}

/** The merged configuration as Compose sees it. */
function merged(): Record<string, Service> {
  const dc = requireTool('docker-compose');
  const out = execFileSync(dc, ['-f', BASE, '-f', TLS, 'config'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return (parse(out) as { services: Record<string, Service> }).services;
}

function helpVars(bin: string): Set<string> {
  const text = execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', bin), ['--help'], { encoding: 'utf8' });
  return new Set([...text.matchAll(/\[env (TABBY_[A-Z0-9_]+)/g)].map((m) => m[1]));
}

/** The generated files make-certs.sh writes (`leaf NAME`, plus the CA and the NATS files). */
function generatedFiles(): Set<string> {
  const script = readFileSync(path.join(REPO_ROOT, 'deploy', 'tls', 'make-certs.sh'), 'utf8');
  const leaves = [...script.matchAll(/^leaf (\S+)/gm)].map((m) => m[1]);
  return new Set(['ca.pem', 'nats-password', 'nats-users.conf', ...leaves.flatMap((l) => [`${l}.pem`, `${l}.key`])]);
}

describe('deploy/compose.tls.yml', () => {
  it('docker-compose config -q accepts it on top of docker-compose.yml', () => {
    const r = spawnSync(requireTool('docker-compose'), ['-f', BASE, '-f', TLS, 'config', '-q'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('sets only variables the binaries know, and turns on TLS and NATS authentication everywhere', () => {
    const services = merged();
    const bins = new Map<string, Set<string>>();
    const varsOf = (bin: string): Set<string> => bins.get(bin) ?? bins.set(bin, helpVars(bin)).get(bin)!;
    for (const [name, svc] of Object.entries(services)) {
      if (name === 'nats') continue;
      const bin = svc.command?.[0] ?? '';
      const env = svc.environment ?? {};
      if (!bin.startsWith('tabby-')) {
        // The demo runs tabbyctl: a client certificate only.
        for (const v of ['TABBY_TLS_CA', 'TABBY_TLS_CERT', 'TABBY_TLS_KEY']) expect(env[v], `${name} ${v}`).toMatch(/^\/etc\/tabby-tls\//);
        continue;
      }
      const known = varsOf(bin);
      for (const v of Object.keys(env)) if (v.startsWith('TABBY_')) expect(known.has(v) || TABBYCTL_VARS.has(v), `${name}: ${v} is no flag of ${bin}`).toBe(true);
      // tabby-ui serves HTTPS (no client certificates) and uses no NATS: its certificate and the CA.
      const required =
        bin === 'tabby-ui'
          ? ['TABBY_TLS_CERT', 'TABBY_TLS_KEY', 'TABBY_TLS_CA']
          : ['TABBY_TLS_CERT', 'TABBY_TLS_KEY', 'TABBY_TLS_CLIENT_CA', 'TABBY_TLS_CA', 'TABBY_NATS_USER', 'TABBY_NATS_PASSWORD_FILE', 'TABBY_NATS_TLS_CA', 'TABBY_NATS_TLS_CERT', 'TABBY_NATS_TLS_KEY'];
      for (const v of required) expect(env[v], `${name} ${v}`).toBeDefined();
      // A service that dials presents the certificate it serves; --tls-ca is its flag.
      if (name !== 'store') expect(known.has('TABBY_TLS_CA'), `${bin} --tls-ca`).toBe(true);
    }
    expect(services.nats.command).toEqual(expect.arrayContaining(['-js', '-c', '/etc/nats/tabby.conf']));
  });

  it('names only files make-certs.sh makes, mounted from deploy/tls/generated, which git ignores', () => {
    const services = merged();
    const made = generatedFiles();
    for (const [name, svc] of Object.entries(services)) {
      for (const [k, v] of Object.entries(svc.environment ?? {})) {
        if (v.startsWith('/etc/tabby-tls/')) expect(made.has(v.slice('/etc/tabby-tls/'.length)), `${name} ${k}=${v}`).toBe(true);
      }
    }
    const conf = readFileSync(path.join(REPO_ROOT, 'deploy', 'tls', 'nats.conf'), 'utf8');
    for (const m of conf.matchAll(/"\/etc\/nats\/tls\/([^"]+)"/g)) expect(made.has(m[1]), m[1]).toBe(true);
    const check = spawnSync('git', ['check-ignore', '-q', 'deploy/tls/generated/ca.key'], { cwd: REPO_ROOT });
    expect(check.status).toBe(0);
    const tracked = execFileSync('git', ['ls-files', 'deploy/tls'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(tracked).not.toMatch(/\.(key|pem)$|nats-password/m);
  });
});

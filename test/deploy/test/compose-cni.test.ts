/**
 * deploy/compose.cni.yml, the override that makes the Docker host a Tabby node whose containers
 * tabby-cni wires: Compose accepts it on top of docker-compose.yml; every flag and variable is
 * one the binaries list in --help; the addresses the plugin and the host agent dial are the
 * ports docker-compose.yml publishes on the host's loopback; the host agent's BGP address is
 * the compose network's gateway (the host's address on it); and install-cni's command, run as
 * written (its host directories moved under a temporary folder), installs the plugin and a
 * conflist for the node TABBY_CNI_NODE names. No Docker engine runs here.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { REPO_ROOT, requireTool } from '@tabby/harness';

const BASE = path.join(REPO_ROOT, 'docker-compose.yml');
const CNI = path.join(REPO_ROOT, 'deploy', 'compose.cni.yml');
const BIN_DIR = path.join(REPO_ROOT, 'node_modules', '.bin');
/** tabbyctl's own variables (the healthcheck runs tabbyctl with the service's environment). */
const TABBYCTL_VARS = new Set(['TABBY_STORE_ADDR', 'TABBY_IPAM_ADDR', 'TABBY_TOPOLOGY_ADDR']);

interface Service {
  image?: string;
  pull_policy?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  user?: string;
  cap_add?: string[];
  cap_drop?: string[];
  network_mode?: string;
  read_only?: boolean;
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
}
interface Merged {
  services: Record<string, Service>;
  networks: Record<string, { ipam?: { config?: { subnet: string; gateway?: string }[] } }>;
}

/** The merged configuration as Compose sees it, with TABBY_CNI_NODE set or not. */
function merged(node?: string): Merged {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TABBY_CNI_NODE;
  if (node !== undefined) env.TABBY_CNI_NODE = node;
  const out = execFileSync(requireTool('docker-compose'), ['-f', BASE, '-f', CNI, 'config'], { cwd: REPO_ROOT, encoding: 'utf8', env });
  return parse(out) as Merged;
}

/** Flags (`--name` → takes a value) and variables a binary's help lists. */
function help(args: readonly string[]): { flags: Map<string, boolean>; env: Set<string> } {
  const text = execFileSync(path.join(BIN_DIR, args[0]), [...args.slice(1), '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const flags = new Map<string, boolean>();
  for (const m of text.matchAll(/^\s+--([a-z0-9-]+)(?: ([A-Z][A-Z:|a-z]*))?\s/gm)) flags.set(m[1], m[2] !== undefined);
  const env = new Set([...text.matchAll(/\b((?:CNI|TABBY|HOST_CNI|KUBERNETES)_[A-Z0-9_]+)\b/g)].map((m) => m[1]));
  return { flags, env };
}

/** `--flag=value` and `--flag value` pairs of a command line, checked against the help's flags. */
function flagsOf(argv: readonly string[], known: Map<string, boolean>): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`positional argument ${JSON.stringify(argv[i])} in ${JSON.stringify(argv)}`);
    const takes = known.get(m[1]);
    if (takes === undefined) throw new Error(`--${m[1]} is no flag (${JSON.stringify(argv)})`);
    if (takes && m[2] === undefined) out.set(m[1], argv[++i] ?? '');
    else out.set(m[1], m[2] ?? 'true');
  }
  return out;
}

/** host:container pairs of a service's bind mounts. */
function mounts(svc: Service): Map<string, string> {
  return new Map((svc.volumes ?? []).map((v) => v.split(':')).map(([host, inside]) => [inside, host]));
}

/** The host loopback address:port each published container port is reached at. */
function published(m: Merged): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, svc] of Object.entries(m.services)) {
    for (const p of svc.ports ?? []) {
      // docker-compose config prints the long or short form depending on the version.
      const short = typeof p === 'string' ? /^(127\.0\.0\.1):(\d+):(\d+)(?:\/tcp)?$/.exec(p) : null;
      if (short) out.set(`${name}:${short[3]}`, `${short[1]}:${short[2]}`);
      else if (typeof p === 'object') {
        const l = p as { host_ip?: string; published?: string | number; target?: number };
        out.set(`${name}:${l.target}`, `${l.host_ip}:${l.published}`);
      }
    }
  }
  return out;
}

describe('deploy/compose.cni.yml', () => {
  it('docker-compose config -q accepts it on top of docker-compose.yml', () => {
    const r = spawnSync(requireTool('docker-compose'), ['-f', BASE, '-f', CNI, 'config', '-q'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('install-cni: the init container of the DaemonSet, with nothing but the host CNI directories', () => {
    const m = merged('edge-7');
    const svc = m.services['install-cni'];
    expect(svc.image).toBe('tabby:0.1.0');
    // docker-compose 1.29's `config` drops pull_policy: read it from the file itself.
    const raw = parseDocument(readFileSync(CNI, 'utf8'), { merge: true }).toJS() as Merged;
    for (const name of Object.keys(raw.services)) expect(raw.services[name].pull_policy, name).toBe('never');
    expect(svc.command?.slice(0, 2)).toEqual(['tabby-cni', 'install']);
    const { flags, env } = help(['tabby-cni', 'install']);
    const f = flagsOf(svc.command!.slice(2), flags);
    for (const v of Object.keys(svc.environment ?? {})) expect(env.has(v), `${v} is read by tabby-cni install`).toBe(true);
    // The host's directories, mounted where --bin-dir and --conf-dir write; the conflist names
    // files as the host sees them.
    const mnt = mounts(svc);
    expect(mnt.get(f.get('bin-dir')!)).toBe('/opt/cni/bin');
    expect(mnt.get(f.get('conf-dir')!)).toBe(f.get('host-conf-dir'));
    expect(f.get('host-conf-dir')).toBe('/etc/cni/net.d');
    expect(mnt.size).toBe(2);
    // Root (the directories are root's) but no capability, no network, a read-only image.
    expect(svc.user).toBe('root');
    expect(svc.cap_drop).toEqual(['ALL']);
    expect(svc.cap_add).toBeUndefined();
    expect(svc.network_mode).toBe('none');
    expect(svc.read_only).toBe(true);
    expect(svc.restart).toBe('no');
    // The plugin runs on the host: it dials the ports docker-compose.yml publishes there.
    const pub = published(m);
    expect(svc.environment?.TABBY_STORE).toBe(pub.get('store:50051'));
    expect(svc.environment?.TABBY_IPAM).toBe(pub.get('ipam:50052'));
    expect(svc.environment?.KUBERNETES_NODE_NAME).toBe('edge-7');
    expect(merged().services['install-cni'].environment?.KUBERNETES_NODE_NAME).toBe('docker-host');
  });

  it("host-agent: the host's node, peering on the compose network's gateway, registered under the same name", () => {
    const m = merged('edge-7');
    const svc = m.services['host-agent'];
    expect(svc.command?.[0]).toBe('tabby-agent');
    const { flags, env } = help(['tabby-agent']);
    const f = flagsOf(svc.command!.slice(1), flags);
    for (const v of Object.keys(svc.environment ?? {})) expect(env.has(v) || TABBYCTL_VARS.has(v), `${v} is a flag of tabby-agent or tabbyctl's`).toBe(true);
    expect(f.get('node')).toBe(m.services['install-cni'].environment?.KUBERNETES_NODE_NAME);
    expect(svc.network_mode).toBe('host');
    expect(svc.user).toBe('root');
    expect([...(svc.cap_add ?? [])].sort()).toEqual(['NET_ADMIN', 'NET_BIND_SERVICE']);
    expect(svc.environment?.TABBY_DATAPLANE).toBe('linux');
    // The host's address on the tabby network is its gateway, the subnet's first address
    // unless the file says otherwise; the agent binds only that and dials only that network.
    const subnet = m.networks.tabby.ipam!.config![0];
    const [net, bits] = ipaddr.parseCIDR(subnet.subnet);
    const gateway = subnet.gateway ?? ipaddr.fromByteArray(net.toByteArray().map((b, i, a) => (i === a.length - 1 ? b + 1 : b))).toString();
    expect(f.get('bgp-address')).toBe(gateway);
    expect(f.get('bgp-listen')).toBe('node-address');
    expect(f.get('peer-allow')).toBe(`${net.toString()}/${bits}`);
    for (const [other, s] of Object.entries(m.services)) {
      const a = Object.values((s as { networks?: Record<string, { ipv4_address?: string }> }).networks ?? {})[0]?.ipv4_address;
      expect(a, `${other} has the gateway's address`).not.toBe(gateway);
    }
    // Control-plane addresses: the published ports; its own ports only on the loopback.
    const pub = published(m);
    expect(f.get('store')).toBe(pub.get('store:50051'));
    expect(f.get('topology')).toBe(pub.get('topology:50053'));
    expect(svc.environment?.TABBY_IPAM_ADDR).toBe(pub.get('ipam:50052'));
    for (const k of ['listen', 'metrics']) expect(f.get(k), k).toMatch(/^127\.0\.0\.1:\d+$/);
    const taken = new Set([...pub.values()].map((a) => a.split(':')[1]));
    for (const k of ['listen', 'metrics']) expect(taken.has(f.get(k)!.split(':')[1]), `${k} ${f.get(k)} is a port the base publishes`).toBe(false);
    expect(svc.depends_on?.['install-cni']?.condition).toBe('service_completed_successfully');
  });

  it("install-cni's command, run as written, installs the plugin and a conflist for the host's node", () => {
    const svc = merged('edge-7').services['install-cni'];
    const root = mkdtempSync(path.join(tmpdir(), 'tabby-compose-cni-'));
    try {
      const env = { PATH: process.env.PATH ?? '', ...svc.environment };
      const args = svc.command!.slice(1).map((a) => a.replace('=/host/', `=${root}/`));
      const r = spawnSync(path.join(BIN_DIR, 'tabby-cni'), args, { env, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const bin = path.join(root, 'opt/cni/bin/tabby-cni');
      expect(statSync(bin).mode & 0o111).not.toBe(0);
      const version = JSON.parse(execFileSync(bin, { env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}', encoding: 'utf8' })) as { supportedVersions: string[] };
      expect(version.supportedVersions).toContain('1.0.0');
      const list = JSON.parse(readFileSync(path.join(root, 'etc/cni/net.d/10-tabby.conflist'), 'utf8')) as { name: string; plugins: Record<string, unknown>[] };
      expect(list.name).toBe('tabby');
      expect(list.plugins[0]).toMatchObject({ type: 'tabby-cni', nodename: 'edge-7', tabby: { store: '127.0.0.1:50051', ipam: '127.0.0.1:50052' } });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

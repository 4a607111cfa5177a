/**
 * Reads docker-compose.yml and turns each service into what a local process needs: its
 * own command, arguments and environment from the file, with the compose network remapped to
 * a loopback /24, service host names to their loopback addresses, container paths to test
 * folders, and "all interfaces" to the service's own address. No Docker engine runs here;
 * this is how the compose file is exercised for real (compose.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';

export interface ComposeHealthcheck {
  readonly test: readonly string[];
  readonly interval?: string;
  readonly timeout?: string;
  readonly retries?: number;
  readonly start_period?: string;
}

export interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile: string; readonly args?: Readonly<Record<string, string>> };
  readonly pull_policy?: string;
  readonly command?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly volumes?: readonly string[];
  readonly ports?: readonly string[];
  readonly networks?: Readonly<Record<string, { readonly ipv4_address?: string; readonly aliases?: readonly string[] }>>;
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>>;
  readonly healthcheck?: ComposeHealthcheck;
  readonly restart?: string;
  readonly user?: string;
  readonly cap_add?: readonly string[];
}

export interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly networks: Readonly<Record<string, { readonly ipam?: { readonly config?: readonly { readonly subnet: string }[] } }>>;
  readonly volumes?: Readonly<Record<string, unknown>>;
}

/** Parses docker-compose.yml (YAML 1.1 merge keys, as Compose reads them). */
export function readCompose(file: string): ComposeFile {
  const doc = parseDocument(readFileSync(file, 'utf8'), { merge: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS() as ComposeFile;
}

/** A compose service as a local process: what to run, with which arguments and environment. */
export interface LocalService {
  readonly name: string;
  /** The service's loopback address (its compose ipv4_address, remapped). */
  readonly address: string;
  readonly program: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The healthcheck command, remapped (CMD form), if any. */
  readonly health?: readonly string[];
  readonly dependsOn: readonly { readonly service: string; readonly condition: string }[];
  readonly oneShot: boolean;
}

export interface Remap {
  /** Loopback prefix standing in for the compose subnet, e.g. "127.31.7." for 172.30.0.0/24. */
  readonly loopbackPrefix: string;
  /** Folder under which each named volume gets its own directory. */
  readonly volumeRoot: string;
  readonly repoRoot: string;
  /** Directory holding the programs the image has on PATH (node_modules/.bin). */
  readonly binDir: string;
}

function subnetPrefix(compose: ComposeFile): string {
  const nets = Object.values(compose.networks);
  if (nets.length !== 1) throw new Error(`expected one compose network, found ${nets.length}`);
  const subnet = nets[0].ipam?.config?.[0]?.subnet;
  const m = subnet ? /^(\d+\.\d+\.\d+\.)0\/24$/.exec(subnet) : null;
  if (!m) throw new Error(`the compose network needs an IPv4 /24 subnet (found ${subnet ?? 'none'})`);
  return m[1];
}

/** Everything that turns container-side text into local text, longest match first. */
function remapper(compose: ComposeFile, name: string, svc: ComposeService, r: Remap): (s: string) => string {
  const prefix = subnetPrefix(compose);
  const addressOf = (n: string): string => {
    const ip = Object.values(compose.services[n]?.networks ?? {})[0]?.ipv4_address;
    if (!ip?.startsWith(prefix)) throw new Error(`service ${n} has no ipv4_address in the compose subnet`);
    return r.loopbackPrefix + ip.slice(prefix.length);
  };
  const own = addressOf(name);
  const mounts: [string, string][] = (svc.volumes ?? []).map((v) => {
    const [src, dst] = v.split(':');
    // A bind mount (relative in the file, absolute in `docker-compose config` output) or a named volume.
    const local = src.startsWith('/') ? src : src.startsWith('.') ? path.resolve(r.repoRoot, src) : path.join(r.volumeRoot, src);
    return [dst, local];
  });
  const hosts = Object.keys(compose.services).sort((a, b) => b.length - a.length);
  const hostRe = new RegExp(`(^|[/@\\s=,])(${hosts.join('|')}):(\\d+)`, 'g');
  return (s) => {
    let out = s;
    // Listening on every interface of the container = listening on the service's own address.
    out = out.replace(/(^|[^\d.])0\.0\.0\.0:(\d+)/g, (_m, pre: string, port: string) => `${pre}${own}:${port}`);
    // Inside a container 127.0.0.1 is the container itself: here, the service's address.
    out = out.replace(/(^|[^\d.])127\.0\.0\.1(?=[:/])/g, (_m, pre: string) => `${pre}${own}`);
    out = out.replace(hostRe, (_m, pre: string, host: string, port: string) => `${pre}${addressOf(host)}:${port}`);
    out = out.split(prefix).join(r.loopbackPrefix);
    for (const [dst, local] of mounts) if (out === dst || out.startsWith(`${dst}/`)) out = local + out.slice(dst.length);
    return out;
  };
}

/** The compose services as local processes, in the file's order. */
export function localServices(compose: ComposeFile, r: Remap): LocalService[] {
  return Object.entries(compose.services).map(([name, svc]) => {
    const map = remapper(compose, name, svc, r);
    const address = map(Object.values(svc.networks ?? {})[0]?.ipv4_address ?? '');
    const command = (svc.command ?? []).map(map);
    let program: string;
    let args: string[];
    if (svc.image?.startsWith('nats:')) {
      // The nats image runs nats-server with the command as its arguments, listening on every
      // interface of the container.
      program = 'nats-server';
      args = [...command, '-a', address, '-p', '4222'];
    } else {
      if (command.length === 0) throw new Error(`service ${name} has no command`);
      [program, ...args] = command;
    }
    const env: Record<string, string> = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, map(String(v))]));
    // A container has a network namespace (and routing table) of its own; as local processes
    // the agents would share this machine's, where nothing may ever be programmed (the Linux
    // data plane refuses it under a test anyway). test/netns runs it inside namespaces.
    if (env.TABBY_DATAPLANE === 'linux') {
      env.TABBY_DATAPLANE = 'none';
      // Sharing one namespace, each agent listens for BGP on its own address only (in its
      // container bindMode None means every address of that container).
      env.TABBY_BGP_LISTEN = 'node-address';
    }
    const test = svc.healthcheck?.test;
    const health = test ? (test[0] === 'CMD' ? test.slice(1).map(map) : undefined) : undefined;
    if (test && !health) throw new Error(`service ${name}: healthcheck must use the CMD form`);
    return {
      name,
      address,
      program,
      args,
      env,
      health,
      dependsOn: Object.entries(svc.depends_on ?? {}).map(([service, d]) => ({ service, condition: d.condition })),
      oneShot: svc.restart === 'no',
    };
  });
}

/** Services in an order where each comes after what it depends on. */
export function startOrder(services: readonly LocalService[]): LocalService[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: LocalService[] = [];
  const visit = (s: LocalService, trail: string[]): void => {
    if (done.has(s.name)) return;
    if (trail.includes(s.name)) throw new Error(`depends_on cycle: ${[...trail, s.name].join(' -> ')}`);
    for (const d of s.dependsOn) {
      const dep = byName.get(d.service);
      if (!dep) throw new Error(`${s.name} depends on unknown service ${d.service}`);
      visit(dep, [...trail, s.name]);
    }
    done.add(s.name);
    out.push(s);
  };
  for (const s of services) visit(s, []);
  return out;
}

/** Seconds in a compose duration ("5s", "1m30s", "250ms"). */
export function durationSeconds(d: string | undefined, fallback: number): number {
  if (d === undefined) return fallback;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let m: RegExpExecArray | null;
  let matched = '';
  while ((m = re.exec(d)) !== null) {
    matched += m[0];
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  if (matched !== d) throw new Error(`not a compose duration: "${d}"`);
  return total;
}

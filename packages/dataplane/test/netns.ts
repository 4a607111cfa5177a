/**
 * Throwaway network namespaces for the Linux dataplane tests. Every namespace is created here
 * with a random `tdp-<hex>` name, every `ip` call names it (`ip -n NS …`), both ends of each
 * veth pair are created inside it (nothing is ever configured in this machine's namespace),
 * and IPv4 addresses come from 198.18.0.0/15 only. `removeAll()` (afterEach/afterAll) deletes
 * the namespaces, which takes their interfaces and routes with them; an exit hook does the
 * same if the runner dies first.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

const live = new Set<string>();
let hooked = false;

/** Fails with a clear message unless the tests run as root (they create namespaces). */
export function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('the Linux dataplane tests create network namespaces and must run as root (uid 0); run `npm test -w @tabby/dataplane` as root');
  }
}

/** Runs `ip ARGS` and returns stdout; throws with stderr on failure. */
function ipRun(args: readonly string[]): string {
  return execFileSync('ip', [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Namespace {
  readonly name: string;
  /** `ip -n NAME ARGS`, stdout. */
  ip(...args: string[]): string;
  /** `ip -n NAME -j ARGS`, parsed. */
  json<T>(...args: string[]): T;
}

/**
 * Creates a namespace with `lo` up and a veth pair `tv0`/`tv1` (both ends inside), up, with
 * 198.18.0.1/24 on tv0, 198.18.1.1/24 on tv1 and 2001:db8:0:1::1/64 (nodad) on tv0.
 */
export function createNamespace(): Namespace {
  if (!hooked) {
    hooked = true;
    process.on('exit', removeAll);
  }
  const name = `tdp-${randomBytes(4).toString('hex')}`;
  ipRun(['netns', 'add', name]);
  live.add(name);
  const ns: Namespace = {
    name,
    ip: (...args) => ipRun(['-n', name, ...args]),
    json: <T>(...args: string[]) => JSON.parse(ipRun(['-n', name, '-j', ...args]) || '[]') as T,
  };
  ns.ip('link', 'set', 'lo', 'up');
  ns.ip('link', 'add', 'tv0', 'type', 'veth', 'peer', 'name', 'tv1');
  ns.ip('link', 'set', 'tv0', 'up');
  ns.ip('link', 'set', 'tv1', 'up');
  ns.ip('addr', 'add', '198.18.0.1/24', 'dev', 'tv0');
  ns.ip('addr', 'add', '198.18.1.1/24', 'dev', 'tv1');
  ns.ip('-6', 'addr', 'add', '2001:db8:0:1::1/64', 'dev', 'tv0', 'nodad');
  return ns;
}

/**
 * Names the test process's own network namespace (the machine's: the tests run in it) as
 * `/run/netns/tdp-self-<hex>` with `ip netns attach NAME PID`, to prove the guard sees
 * through a name. Nothing is configured in it; `removeAll()` deletes the name only (the
 * namespace lives on: this process is in it).
 */
export function nameOwnNamespace(): string {
  const name = `tdp-self-${randomBytes(4).toString('hex')}`;
  ipRun(['netns', 'attach', name, String(process.pid)]);
  live.add(name);
  return name;
}

/** Deletes every namespace created here that still exists. */
export function removeAll(): void {
  for (const name of [...live]) {
    try {
      if (existsSync(`/run/netns/${name}`)) execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      live.delete(name);
    } catch {
      // Left in `live`, so leftOver() names it and the afterAll assertion fails.
    }
  }
}

/** Names of namespaces this helper created that still exist (for an afterAll assertion). */
export function leftOver(): string[] {
  return [...live].filter((n) => existsSync(`/run/netns/${n}`));
}

/** One route as `ip -N -j route show` prints it, with the keys the tests read. */
export interface ShownRoute {
  readonly dst: string;
  readonly type?: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
  readonly scope?: string;
  readonly flags?: readonly string[];
  readonly nexthops?: readonly { gateway?: string; dev?: string; flags?: readonly string[] }[];
}

/**
 * The namespace guard: under a test, the dataplane refuses to touch the routing table of the
 * machine's own network namespace (PID 1's, the kernel's initial one). Tests create network namespaces
 * and point the dataplane at them; a mistake there must fail loudly instead of rewriting the
 * routes of the machine the tests run on. Outside tests (the agent as a DaemonSet in the host
 * namespace) the guard lets everything through.
 */
import { statSync } from 'node:fs';
import { release } from 'node:os';
import { NamespaceGuardError } from './errors.js';

/** Environment variables the guard reads. */
export type GuardEnv = Readonly<Record<string, string | undefined>>;

export interface NamespaceCheckOptions {
  /** Target namespace (`ip -n NAME`); absent: this process's own namespace. */
  readonly netns?: string;
  /** Default `process.env`. */
  readonly env?: GuardEnv;
}

/** What the guard decided, for logs. */
export interface NamespaceCheck {
  /** True when running under a test (env `VITEST` or `TABBY_NETNS_GUARD` set) and so checked. */
  readonly guarded: boolean;
  readonly detail: string;
}

const PID1_NET = '/proc/1/ns/net';
const SELF_NET = '/proc/self/ns/net';

/**
 * The inode of the kernel's initial network namespace (`init_net`): fixed at 0xEFFFFFF9
 * (`PROC_NET_INIT_INO`) since Linux 6.18. Earlier kernels number it like any other namespace,
 * from 0xF0000000 up, so this number never names another namespace on any kernel.
 */
export const INIT_NET_INODE = 0xeffffff9;

/** True when this kernel (`uname -r`) gives the initial network namespace {@link INIT_NET_INODE}. */
function initNetInodeFixed(release: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m !== null && (Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 18));
}

/** True when the guard applies: env `VITEST` is set (vitest sets it) or `TABBY_NETNS_GUARD` is. */
export function underTest(env: GuardEnv = process.env): boolean {
  return env.VITEST !== undefined || env.TABBY_NETNS_GUARD !== undefined;
}

/**
 * The namespace `TABBY_NETNS_GUARD` names, if any: any value other than empty, `1` or
 * `true` is a namespace name (under `/run/netns`) the process must be in.
 */
function guardName(env: GuardEnv): string | undefined {
  const v = env.TABBY_NETNS_GUARD;
  return v === undefined || v === '' || v === '1' || v === 'true' ? undefined : v;
}

const PREFIX = "refusing to program routes in this machine's own network namespace under a test: ";

function inode(path: string, what: string): number {
  try {
    return statSync(path).ino;
  } catch (err) {
    throw new NamespaceGuardError(`${PREFIX}cannot read ${path} (${what}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A namespace known to be the machine's own, and how it is known. */
interface MachineNamespace {
  readonly inode: number;
  readonly what: string;
}

/**
 * The machine's own network namespace as far as it can be known: PID 1's (when this process
 * may read `/proc/1/ns/net`; a sandbox's PID 1 may forbid it even to root) and the kernel's
 * initial namespace (when the kernel numbers it {@link INIT_NET_INODE}). Throws when neither
 * can be known: then nothing proves a target is not the machine's.
 */
function machineNamespaces(): MachineNamespace[] {
  const found: MachineNamespace[] = [];
  let pid1Problem = '';
  try {
    const ino = statSync(PID1_NET).ino;
    found.push({ inode: ino, what: `the namespace of PID 1 (${PID1_NET}, inode ${ino})` });
  } catch (err) {
    pid1Problem = err instanceof Error ? err.message : String(err);
  }
  const kernel = release();
  if (initNetInodeFixed(kernel)) found.push({ inode: INIT_NET_INODE, what: `the kernel's initial network namespace (inode ${INIT_NET_INODE}, fixed since Linux 6.18)` });
  if (found.length === 0) {
    throw new NamespaceGuardError(`${PREFIX}cannot tell which namespace is the machine's: ${PID1_NET} cannot be read (${pid1Problem}) and this kernel (${kernel}) numbers the initial network namespace like any other (Linux 6.18 and later do not)`);
  }
  return found;
}

/**
 * Under a test, throws {@link NamespaceGuardError} unless the target network namespace is
 * provably not the machine's own (PID 1's, and the kernel's initial one where its number is
 * fixed): with `netns`, `/run/netns/NAME` must exist and be another namespace; without it,
 * this process must run in another namespace (and, if `TABBY_NETNS_GUARD=NAME`, in exactly
 * `/run/netns/NAME`). A netns given while `TABBY_NETNS_GUARD=NAME` must be that namespace
 * too. Outside tests it returns at once.
 */
export function checkNamespace(options: NamespaceCheckOptions = {}): NamespaceCheck {
  const env = options.env ?? process.env;
  if (!underTest(env)) return { guarded: false, detail: 'not under a test (neither VITEST nor TABBY_NETNS_GUARD is set)' };
  const machine = machineNamespaces();
  const named = guardName(env);
  let target: number;
  let targetText: string;
  if (options.netns !== undefined) {
    const path = `/run/netns/${options.netns}`;
    target = inode(path, `network namespace "${options.netns}" does not exist or cannot be read`);
    targetText = `netns "${options.netns}" (${path}, inode ${target})`;
  } else {
    target = inode(SELF_NET, "this process's network namespace");
    targetText = `this process's namespace (${SELF_NET}, inode ${target})`;
  }
  const same = machine.find((m) => m.inode === target);
  if (same) {
    const hint = options.netns === undefined ? '; give a netns the test created, or run the test under `ip netns exec NAME`' : '';
    throw new NamespaceGuardError(`${PREFIX}${targetText} is ${same.what}${hint}`);
  }
  if (named !== undefined) {
    const path = `/run/netns/${named}`;
    const want = inode(path, `the namespace TABBY_NETNS_GUARD=${named} names does not exist or cannot be read`);
    if (want !== target) throw new NamespaceGuardError(`${PREFIX}${targetText} is not ${path} (inode ${want}), the namespace TABBY_NETNS_GUARD=${named} requires`);
  }
  return { guarded: true, detail: `${targetText} is not ${machine.map((m) => m.what).join(' nor ')}` };
}

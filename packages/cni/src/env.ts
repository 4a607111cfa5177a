import { CniCode, CniError } from './cni-error.js';
import { parseCniArgs, type CniArgs } from './cni-args.js';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'] as const;
export type CniCommand = (typeof COMMANDS)[number];

/** The commands about no container (the spec requires only CNI_COMMAND and CNI_PATH for them). */
const NETWORK_COMMANDS: readonly CniCommand[] = ['VERSION', 'GC', 'STATUS'];

/** The CNI_* environment of one call, checked. */
export interface CniEnvironment {
  readonly command: CniCommand;
  /** The container; empty for VERSION, GC and STATUS, which are about the network. */
  readonly containerId: string;
  /** Path of the container's network namespace; empty for DEL (the namespace may be gone), VERSION, GC and STATUS. */
  readonly netns: string;
  /** CNI_IFNAME; empty for VERSION, GC and STATUS. */
  readonly ifname: string;
  readonly args: CniArgs;
  readonly path: readonly string[];
}

/** The specification's container ID: an alphanumeric, then alphanumerics, `_`, `.` or `-`. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Characters a netns path may hold here: it is written into `ip -batch` lines, which split on spaces. */
const NETNS_PATH = /^\/[A-Za-z0-9_.:@+/-]+$/;

/** Why `name` cannot be a Linux interface name (IFNAMSIZ 16 with the NUL), or undefined. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (Buffer.byteLength(name) > 15) return 'it is longer than 15 bytes';
  if (name === '.' || name === '..') return 'it is "." or ".."';
  if (/[/:\s]/.test(name)) return 'it contains "/", ":" or white space';
  return undefined;
}

function required(env: Readonly<Record<string, string | undefined>>, key: string, command: string): string {
  const v = env[key];
  if (v === undefined || v === '') throw new CniError(CniCode.InvalidEnvironment, `${key} must be set for ${command}`);
  return v;
}

/** Reads CNI_COMMAND alone (VERSION needs nothing else). */
export function parseCommand(env: Readonly<Record<string, string | undefined>>): CniCommand {
  const cmd = env.CNI_COMMAND;
  if (cmd === undefined || cmd === '') throw new CniError(CniCode.InvalidEnvironment, `CNI_COMMAND must be set (one of ${COMMANDS.join(', ')})`);
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    throw new CniError(CniCode.InvalidEnvironment, `CNI_COMMAND "${cmd}" is not supported: one of ${COMMANDS.join(', ')}`);
  }
  return cmd as CniCommand;
}

/**
 * Checks the environment of an ADD, DEL or CHECK: CNI_CONTAINERID, CNI_IFNAME and (except
 * for DEL) CNI_NETNS must be set and well formed, CNI_ARGS parse. CNI_PATH is read but
 * not needed: tabby-cni delegates to no other plugin. VERSION, GC and STATUS read nothing
 * but CNI_COMMAND and CNI_PATH (spec 1.1.0, section 2); other variables are ignored.
 */
export function parseEnvironment(env: Readonly<Record<string, string | undefined>>): CniEnvironment {
  const command = parseCommand(env);
  if (NETWORK_COMMANDS.includes(command)) {
    const path = command === 'VERSION' ? [] : (env.CNI_PATH ?? '').split(':').filter((p) => p !== '');
    return { command, containerId: '', netns: '', ifname: '', args: { ignoreUnknown: false, ignored: [] }, path };
  }
  const containerId = required(env, 'CNI_CONTAINERID', command);
  if (!CONTAINER_ID.test(containerId)) {
    throw new CniError(CniCode.InvalidEnvironment, `CNI_CONTAINERID "${containerId}" is not a container ID: a letter or digit, then letters, digits, "_", "." or "-"`);
  }
  const ifname = required(env, 'CNI_IFNAME', command);
  const ifProblem = interfaceNameProblem(ifname);
  if (ifProblem !== undefined) throw new CniError(CniCode.InvalidEnvironment, `CNI_IFNAME "${ifname}" is not an interface name: ${ifProblem}`);
  const netns = command === 'DEL' ? (env.CNI_NETNS ?? '') : required(env, 'CNI_NETNS', command);
  if (netns !== '' && !NETNS_PATH.test(netns)) {
    throw new CniError(CniCode.InvalidEnvironment, `CNI_NETNS "${netns}" must be an absolute path of letters, digits and "_.:@+/-"`);
  }
  const args = parseCniArgs(env.CNI_ARGS);
  const path = (env.CNI_PATH ?? '').split(':').filter((p) => p !== '');
  return { command, containerId, netns, ifname, args, path };
}

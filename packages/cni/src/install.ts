/**
 * `tabby-cni install`: what Calico's install-cni init container does, for tabby-cni. It copies
 * the plugin executable into the node's CNI binary directory and writes a conflist into its
 * CNI config directory (both usually host paths mounted under /host), then exits. Run once per
 * start of the agent's pod, as an init container; safe to run again at any time:
 *
 * - every file is written beside its target and renamed over it, so a runtime that runs the
 *   plugin or reads the conflist at that moment sees the old file or the new one, never half;
 * - the binary goes first, is run (`VERSION`) from where it was put, and only then is the
 *   conflist written: a runtime never sees a network whose plugin is missing;
 * - the conflist is checked by the plugin's own parser before anything is written, and an
 *   unchanged file is left alone (no needless rename, so no needless runtime reload).
 *
 * Settings come from flags or the environment variables Calico's installer reads (CNI_NET_DIR,
 * CNI_CONF_NAME, CNI_NETWORK_CONFIG, CNI_MTU, KUBERNETES_NODE_NAME, …) and Tabby's (TABBY_STORE,
 * TABBY_IPAM, TABBY_TLS_*): see INSTALL_USAGE.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { chmodSync, closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LOG_LEVELS, parseHostPort, type Logger } from '@tabby/runtime';
import { isCniError } from './cni-error.js';
import { DEFAULT_IPAM, DEFAULT_STORE, PLUGIN_TYPE, POD_ANNOTATIONS_CAPABILITY, parseNetworkConfig } from './config.js';
import { CURRENT_VERSION, LATEST_VERSION, SUPPORTED_VERSIONS, isSupportedVersion } from './versions.js';

export const INSTALL_USAGE = `Usage: tabby-cni install [options]

Copies the tabby-cni executable into the CNI binary directory and writes a conflist into the
CNI config directory, then exits (the agent DaemonSet's init container runs it). Each option can
also be set by the environment variable after it; a flag wins.

  --bin-dir DIR          CNI_BIN_DIR           where the plugin goes (/host/opt/cni/bin)
  --conf-dir DIR         CNI_NET_DIR           where the conflist goes (/host/etc/cni/net.d)
  --host-conf-dir DIR    HOST_CNI_NET_DIR      --conf-dir as the node sees it, for the TLS file
                                               paths in the conflist (--conf-dir without /host)
  --conf-name NAME       CNI_CONF_NAME         the conflist's file name (10-tabby.conflist)
  --network-name NAME    CNI_NETWORK_NAME      the network name, IPAM handles' prefix (k8s-pod-network)
  --node NAME            KUBERNETES_NODE_NAME  the Node resource (else the plugin uses the host name)
  --store HOST:PORT      TABBY_STORE           tabby-store as the node reaches it (127.0.0.1:50051)
  --ipam HOST:PORT       TABBY_IPAM            tabby-ipam as the node reaches it (127.0.0.1:50052)
  --mtu N                CNI_MTU               MTU of the containers' veth pairs (kernel default)
  --assign-ipv6          CNI_ASSIGN_IPV6=true  give containers an IPv6 address too
  --log-level LEVEL      CNI_LOG_LEVEL         the plugin's log level (info)
  --log-file FILE        CNI_LOG_FILE          the plugin's log file on the node (/var/log/tabby/cni.log)
  --tls-ca FILE          TABBY_TLS_CA          CA of the services' certificates: copied beside the
  --tls-cert FILE        TABBY_TLS_CERT        conflist (tabby-tls/) with the client certificate
  --tls-key FILE         TABBY_TLS_KEY         and key, and named in it; the calls then use TLS
  --template FILE        CNI_NETWORK_CONFIG_FILE  a conflist with placeholders instead of the built-in one;
                         CNI_NETWORK_CONFIG       or the template itself (placeholders: __KUBERNETES_NODE_NAME__,
                         __CNI_NETWORK_NAME__, __TABBY_STORE__, __TABBY_IPAM__, __CNI_MTU__, __LOG_LEVEL__,
                         __LOG_FILE_PATH__, __TABBY_TLS_DIR__)
  --no-resolve           TABBY_CNI_RESOLVE=false  keep host names in --store/--ipam instead of writing
                                               their addresses (a node often cannot resolve cluster names)
  --resolve-timeout S    TABBY_CNI_RESOLVE_TIMEOUT  how long to retry a name that does not resolve (120)
  --skip-binary          TABBY_CNI_SKIP_BINARY=true  write the conflist only
  --source FILE          TABBY_CNI_SOURCE      the executable to copy (this one when it is the single
                                               executable, else dist/sea/tabby-cni beside the bundle)
  -h, --help
`;

/** Placeholders a template may hold (Calico's installer has the first). */
export const TEMPLATE_PLACEHOLDERS = [
  '__KUBERNETES_NODE_NAME__',
  '__CNI_NETWORK_NAME__',
  '__TABBY_STORE__',
  '__TABBY_IPAM__',
  '__CNI_MTU__',
  '__LOG_LEVEL__',
  '__LOG_FILE_PATH__',
  '__TABBY_TLS_DIR__',
] as const;

export const DEFAULT_CONF_NAME = '10-tabby.conflist';
export const DEFAULT_NETWORK_NAME = 'k8s-pod-network';
const TLS_DIR = 'tabby-tls';

export interface InstallOptions {
  readonly binDir: string;
  readonly confDir: string;
  readonly hostConfDir: string;
  readonly confName: string;
  readonly networkName: string;
  readonly node: string | undefined;
  readonly store: string;
  readonly ipam: string;
  readonly mtu: number | undefined;
  readonly assignIpv6: boolean;
  readonly logLevel: string;
  readonly logFile: string;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** The template text (from --template or CNI_NETWORK_CONFIG); undefined: the built-in conflist. */
  readonly template: { readonly text: string; readonly from: string } | undefined;
  readonly resolve: boolean;
  readonly resolveTimeoutMs: number;
  readonly skipBinary: boolean;
  readonly source: string | undefined;
}

/** A bad option or template, a file that cannot be written: the message says which and where. */
export class InstallError extends Error {
  override readonly name = 'InstallError';
}

type Env = Readonly<Record<string, string | undefined>>;

const BOOL_TRUE = new Set(['1', 'true', 'yes', 'on']);
const BOOL_FALSE = new Set(['0', 'false', 'no', 'off', '']);

function envBool(env: Env, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined) return fallback;
  const lower = v.trim().toLowerCase();
  if (BOOL_TRUE.has(lower)) return true;
  if (BOOL_FALSE.has(lower)) return false;
  throw new InstallError(`${name}=${JSON.stringify(v)}: expected true or false`);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/** Parses `tabby-cni install` arguments (after `install`) and the environment. Throws InstallError. */
export function parseInstallOptions(args: readonly string[], env: Env): InstallOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        'bin-dir': { type: 'string' },
        'conf-dir': { type: 'string' },
        'host-conf-dir': { type: 'string' },
        'conf-name': { type: 'string' },
        'network-name': { type: 'string' },
        node: { type: 'string' },
        store: { type: 'string' },
        ipam: { type: 'string' },
        mtu: { type: 'string' },
        'assign-ipv6': { type: 'boolean' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        'tls-ca': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        template: { type: 'string' },
        'no-resolve': { type: 'boolean' },
        'resolve-timeout': { type: 'string' },
        'skip-binary': { type: 'boolean' },
        source: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new InstallError(`${err instanceof Error ? err.message : String(err)} (tabby-cni install --help lists the options)`);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';

  const pick = (flag: string | undefined, ...names: string[]): string | undefined => {
    const f = nonEmpty(flag);
    if (f !== undefined) return f;
    for (const n of names) {
      const e = nonEmpty(env[n]);
      if (e !== undefined) return e;
    }
    return undefined;
  };

  const confDir = pick(v['conf-dir'], 'CNI_NET_DIR') ?? '/host/etc/cni/net.d';
  const hostConfDir = pick(v['host-conf-dir'], 'HOST_CNI_NET_DIR') ?? (confDir.startsWith('/host/') ? confDir.slice('/host'.length) : confDir);
  const confName = pick(v['conf-name'], 'CNI_CONF_NAME') ?? DEFAULT_CONF_NAME;
  if (confName.includes('/') || !/\.(conflist|conf|json)$/.test(confName)) {
    throw new InstallError(`--conf-name ${JSON.stringify(confName)}: a file name ending in .conflist (runtimes read .conflist, .conf and .json)`);
  }

  const address = (flag: string | undefined, envName: string, fallback: string, option: string): string => {
    const raw = pick(flag, envName) ?? fallback;
    const hp = parseHostPort(raw);
    if ('error' in hp) throw new InstallError(`--${option} ${JSON.stringify(raw)} (or ${envName}): ${hp.error}`);
    return raw;
  };

  const mtuRaw = pick(v.mtu, 'CNI_MTU');
  let mtu: number | undefined;
  if (mtuRaw !== undefined) {
    mtu = Number(mtuRaw);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new InstallError(`--mtu ${JSON.stringify(mtuRaw)} (or CNI_MTU): an integer 68-65535`);
  }

  const logLevel = pick(v['log-level'], 'CNI_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel) && logLevel !== 'warning' && logLevel !== 'none') {
    throw new InstallError(`--log-level ${JSON.stringify(logLevel)} (or CNI_LOG_LEVEL): one of ${LOG_LEVELS.join(', ')}`);
  }

  const timeoutRaw = pick(v['resolve-timeout'], 'TABBY_CNI_RESOLVE_TIMEOUT') ?? '120';
  const timeout = Number(timeoutRaw);
  if (!Number.isFinite(timeout) || timeout < 0) throw new InstallError(`--resolve-timeout ${JSON.stringify(timeoutRaw)}: seconds, 0 or more`);

  const tls = { ca: pick(v['tls-ca'], 'TABBY_TLS_CA'), cert: pick(v['tls-cert'], 'TABBY_TLS_CERT'), key: pick(v['tls-key'], 'TABBY_TLS_KEY') };
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw new InstallError('--tls-cert and --tls-key go together (TABBY_TLS_CERT, TABBY_TLS_KEY)');
  if (tls.cert !== undefined && tls.ca === undefined) throw new InstallError('--tls-cert needs --tls-ca (TABBY_TLS_CA): the CA that signed the services');

  const templateFile = pick(v.template, 'CNI_NETWORK_CONFIG_FILE');
  let template: InstallOptions['template'];
  if (templateFile !== undefined) {
    try {
      template = { text: readFileSync(templateFile, 'utf8'), from: templateFile };
    } catch (err) {
      throw new InstallError(`--template ${templateFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  } else if (nonEmpty(env.CNI_NETWORK_CONFIG) !== undefined) {
    template = { text: env.CNI_NETWORK_CONFIG ?? '', from: 'CNI_NETWORK_CONFIG' };
  }

  return {
    binDir: pick(v['bin-dir'], 'CNI_BIN_DIR') ?? '/host/opt/cni/bin',
    confDir,
    hostConfDir,
    confName,
    networkName: pick(v['network-name'], 'CNI_NETWORK_NAME') ?? DEFAULT_NETWORK_NAME,
    node: pick(v.node, 'KUBERNETES_NODE_NAME', 'TABBY_NODE'),
    store: address(v.store, 'TABBY_STORE', DEFAULT_STORE, 'store'),
    ipam: address(v.ipam, 'TABBY_IPAM', DEFAULT_IPAM, 'ipam'),
    mtu,
    assignIpv6: v['assign-ipv6'] === true || envBool(env, 'CNI_ASSIGN_IPV6', false),
    logLevel,
    logFile: pick(v['log-file'], 'CNI_LOG_FILE') ?? '/var/log/tabby/cni.log',
    tls,
    template,
    resolve: v['no-resolve'] === true ? false : envBool(env, 'TABBY_CNI_RESOLVE', true),
    resolveTimeoutMs: timeout * 1000,
    skipBinary: v['skip-binary'] === true || envBool(env, 'TABBY_CNI_SKIP_BINARY', false),
    source: pick(v.source, 'TABBY_CNI_SOURCE'),
  };
}

/** The built-in conflist: one tabby-cni plugin, as the README's example. */
function builtInConflist(o: InstallOptions, store: string, ipam: string, tlsDir: string | undefined): Record<string, unknown> {
  const tabby: Record<string, unknown> = { store, ipam };
  if (tlsDir !== undefined) {
    tabby.tls = { ca: path.posix.join(tlsDir, 'ca.crt'), ...(o.tls.cert !== undefined ? { cert: path.posix.join(tlsDir, 'tls.crt'), key: path.posix.join(tlsDir, 'tls.key') } : {}) };
  }
  return {
    cniVersion: CURRENT_VERSION,
    // A runtime whose libcni knows 1.1.0 (GC, STATUS) takes the newest it speaks; older ones
    // ignore the key and use cniVersion.
    cniVersions: [CURRENT_VERSION, LATEST_VERSION],
    name: o.networkName,
    plugins: [
      {
        type: PLUGIN_TYPE,
        ...(o.node !== undefined ? { nodename: o.node } : {}),
        ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
        log_level: o.logLevel,
        log_file_path: o.logFile,
        ipam: { type: 'tabby-ipam', assign_ipv4: 'true', assign_ipv6: o.assignIpv6 ? 'true' : 'false' },
        tabby,
        capabilities: { [POD_ANNOTATIONS_CAPABILITY]: true },
      },
    ],
  };
}

/** Line and column of a character offset, for template errors. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/**
 * The conflist text for these options, checked: JSON, a `plugins` list (or one plugin config)
 * holding exactly one `tabby-cni` entry that the plugin's own parser accepts with the list's
 * `cniVersion` and `name`, and no placeholder left. Throws InstallError naming what and where.
 */
export function renderConflist(o: InstallOptions, store: string, ipam: string): string {
  const tlsDir = o.tls.ca !== undefined ? path.posix.join(o.hostConfDir, TLS_DIR) : undefined;
  let text: string;
  const from = o.template?.from ?? 'the built-in conflist';
  if (o.template === undefined) {
    text = `${JSON.stringify(builtInConflist(o, store, ipam, tlsDir), null, 2)}\n`;
  } else {
    const values: Record<(typeof TEMPLATE_PLACEHOLDERS)[number], string | undefined> = {
      __KUBERNETES_NODE_NAME__: o.node,
      __CNI_NETWORK_NAME__: o.networkName,
      __TABBY_STORE__: store,
      __TABBY_IPAM__: ipam,
      __CNI_MTU__: o.mtu === undefined ? undefined : String(o.mtu),
      __LOG_LEVEL__: o.logLevel,
      __LOG_FILE_PATH__: o.logFile,
      __TABBY_TLS_DIR__: tlsDir,
    };
    text = o.template.text;
    for (const [name, value] of Object.entries(values)) {
      if (!text.includes(name)) continue;
      if (value === undefined) {
        const what = name === '__KUBERNETES_NODE_NAME__' ? '--node (KUBERNETES_NODE_NAME)' : name === '__CNI_MTU__' ? '--mtu (CNI_MTU)' : '--tls-ca (TABBY_TLS_CA)';
        throw new InstallError(`${from}: ${name} at ${lineCol(text, text.indexOf(name))} needs ${what}, which is not set`);
      }
      text = text.split(name).join(value);
    }
    const left = /__[A-Z][A-Z0-9_]*__/.exec(text);
    if (left) throw new InstallError(`${from}: unknown placeholder ${left[0]} at ${lineCol(text, left.index)} (known: ${TEMPLATE_PLACEHOLDERS.join(', ')})`);
    if (!text.endsWith('\n')) text += '\n';
  }

  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec(err instanceof Error ? err.message : '');
    throw new InstallError(`${from} is not JSON${m ? ` at ${lineCol(text, Number(m[1]))}` : ''}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof list !== 'object' || list === null || Array.isArray(list)) throw new InstallError(`${from}: must be a JSON object`);
  const obj = list as Record<string, unknown>;
  const plugins = obj.plugins === undefined ? [obj] : obj.plugins;
  if (!Array.isArray(plugins)) throw new InstallError(`${from}: plugins must be a list`);
  const ours = plugins.flatMap((p, i) => (typeof p === 'object' && p !== null && (p as Record<string, unknown>).type === PLUGIN_TYPE ? [{ p: p as Record<string, unknown>, i }] : []));
  if (ours.length !== 1) throw new InstallError(`${from}: plugins must hold exactly one entry of type ${PLUGIN_TYPE} (found ${ours.length})`);
  const entry = ours[0];
  if (entry === undefined) throw new InstallError(`${from}: no ${PLUGIN_TYPE} entry`);
  // cniVersions (spec 1.1): the runtime picks the newest it speaks, so each must be ours.
  const versions: unknown[] = [];
  if (obj.cniVersions !== undefined) {
    if (!Array.isArray(obj.cniVersions) || obj.cniVersions.length === 0) throw new InstallError(`${from}: cniVersions must be a non-empty list of versions`);
    obj.cniVersions.forEach((v: unknown, i) => {
      if (!isSupportedVersion(v)) throw new InstallError(`${from}: cniVersions[${i}] ${JSON.stringify(v)} is not a version tabby-cni speaks (${SUPPORTED_VERSIONS.join(', ')})`);
      versions.push(v);
    });
  }
  try {
    // What the runtime will hand the plugin: the entry with the list's name and each version
    // the runtime may choose.
    for (const v of [...(obj.cniVersion !== undefined || versions.length === 0 ? [obj.cniVersion] : []), ...versions])
      parseNetworkConfig(JSON.stringify({ ...entry.p, cniVersion: v, name: obj.name }));
  } catch (err) {
    if (isCniError(err)) throw new InstallError(`${from}: plugins[${entry.i}]: ${err.message}${err.details ? ` (${err.details})` : ''}`);
    throw err;
  }
  return text;
}

/** HOST:PORT with the host resolved to an address (IPv4 first), retrying until the deadline. */
export async function resolveAddress(hostPort: string, timeoutMs: number, logger: Logger, what: string): Promise<string> {
  const hp = parseHostPort(hostPort);
  if ('error' in hp) throw new InstallError(`${what} ${hostPort}: ${hp.error}`);
  const { host, port } = hp.value;
  if (isIP(host) !== 0) return hostPort;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const { address, family } = await lookup(host, { order: 'ipv4first' });
      const resolved = family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
      logger.info({ what, given: hostPort, address: resolved }, 'resolved');
      return resolved;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (Date.now() >= deadline) {
        throw new InstallError(`${what} ${hostPort}: ${host} does not resolve (${code}) after ${Math.round(timeoutMs / 1000)} s; give an address the node can reach, or --no-resolve`);
      }
      logger.info({ what, given: hostPort, error: code, attempt }, 'waiting for the name to resolve');
      await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(0, deadline - Date.now()))));
    }
  }
}

const sha256 = (file: string): string | undefined => {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
};

/** Writes `data` to `target` by way of a file beside it, fsynced and renamed over it. Returns false when the target already held exactly that. */
function writeAtomically(target: string, data: Buffer | string, mode: number): boolean {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  try {
    if (readFileSync(target).equals(bytes) && (statSync(target).mode & 0o777) === mode) return false;
  } catch {
    // absent or unreadable: write it
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new InstallError(`cannot write ${target}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return true;
}

/** Copies an executable the same way (compared by hash first: 100 MiB are not rewritten for nothing). */
function installExecutable(source: string, target: string): boolean {
  const want = sha256(source);
  if (want === undefined) throw new InstallError(`cannot read the executable ${source}`);
  if (sha256(target) === want && (statSync(target).mode & 0o777) === 0o755) return false;
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    copyFileSync(source, tmp);
    chmodSync(tmp, 0o755);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new InstallError(`cannot install ${target}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return true;
}

function ensureDir(dir: string, what: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new InstallError(`cannot create ${what} ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

export interface InstallReport {
  readonly binary: string | undefined;
  readonly binaryChanged: boolean;
  readonly conflist: string;
  readonly conflistChanged: boolean;
  readonly store: string;
  readonly ipam: string;
}

/**
 * Installs: resolve the addresses, render and check the conflist, copy the TLS files, put the
 * executable in place and run it, then write the conflist. `source` is the executable to copy
 * (undefined with skipBinary).
 */
export async function install(o: InstallOptions, source: string | undefined, logger: Logger): Promise<InstallReport> {
  const store = o.resolve ? await resolveAddress(o.store, o.resolveTimeoutMs, logger, '--store') : o.store;
  const ipam = o.resolve ? await resolveAddress(o.ipam, o.resolveTimeoutMs, logger, '--ipam') : o.ipam;
  const text = renderConflist(o, store, ipam);

  ensureDir(o.confDir, 'the CNI config directory');
  if (o.tls.ca !== undefined) {
    const dir = path.join(o.confDir, TLS_DIR);
    ensureDir(dir, 'the TLS directory');
    const files: [string | undefined, string, number][] = [
      [o.tls.ca, 'ca.crt', 0o644],
      [o.tls.cert, 'tls.crt', 0o644],
      [o.tls.key, 'tls.key', 0o600],
    ];
    for (const [from, name, mode] of files) {
      if (from === undefined) continue;
      let data: Buffer;
      try {
        data = readFileSync(from);
      } catch (err) {
        throw new InstallError(`cannot read ${from}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      writeAtomically(path.join(dir, name), data, mode);
    }
  }

  let binary: string | undefined;
  let binaryChanged = false;
  if (!o.skipBinary) {
    if (source === undefined) throw new InstallError('no executable to install: --source, or --skip-binary');
    ensureDir(o.binDir, 'the CNI binary directory');
    binary = path.join(o.binDir, PLUGIN_TYPE);
    binaryChanged = installExecutable(source, binary);
    const run = spawnSync(binary, [], { env: { CNI_COMMAND: 'VERSION', PATH: process.env.PATH }, encoding: 'utf8', timeout: 30_000 });
    if (run.status !== 0 || !run.stdout.includes('supportedVersions')) {
      throw new InstallError(`${binary} does not run here (VERSION): ${run.error?.message ?? (run.stderr || run.stdout || `exit ${String(run.status)}`).trim()}; the conflist was not written`);
    }
    logger.info({ binary, changed: binaryChanged, version: (JSON.parse(run.stdout) as { supportedVersions?: unknown }).supportedVersions }, binaryChanged ? 'plugin installed' : 'plugin already installed');
  }

  const conflist = path.join(o.confDir, o.confName);
  const conflistChanged = writeAtomically(conflist, text, 0o644);
  logger.info({ conflist, changed: conflistChanged, store, ipam, node: o.node }, conflistChanged ? 'conflist written' : 'conflist unchanged');
  return { binary, binaryChanged, conflist, conflistChanged, store, ipam };
}

import { isDNSSubdomain, parseCIDR, parseIP } from '@tabby/api';
import { DEFAULT_ROUTE_PROTOCOL, MAIN_ROUTE_TABLE, routeProtocolProblem, routeTableProblem } from '@tabby/dataplane';
import { LOG_LEVELS, parseHostPort, type LogLevel } from '@tabby/runtime';
import { CniCode, CniError } from './cni-error.js';
import { CURRENT_VERSION, isSupportedVersion, SUPPORTED_VERSIONS, type CniVersion } from './versions.js';

/** The plugin's `type`, as runtimes find its binary in CNI_PATH. */
export const PLUGIN_TYPE = 'tabby-cni';
/** tabby-store's default address (tabby-store --listen). */
export const DEFAULT_STORE = '127.0.0.1:50051';
/** tabby-ipam's default address (tabby-ipam --listen). */
export const DEFAULT_IPAM = '127.0.0.1:50052';
export const DEFAULT_TIMEOUT_SECONDS = 15;
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn';
/** The pod annotations Calico reads for the pools to take addresses from. */
export const IPV4_POOLS_ANNOTATION = 'cni.projectcalico.org/ipv4pools';
export const IPV6_POOLS_ANNOTATION = 'cni.projectcalico.org/ipv6pools';
/** Calico's pod annotation for fixed addresses: a JSON list of at most one IPv4 and one IPv6 address. */
export const IP_ADDRS_ANNOTATION = 'cni.projectcalico.org/ipAddrs';
/** Key of `args.cni` with the labels of the pod's namespace (for the pools' namespaceSelector). */
export const NAMESPACE_LABELS_ARG = 'namespace_labels';
/** The runtimeConfig key containerd and CRI-O fill with the pod's annotations (capability `io.kubernetes.cri.pod-annotations`). */
export const POD_ANNOTATIONS_CAPABILITY = 'io.kubernetes.cri.pod-annotations';

/** Keys of `ipam` and `tabby` tabby-cni understands (others are an error: a typo must not pass silently). */
export const IPAM_KEYS = ['type', 'ipv4_pools', 'ipv6_pools', 'assign_ipv4', 'assign_ipv6'] as const;
export const TABBY_KEYS = ['store', 'ipam', 'tls', 'timeout_seconds', 'route_table', 'route_protocol'] as const;
export const TLS_KEYS = ['ca', 'cert', 'key'] as const;

/** Where GC's config carries the attachments still valid (spec 1.1.0, section 2, `GC`). */
export const VALID_ATTACHMENTS_KEY = 'cni.dev/valid-attachments';
/** The name the 1.1.0 spec text first gave that key; libcni 1.2.3 and later set both. */
export const LEGACY_ATTACHMENTS_KEY = 'cni.dev/attachments';

/** One attachment a runtime still knows: what it passed as CNI_CONTAINERID and CNI_IFNAME to ADD. */
export interface Attachment {
  readonly containerId: string;
  readonly ifname: string;
}

/** TLS files for the gRPC calls to tabby-ipam and tabby-store; none: plaintext. */
export interface TlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Where the pools of this call came from, for logs and error messages. */
export type PoolSource = 'annotation' | 'config' | 'none';

/** A network config, checked, with defaults filled in. */
export interface NetworkConfig {
  readonly cniVersion: CniVersion;
  readonly name: string;
  /** The node's name in Tabby; undefined here means the host name (filled by the caller). */
  readonly nodename: string | undefined;
  readonly mtu: number | undefined;
  readonly ipam: {
    readonly ipv4Pools: readonly string[];
    readonly ipv6Pools: readonly string[];
    readonly assignIpv4: boolean;
    readonly assignIpv6: boolean;
    readonly ipv4PoolSource: PoolSource;
    readonly ipv6PoolSource: PoolSource;
    /** Fixed addresses from the ipAddrs annotation (canonical text); empty: none. */
    readonly ipAddrs: readonly string[];
    /** Labels of the pod's namespace (`args.cni.namespace_labels`). */
    readonly namespaceLabels: Readonly<Record<string, string>>;
  };
  readonly tabby: {
    readonly store: string;
    readonly ipam: string;
    readonly tls: TlsFiles;
    readonly timeoutMs: number;
    readonly routeTable: number;
    readonly routeProtocol: number;
  };
  readonly logLevel: LogLevel;
  readonly logFilePath: string | undefined;
  /** `prevResult` as given (CHECK, DEL, chained plugins); parsed by the command that needs it. */
  readonly prevResult: Record<string, unknown> | undefined;
  /** `dns` as given: copied into the ADD result. */
  readonly dns: Record<string, unknown> | undefined;
  /** The attachments GC must keep (`cni.dev/valid-attachments`); undefined when the config has none. */
  readonly validAttachments: readonly Attachment[] | undefined;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const invalid = (msg: string, details = ''): CniError => new CniError(CniCode.InvalidNetworkConfig, msg, details);

function optionalObject(parent: Json, key: string, where: string): Json | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid(`${where}${key} must be a JSON object`);
  return v;
}

function optionalString(parent: Json, key: string, where: string): string | undefined {
  const v = parent[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') throw invalid(`${where}${key} must be a non-empty string`);
  return v;
}

function rejectUnknown(obj: Json, known: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) {
      throw new CniError(CniCode.UnsupportedField, `unsupported field ${where}${k}: ${JSON.stringify(obj[k])}`, `tabby-cni understands ${known.map((x) => where + x).join(', ')}`);
    }
  }
}

/** Calico writes `assign_ipv4: "true"`; booleans are accepted too. */
function boolish(v: unknown, key: string, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw invalid(`ipam.${key} must be "true" or "false", got ${JSON.stringify(v)}`);
}

/** Why `pool` cannot name a pool of `family` (a pool name, or a CIDR of that family), or undefined. */
export function poolProblem(pool: string, family: 4 | 6): string | undefined {
  if (pool.includes('/')) {
    const c = parseCIDR(pool);
    if (!c) return `"${pool}" is not a CIDR`;
    if (c.family !== family) return `"${pool}" is not an IPv${family} CIDR`;
    return undefined;
  }
  return isDNSSubdomain(pool) ? undefined : `"${pool}" is neither an IPPool name nor a CIDR`;
}

function poolList(v: unknown, where: string, family: 4 | 6): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) throw invalid(`${where} must be a list of IPPool names or CIDRs`);
  for (const p of v) {
    const problem = poolProblem(p, family);
    if (problem !== undefined) throw invalid(`${where}: ${problem}`);
  }
  return [...v];
}

/**
 * A pool annotation's value: Calico's is a JSON list in a string (`'["pool-a","pool-b"]'`);
 * in `args.cni` a plain list is accepted too.
 */
function annotationPools(v: unknown, where: string, family: 4 | 6): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  return poolList(jsonListText(v, where, 'IPPool names or CIDRs, e.g. ["pool-a"]'), where, family);
}

/** An annotation's value as Calico writes it (a JSON list in a string) or, in args.cni, as the list itself. */
function jsonListText(v: unknown, where: string, what: string): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw invalid(`${where} must be a JSON list of ${what}, got ${JSON.stringify(v)}`);
  }
}

/** The ipAddrs annotation (Calico's): a JSON list (or, in args.cni, a list) of IP addresses, at most one per family. */
function annotationAddresses(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = jsonListText(v, where, 'IP addresses, e.g. ["192.168.0.5"]');
  if (!Array.isArray(list) || !list.every((x): x is string => typeof x === 'string')) throw invalid(`${where} must be a list of IP addresses, got ${JSON.stringify(v)}`);
  const out: string[] = [];
  const families = new Set<number>();
  for (const text of list) {
    const ip = parseIP(text.trim());
    if (!ip) throw invalid(`${where}: "${text}" is not an IP address`);
    if (families.has(ip.family)) throw invalid(`${where}: cannot have more than one IPv${ip.family} address`);
    families.add(ip.family);
    out.push(ip.text);
  }
  return out;
}

/** Namespace labels: an object of strings, or that as a JSON string. */
function labelMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  let obj: unknown = v;
  if (typeof v === 'string') {
    try {
      obj = JSON.parse(v) as unknown;
    } catch {
      throw invalid(`${where} must be a JSON object of labels, e.g. {"team":"blue"}, got ${JSON.stringify(v)}`);
    }
  }
  if (!isObject(obj) || !Object.values(obj).every((x) => typeof x === 'string')) throw invalid(`${where} must be an object of label values (strings), got ${JSON.stringify(v)}`);
  return obj as Record<string, string>;
}

function address(v: string | undefined, key: string, fallback: string): string {
  if (v === undefined) return fallback;
  const parsed = parseHostPort(v);
  if ('error' in parsed) throw invalid(`tabby.${key} "${v}": ${parsed.error}`);
  return parsed.value.text;
}

function integer(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${key} must be a whole number, got ${JSON.stringify(v)}`);
  return v;
}

function logLevel(v: unknown): LogLevel {
  if (v === undefined || v === null || v === '') return DEFAULT_LOG_LEVEL;
  const t = typeof v === 'string' ? v.toLowerCase() : '';
  // Calico's configs say "warning" (logrus).
  const level = t === 'warning' ? 'warn' : t === 'none' ? 'silent' : t;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw invalid(`log_level ${JSON.stringify(v)} is not one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

/**
 * The valid attachments of a GC config: `cni.dev/valid-attachments` (or the older
 * `cni.dev/attachments`), a list of `{containerID, ifname}`. Anything malformed is refused:
 * GC releases what is not listed, so a list it cannot read must not pass for a short one.
 */
function validAttachments(raw: Json): Attachment[] | undefined {
  const key = [VALID_ATTACHMENTS_KEY, LEGACY_ATTACHMENTS_KEY].find((k) => raw[k] !== undefined && raw[k] !== null);
  if (key === undefined) return undefined;
  const list = raw[key];
  if (!Array.isArray(list)) throw invalid(`${key} must be a list of {"containerID", "ifname"} objects, got ${JSON.stringify(list)}`);
  return list.map((item: unknown, i) => {
    const where = `${key}[${i}]`;
    if (!isObject(item)) throw invalid(`${where} must be a {"containerID", "ifname"} object, got ${JSON.stringify(item)}`);
    const { containerID, ifname } = item;
    if (typeof containerID !== 'string' || containerID === '') throw invalid(`${where}.containerID must be a non-empty string, got ${JSON.stringify(containerID)}`);
    if (ifname !== undefined && typeof ifname !== 'string') throw invalid(`${where}.ifname must be a string, got ${JSON.stringify(ifname)}`);
    return { containerId: containerID, ifname: ifname ?? '' };
  });
}

/** The cniVersion of a config as far as it can be read, for error JSON printed before the config is checked. */
export function versionOf(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return isSupportedVersion(v) ? v : CURRENT_VERSION;
  } catch {
    return CURRENT_VERSION;
  }
}

/**
 * Parses and checks the network config a runtime writes on stdin. Undecodable JSON is
 * {@link CniCode.DecodingFailure}; an unsupported cniVersion {@link CniCode.IncompatibleVersion};
 * an unknown key under `ipam` or `tabby` {@link CniCode.UnsupportedField}; anything else
 * wrong {@link CniCode.InvalidNetworkConfig}. Unknown top-level keys are ignored (runtimes
 * and other plugins of a conflist add their own).
 */
export function parseNetworkConfig(stdin: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin) as unknown;
  } catch (err) {
    throw new CniError(CniCode.DecodingFailure, `the network config on stdin is not JSON: ${err instanceof Error ? err.message : String(err)}`, stdin.length === 0 ? 'stdin was empty' : '');
  }
  if (!isObject(raw)) throw new CniError(CniCode.DecodingFailure, 'the network config on stdin must be a JSON object');

  const version = raw.cniVersion;
  if (version === undefined || version === '') throw invalid('cniVersion must be given');
  if (!isSupportedVersion(version)) {
    throw new CniError(CniCode.IncompatibleVersion, `cniVersion ${JSON.stringify(version)} is not supported`, `tabby-cni supports ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const name = raw.name;
  if (typeof name !== 'string' || name === '') throw invalid('name (the network name) must be given');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw invalid(`name "${name}" must start with a letter or digit, followed by letters, digits, "_", "." or "-"`);
  if (raw.type !== PLUGIN_TYPE) throw invalid(`type must be "${PLUGIN_TYPE}", got ${JSON.stringify(raw.type)}`);
  const nodename = optionalString(raw, 'nodename', '');
  const mtu = integer(raw.mtu, 'mtu');
  if (mtu !== undefined && (mtu < 68 || mtu > 65535)) throw invalid(`mtu ${mtu} is out of range 68-65535`);

  const ipam = optionalObject(raw, 'ipam', '') ?? {};
  rejectUnknown(ipam, IPAM_KEYS, 'ipam.');
  if (ipam.type !== undefined && ipam.type !== 'tabby-ipam') {
    throw new CniError(
      CniCode.UnsupportedField,
      `unsupported field ipam.type: ${JSON.stringify(ipam.type)}`,
      'tabby-cni assigns addresses through tabby-ipam itself; leave ipam.type out or set it to "tabby-ipam"',
    );
  }
  const assignIpv4 = boolish(ipam.assign_ipv4, 'assign_ipv4', true);
  const assignIpv6 = boolish(ipam.assign_ipv6, 'assign_ipv6', false);
  if (!assignIpv4 && !assignIpv6) throw invalid('ipam.assign_ipv4 and ipam.assign_ipv6 are both "false": there is nothing to assign');
  let ipv4Pools = poolList(ipam.ipv4_pools, 'ipam.ipv4_pools', 4);
  let ipv6Pools = poolList(ipam.ipv6_pools, 'ipam.ipv6_pools', 6);
  let ipv4PoolSource: PoolSource = ipv4Pools.length > 0 ? 'config' : 'none';
  let ipv6PoolSource: PoolSource = ipv6Pools.length > 0 ? 'config' : 'none';

  // Pool annotations (Calico reads them from the pod): the runtime's pod annotations, or
  // args.cni in the config; either overrides ipam.*_pools, as the annotation does in Calico.
  const runtimeConfig = optionalObject(raw, 'runtimeConfig', '');
  const podAnnotations = runtimeConfig ? optionalObject(runtimeConfig, POD_ANNOTATIONS_CAPABILITY, 'runtimeConfig.') : undefined;
  const args = optionalObject(raw, 'args', '');
  const argsCni = args ? optionalObject(args, 'cni', 'args.') : undefined;
  let ipAddrs: string[] = [];
  for (const [source, where] of [
    [podAnnotations, `runtimeConfig["${POD_ANNOTATIONS_CAPABILITY}"]`],
    [argsCni, 'args.cni'],
  ] as const) {
    if (!source) continue;
    const fixed = annotationAddresses(source[IP_ADDRS_ANNOTATION], `${where}["${IP_ADDRS_ANNOTATION}"]`);
    if (fixed !== undefined) ipAddrs = fixed;
    const v4 = annotationPools(source[IPV4_POOLS_ANNOTATION], `${where}["${IPV4_POOLS_ANNOTATION}"]`, 4);
    const v6 = annotationPools(source[IPV6_POOLS_ANNOTATION], `${where}["${IPV6_POOLS_ANNOTATION}"]`, 6);
    if (v4 !== undefined) {
      ipv4Pools = v4;
      ipv4PoolSource = 'annotation';
    }
    if (v6 !== undefined) {
      ipv6Pools = v6;
      ipv6PoolSource = 'annotation';
    }
  }

  const namespaceLabels = (argsCni ? labelMap(argsCni[NAMESPACE_LABELS_ARG], `args.cni.${NAMESPACE_LABELS_ARG}`) : undefined) ?? {};

  const tabby = optionalObject(raw, 'tabby', '') ?? {};
  rejectUnknown(tabby, TABBY_KEYS, 'tabby.');
  const tlsObj = optionalObject(tabby, 'tls', 'tabby.') ?? {};
  rejectUnknown(tlsObj, TLS_KEYS, 'tabby.tls.');
  const tls: { ca?: string; cert?: string; key?: string } = {};
  for (const k of TLS_KEYS) {
    const v = optionalString(tlsObj, k, 'tabby.tls.');
    if (v !== undefined) tls[k] = v;
  }
  if (Boolean(tls.cert) !== Boolean(tls.key)) throw invalid('tabby.tls.cert and tabby.tls.key must be given together (a client certificate and its key)');
  if (tls.cert && !tls.ca) throw invalid('tabby.tls.cert needs tabby.tls.ca (the CA the services\' certificates chain to)');
  const timeout = tabby.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 600) throw invalid(`tabby.timeout_seconds must be a number of seconds from 0 to 600, got ${JSON.stringify(timeout)}`);
  const routeTable = integer(tabby.route_table, 'tabby.route_table') ?? MAIN_ROUTE_TABLE;
  const tableProblem = routeTableProblem(routeTable);
  if (tableProblem !== undefined) throw invalid(`tabby.route_table: ${tableProblem}`);
  const routeProtocol = integer(tabby.route_protocol, 'tabby.route_protocol') ?? DEFAULT_ROUTE_PROTOCOL;
  const protocolProblem = routeProtocolProblem(routeProtocol);
  if (protocolProblem !== undefined) throw invalid(`tabby.route_protocol: ${protocolProblem}`);

  const prevResult = optionalObject(raw, 'prevResult', '');
  const dns = optionalObject(raw, 'dns', '');
  return {
    cniVersion: version,
    name,
    nodename,
    mtu,
    ipam: { ipv4Pools, ipv6Pools, assignIpv4, assignIpv6, ipv4PoolSource, ipv6PoolSource, ipAddrs, namespaceLabels },
    tabby: {
      store: address(optionalString(tabby, 'store', 'tabby.'), 'store', DEFAULT_STORE),
      ipam: address(optionalString(tabby, 'ipam', 'tabby.'), 'ipam', DEFAULT_IPAM),
      tls,
      timeoutMs: Math.round(timeout * 1000),
      routeTable,
      routeProtocol,
    },
    logLevel: logLevel(raw.log_level),
    logFilePath: optionalString(raw, 'log_file_path', ''),
    prevResult,
    dns,
    validAttachments: validAttachments(raw),
  };
}

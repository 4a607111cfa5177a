import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CliError } from './errors.js';

/** Where tabbyctl finds the services, and how it authenticates. */
export interface ClientConfig {
  readonly store: string;
  /** Address of tabby-ipam (ipam and workload commands). */
  readonly ipam: string;
  /** Address of tabby-topology (topology commands, --dry-run), or its replicas comma-separated. */
  readonly topology: string;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** Where the values came from, for error messages. */
  readonly source: string;
}

/** The flags that override the config file. */
export interface ConfigFlags {
  readonly store?: string;
  readonly ipam?: string;
  readonly topology?: string;
  readonly config?: string;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
}

export const DEFAULT_STORE = '127.0.0.1:50051';
export const DEFAULT_IPAM = '127.0.0.1:50052';
export const DEFAULT_TOPOLOGY = '127.0.0.1:50053';
const FILE_KEYS = new Set(['store', 'ipam', 'topology', 'tls']);
const TLS_KEYS = new Set(['ca', 'cert', 'key']);

/** Default config file locations, first existing wins: ~/.tabby/tabbyctl.yaml, then /etc/tabby/tabbyctl.yaml. */
export function defaultConfigPaths(env: Readonly<Record<string, string | undefined>>): string[] {
  const home = env.HOME;
  return [...(home ? [path.join(home, '.tabby', 'tabbyctl.yaml')] : []), '/etc/tabby/tabbyctl.yaml'];
}

interface FileConfig {
  store?: string;
  ipam?: string;
  topology?: string;
  tls?: { ca?: string; cert?: string; key?: string };
}

function readConfigFile(file: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CliError(`config file ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new CliError(`config file ${file}: expected a mapping with store and tls`);
  const obj = doc as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (!FILE_KEYS.has(k)) throw new CliError(`config file ${file}: unknown key "${k}" (known: store, ipam, topology, tls)`);
  const out: FileConfig = {};
  if (obj.store !== undefined) {
    if (typeof obj.store !== 'string') throw new CliError(`config file ${file}: store must be HOST:PORT`);
    out.store = obj.store;
  }
  if (obj.ipam !== undefined) {
    if (typeof obj.ipam !== 'string') throw new CliError(`config file ${file}: ipam must be HOST:PORT`);
    out.ipam = obj.ipam;
  }
  if (obj.topology !== undefined) {
    // Replicas: a YAML list of addresses, or one string with commas.
    const list = Array.isArray(obj.topology) ? (obj.topology as unknown[]) : [obj.topology];
    if (list.length === 0 || !list.every((a): a is string => typeof a === 'string'))
      throw new CliError(`config file ${file}: topology must be HOST:PORT, or a list of IP:PORT (its replicas)`);
    out.topology = list.join(',');
  }
  if (obj.tls !== undefined) {
    if (typeof obj.tls !== 'object' || obj.tls === null) throw new CliError(`config file ${file}: tls must be a mapping of ca, cert, key`);
    const tls = obj.tls as Record<string, unknown>;
    for (const k of Object.keys(tls)) if (!TLS_KEYS.has(k)) throw new CliError(`config file ${file}: unknown key "tls.${k}" (known: ca, cert, key)`);
    const str = (k: string): string | undefined => {
      const v = tls[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'string') throw new CliError(`config file ${file}: tls.${k} must be a file path`);
      return path.resolve(path.dirname(file), v);
    };
    out.tls = { ca: str('ca'), cert: str('cert'), key: str('key') };
  }
  return out;
}

/**
 * Resolves the store address and TLS files: flags, then `TABBY_STORE_ADDR` /
 * `TABBY_TLS_CA` / `TABBY_TLS_CERT` / `TABBY_TLS_KEY`, then the config file (`--config`,
 * `TABBY_CONFIG`, or the first default path that exists), then 127.0.0.1:50051. The ipam
 * address likewise: `--ipam`, `TABBY_IPAM_ADDR`, the file's `ipam`, then 127.0.0.1:50052;
 * the topology address: `--topology`, `TABBY_TOPOLOGY_ADDR`, the file's `topology`, then
 * 127.0.0.1:50053. The services share the TLS files.
 */
export function resolveConfig(flags: ConfigFlags, env: Readonly<Record<string, string | undefined>>): ClientConfig {
  const explicit = flags.config ?? env.TABBY_CONFIG;
  let file: FileConfig = {};
  let fileName: string | undefined;
  if (explicit) {
    if (!existsSync(explicit)) throw new CliError(`config file ${explicit} does not exist`);
    file = readConfigFile(explicit);
    fileName = explicit;
  } else {
    const found = defaultConfigPaths(env).find((p) => existsSync(p));
    if (found) {
      file = readConfigFile(found);
      fileName = found;
    }
  }
  const pick = (flag: string | undefined, envName: string, fromFile: string | undefined): string | undefined =>
    flag ?? env[envName] ?? fromFile;
  const store = pick(flags.store, 'TABBY_STORE_ADDR', file.store) ?? DEFAULT_STORE;
  const source = flags.store ? '--store' : env.TABBY_STORE_ADDR ? 'TABBY_STORE_ADDR' : file.store ? (fileName ?? 'config file') : 'the default';
  return {
    store,
    ipam: pick(flags.ipam, 'TABBY_IPAM_ADDR', file.ipam) ?? DEFAULT_IPAM,
    topology: pick(flags.topology, 'TABBY_TOPOLOGY_ADDR', file.topology) ?? DEFAULT_TOPOLOGY,
    source,
    tls: {
      ca: pick(flags.tlsCa, 'TABBY_TLS_CA', file.tls?.ca),
      cert: pick(flags.tlsCert, 'TABBY_TLS_CERT', file.tls?.cert),
      key: pick(flags.tlsKey, 'TABBY_TLS_KEY', file.tls?.key),
    },
  };
}

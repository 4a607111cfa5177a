import { CniCode, CniError } from './cni-error.js';
import { resultHasInterfaceMtu, resultHasIpVersion, type CniVersion } from './versions.js';

/** The container's IPv4 gateway: a link-local address the host side answers by proxy ARP (Calico's). */
export const GATEWAY_V4 = '169.254.1.1';
/** The IPv6 gateway: the link-local address of a host side whose MAC is ee:ee:ee:ee:ee:ee. */
export const GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';
/** The host side's MAC (Calico's). */
export const HOST_MAC = 'ee:ee:ee:ee:ee:ee';

export interface ResultInterface {
  readonly name: string;
  readonly mac: string;
  /** From 1.1.0, when the config sets `mtu`. */
  readonly mtu?: number;
  readonly sandbox?: string;
}

export interface ResultIp {
  readonly address: string;
  readonly gateway?: string;
  readonly interface?: number;
  /** Only in results before 1.0.0. */
  readonly version?: '4' | '6';
}

export interface ResultRoute {
  readonly dst: string;
  readonly gw?: string;
}

/** A CNI result (spec 1.0.0 "Success"; 0.3.x/0.4.0 add `ips[].version`; 1.1.0 may add `interfaces[].mtu`). */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces: readonly ResultInterface[];
  readonly ips: readonly ResultIp[];
  readonly routes: readonly ResultRoute[];
  readonly dns: Record<string, unknown>;
}

/** What ADD made, to be reported. */
export interface AddOutcome {
  readonly hostInterface: string;
  readonly containerInterface: string;
  readonly containerMac: string;
  readonly sandbox: string;
  /** Single-address CIDRs (`/32`, `/128`). */
  readonly addresses: readonly string[];
  /** The MTU both ends were given (the config's `mtu`); undefined: the kernel's default. */
  readonly mtu?: number | undefined;
}

const isV6 = (cidr: string): boolean => cidr.includes(':');

/**
 * The ADD result: the host side (no sandbox) and the container side with its MAC (podman
 * refuses a result with an empty MAC), every address on the container side (interface 1)
 * with its gateway, and the default routes the container got. From 1.1.0 both interfaces
 * carry the `mtu` the config set (the spec's only 1.1.0 addition that applies here).
 */
export function addResult(version: CniVersion, outcome: AddOutcome, dns: Record<string, unknown> | undefined): CniResult {
  const withVersion = resultHasIpVersion(version);
  const mtu = outcome.mtu !== undefined && resultHasInterfaceMtu(version) ? { mtu: outcome.mtu } : {};
  const ips: ResultIp[] = outcome.addresses.map((address) => ({
    ...(withVersion ? { version: isV6(address) ? ('6' as const) : ('4' as const) } : {}),
    address,
    gateway: isV6(address) ? GATEWAY_V6 : GATEWAY_V4,
    interface: 1,
  }));
  const routes: ResultRoute[] = [];
  if (outcome.addresses.some((a) => !isV6(a))) routes.push({ dst: '0.0.0.0/0', gw: GATEWAY_V4 });
  if (outcome.addresses.some(isV6)) routes.push({ dst: '::/0', gw: GATEWAY_V6 });
  return {
    cniVersion: version,
    interfaces: [
      { name: outcome.hostInterface, mac: HOST_MAC, ...mtu },
      { name: outcome.containerInterface, mac: outcome.containerMac, ...mtu, sandbox: outcome.sandbox },
    ],
    ips,
    routes,
    dns: dns ?? {},
  };
}

/** What CHECK compares against: the addresses and interfaces of `prevResult`. */
export interface PreviousResult {
  readonly addresses: readonly string[];
  readonly interfaces: readonly ResultInterface[];
}

/** Reads a `prevResult` (any supported version); {@link CniCode.InvalidNetworkConfig} when it is missing or malformed. */
export function parsePrevResult(prev: Record<string, unknown> | undefined): PreviousResult {
  if (!prev) throw new CniError(CniCode.InvalidNetworkConfig, 'prevResult must be given for CHECK (the result of ADD)');
  const ips = prev.ips ?? [];
  const interfaces = prev.interfaces ?? [];
  if (!Array.isArray(ips) || !Array.isArray(interfaces)) throw new CniError(CniCode.InvalidNetworkConfig, 'prevResult.ips and prevResult.interfaces must be lists');
  const addresses = ips.map((ip: unknown, i) => {
    const a = typeof ip === 'object' && ip !== null ? (ip as { address?: unknown }).address : undefined;
    if (typeof a !== 'string' || !a.includes('/')) throw new CniError(CniCode.InvalidNetworkConfig, `prevResult.ips[${i}].address must be an address with a prefix length`);
    return a;
  });
  const ifs = interfaces.map((x: unknown, i): ResultInterface => {
    const o = typeof x === 'object' && x !== null ? (x as { name?: unknown; mac?: unknown; sandbox?: unknown }) : {};
    if (typeof o.name !== 'string') throw new CniError(CniCode.InvalidNetworkConfig, `prevResult.interfaces[${i}].name must be a string`);
    return { name: o.name, mac: typeof o.mac === 'string' ? o.mac : '', ...(typeof o.sandbox === 'string' && o.sandbox !== '' ? { sandbox: o.sandbox } : {}) };
  });
  return { addresses, interfaces: ifs };
}

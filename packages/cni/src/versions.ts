/**
 * The CNI specification versions tabby-cni speaks: results in the formats of 0.3.0 to 1.1.0,
 * CHECK from 0.4.0, GC and STATUS from 1.1.0 (as libcni's skel gates them).
 */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/**
 * The version VERSION reports as its own and errors use when the config gives none: 1.0.0,
 * the last whose results every runtime still in use decodes (libcni before 1.2 refuses a
 * 1.1.0 result). A conflist offers 1.1.0 beside it with `"cniVersions": ["1.0.0", "1.1.0"]`.
 */
export const CURRENT_VERSION: CniVersion = '1.0.0';

/** The newest version tabby-cni speaks. */
export const LATEST_VERSION: CniVersion = '1.1.0';

/** True for a version in {@link SUPPORTED_VERSIONS}. */
export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares two dotted versions numerically: negative when `a` is older. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** CHECK exists from 0.4.0 on. */
export function supportsCheck(v: string): boolean {
  return compareVersions(v, '0.4.0') >= 0;
}

/** GC and STATUS exist from 1.1.0 on. */
export function supportsGcAndStatus(v: string): boolean {
  return compareVersions(v, '1.1.0') >= 0;
}

/** Results before 1.0.0 carry `version` ("4" or "6") in every `ips` entry. */
export function resultHasIpVersion(v: string): boolean {
  return compareVersions(v, '1.0.0') < 0;
}

/** Results from 1.1.0 on may carry each interface's `mtu`. */
export function resultHasInterfaceMtu(v: string): boolean {
  return compareVersions(v, '1.1.0') >= 0;
}

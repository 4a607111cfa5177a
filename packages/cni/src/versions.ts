/**
 * The CNI specification versions tabby-cni speaks. 1.1.0 (GC, STATUS) is not among them:
 * a runtime that speaks 1.1 falls back to 1.0.0 as the specification requires.
 */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;

export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The version VERSION reports and errors use when the config gives none. */
export const CURRENT_VERSION: CniVersion = '1.0.0';

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

/** Results before 1.0.0 carry `version` ("4" or "6") in every `ips` entry. */
export function resultHasIpVersion(v: string): boolean {
  return compareVersions(v, '1.0.0') < 0;
}

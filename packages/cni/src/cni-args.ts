import { parseIP } from '@tabby/api';
import { CniCode, CniError } from './cni-error.js';

/**
 * CNI_ARGS keys tabby-cni knows: Kubernetes' (what kubelet, containerd and CRI-O pass), the
 * specification's `IgnoreUnknown` and the conventions' `IP` (a fixed address, as Calico's IPAM
 * plugin takes it).
 */
export const KNOWN_CNI_ARGS = ['IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID', 'IP'] as const;

export interface CniArgs {
  readonly podNamespace?: string;
  readonly podName?: string;
  readonly infraContainerId?: string;
  readonly podUid?: string;
  /** `IP=`: the fixed address to assign (canonical text). */
  readonly ip?: string;
  readonly ignoreUnknown: boolean;
  /** Keys given that tabby-cni does not know (only when IgnoreUnknown allows them). */
  readonly ignored: readonly string[];
}

/** `IgnoreUnknown` as libcni reads it: 1/true or 0/false, any case. */
function parseBool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS ${key}=${value}: expected 1, true, 0 or false`);
}

/**
 * Parses CNI_ARGS (`K1=V1;K2=V2`). Each pair needs exactly one `=`; empty pairs (a trailing
 * `;`) are skipped. A key tabby-cni does not know is an error unless `IgnoreUnknown` is 1 or
 * true (anywhere in the list), as the specification's conventions say.
 */
export function parseCniArgs(text: string | undefined): CniArgs {
  const pairs: [string, string][] = [];
  for (const raw of (text ?? '').split(';')) {
    if (raw.trim() === '') continue;
    const parts = raw.split('=');
    if (parts.length !== 2 || parts[0] === '') {
      throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS: invalid pair "${raw}" (expected KEY=VALUE pairs separated by ";")`);
    }
    pairs.push([parts[0], parts[1]]);
  }
  let ignoreUnknown = false;
  for (const [k, v] of pairs) if (k === 'IgnoreUnknown') ignoreUnknown = parseBool(k, v);
  const known = new Set<string>(KNOWN_CNI_ARGS);
  const out: { -readonly [K in keyof CniArgs]: CniArgs[K] } = { ignoreUnknown, ignored: [] };
  const ignored: string[] = [];
  for (const [k, v] of pairs) {
    if (!known.has(k)) {
      if (!ignoreUnknown) {
        throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS: unknown key "${k}"`, `tabby-cni knows ${KNOWN_CNI_ARGS.join(', ')}; add IgnoreUnknown=1 to CNI_ARGS to have other keys ignored`);
      }
      ignored.push(k);
      continue;
    }
    if (k === 'K8S_POD_NAMESPACE') out.podNamespace = v;
    else if (k === 'K8S_POD_NAME') out.podName = v;
    else if (k === 'K8S_POD_INFRA_CONTAINER_ID') out.infraContainerId = v;
    else if (k === 'K8S_POD_UID') out.podUid = v;
    else if (k === 'IP') {
      const ip = parseIP(v.trim());
      if (!ip) throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS IP=${v}: not an IP address`);
      out.ip = ip.text;
    }
  }
  out.ignored = ignored;
  return out;
}

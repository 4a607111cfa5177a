import { createHash } from 'node:crypto';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_TEXT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';

/** Calico's reasons for a bad resource name; empty when the name is valid. */
export function nameProblems(name: string): string[] {
  const out: string[] = [];
  if (name.length > 253) out.push(`name is too long by ${name.length - 253} bytes`);
  if (!DNS1123_SUBDOMAIN.test(name)) out.push(`name must consist of lower case alphanumeric characters, '-' or '.' (regex: ${DNS1123_SUBDOMAIN_TEXT})`);
  return out;
}

/** True for a DNS-1123 subdomain of at most 253 characters (node names, pool names, ...). */
export function isDNSSubdomain(name: string): boolean {
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Problems with a label or annotation key (a Kubernetes qualified name); empty when valid. */
export function qualifiedNameProblems(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  const out: string[] = [];
  if (parts.length > 2) return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"];
  if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) out.push('prefix part must be non-empty');
    else if (!isDNSSubdomain(prefix)) out.push('prefix part must be a lowercase DNS-1123 subdomain');
  }
  if (name.length === 0) out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  else if (!QUALIFIED_NAME_PART.test(name))
    out.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
  return out;
}

/** Problems with a label value; empty when valid. */
export function labelValueProblems(value: string): string[] {
  if (value.length > 63) return ['a label value must be no more than 63 characters'];
  if (!LABEL_VALUE.test(value))
    return ["a label value must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"];
  return [];
}

/** Go-style duration (`120s`, `1m30s`, `1.5h`, `500ms`); undefined when not one. Returns milliseconds. */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const scale: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * scale[m[2]];
    pos = re.lastIndex;
  }
  return pos === text.length && pos > 0 ? total : undefined;
}

/** Orchestrator name of Kubernetes pods in WorkloadEndpoints. */
export const ORCHESTRATOR_K8S = 'k8s';
export const ORCHESTRATOR_CNI = 'cni';
export const ORCHESTRATOR_LIBNETWORK = 'libnetwork';

/** The primary identifiers of a WorkloadEndpoint, from which its name is derived. */
export interface WorkloadEndpointIdentifiers {
  readonly node: string;
  readonly orchestrator: string;
  readonly workload?: string;
  readonly pod?: string;
  readonly containerID?: string;
  readonly endpoint: string;
}

/** Problem with one identifier segment, with the spec field it came from. */
export interface SegmentProblem {
  readonly field: string;
  readonly value: string;
  readonly reason: string;
}

/**
 * Calico's WorkloadEndpoint name: segments joined by `-`, each segment's own `-` doubled:
 * k8s `<node>-k8s-<pod>-<endpoint>`, cni `<node>-cni-<containerID>-<endpoint>`,
 * libnetwork `<node>-libnetwork-libnetwork-<endpoint>`, else `<node>-<orch>-<workload>-<endpoint>`.
 */
export function workloadEndpointName(ids: WorkloadEndpointIdentifiers): { name: string } | { problems: SegmentProblem[] } {
  const segs: [string, string | undefined][] = [
    ['Node', ids.node],
    ['Orchestrator', ids.orchestrator],
  ];
  switch (ids.orchestrator) {
    case ORCHESTRATOR_K8S:
      segs.push(['Pod', ids.pod]);
      break;
    case ORCHESTRATOR_CNI:
      segs.push(['ContainerID', ids.containerID]);
      break;
    case ORCHESTRATOR_LIBNETWORK:
      segs.push(['Workload', 'libnetwork']);
      break;
    default:
      segs.push(['Workload', ids.workload]);
  }
  segs.push(['Endpoint', ids.endpoint]);
  const problems: SegmentProblem[] = [];
  const parts: string[] = [];
  for (const [field, v] of segs) {
    const value = v ?? '';
    if (value === '') problems.push({ field, value, reason: 'field should be assigned' });
    else if (value.startsWith('-')) problems.push({ field, value, reason: "field must not begin with a '-'" });
    else if (value.endsWith('-')) problems.push({ field, value, reason: "field must not end with a '-'" });
    parts.push(value.replace(/-/g, '--'));
  }
  return problems.length > 0 ? { problems } : { name: parts.join('-') };
}

/**
 * The host-side interface name Calico gives a pod's veth: `cali` + the first 11 hex
 * characters of SHA-1(`<namespace>.<pod>`). For non-Kubernetes CNI workloads Calico uses
 * `cali` + the first 11 characters of the container ID instead.
 */
export function workloadInterfaceName(namespace: string, pod: string, prefix = 'cali'): string {
  const digest = createHash('sha1').update(`${namespace}.${pod}`).digest('hex');
  return `${prefix}${digest.slice(0, 11)}`;
}

/**
 * The host-side interface name Calico's CNI plugin gives a container that has no Kubernetes
 * pod identity (orchestrator `cni`): `cali` + the first 11 characters of the container ID.
 */
export function containerInterfaceName(containerID: string, prefix = 'cali'): string {
  return `${prefix}${containerID.slice(0, 11)}`;
}

import { createHash } from 'node:crypto';
import { containerInterfaceName, nameProblems, workloadEndpointName, workloadInterfaceName } from '@tabby/api';
import { CniCode, CniError } from './cni-error.js';
import type { NetworkConfig } from './config.js';
import type { CniEnvironment } from './env.js';

/**
 * Who a CNI call is about, named as Calico's CNI plugin names it: with K8S_POD_NAMESPACE and
 * K8S_POD_NAME a Kubernetes pod (orchestrator `k8s`, endpoint `<node>-k8s-<pod>-<ifname>`,
 * host interface `cali` + SHA-1(`ns.pod`)); without both, a bare container (orchestrator
 * `cni`, namespace `default`, endpoint `<node>-cni-<containerID>-<ifname>`, host interface
 * `cali` + the container ID's first 11 characters). The IPAM handle is always Calico's
 * `<network name>.<containerID>`, so a pod's old and new containers hold separate addresses.
 */
export interface WorkloadIdentity {
  readonly orchestrator: 'k8s' | 'cni';
  readonly namespace: string;
  /** The pod, or the container ID for `cni`. */
  readonly name: string;
  readonly node: string;
  readonly containerId: string;
  /** CNI_IFNAME: the container-side interface and the endpoint's spec.endpoint. */
  readonly endpoint: string;
  readonly handle: string;
  /** The WorkloadEndpoint's name. */
  readonly endpointName: string;
  /** The host side of the veth pair (`cali…`). */
  readonly hostInterface: string;
  /** The container side's MAC (derived from container ID and interface, so ADD twice gives the same). */
  readonly mac: string;
}

/** The namespace Calico's CNI plugin files non-Kubernetes workloads under. */
export const CNI_NAMESPACE = 'default';

const LOWER_ID = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The container side's MAC: locally administered, unicast, from SHA-256 of
 * `<containerID>/<ifname>`. A veth is a link of two, so uniqueness beyond the container does
 * not matter; being stable makes ADD idempotent and lets DEL tell tabby-cni's interface from
 * one another plugin made.
 */
export function containerMac(containerId: string, ifname: string): string {
  const b = createHash('sha256').update(`${containerId}/${ifname}`).digest().subarray(0, 6);
  b[0] = (b[0] & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Calico's node name from the host name: trimmed, lower case. */
export function nodenameFromHostname(hostname: string): string {
  return hostname.trim().toLowerCase();
}

/** This node's name in Tabby: `nodename` of the config, else the host name (Calico's); {@link CniCode.InvalidNetworkConfig} when it cannot name a Node. */
export function nodeName(config: NetworkConfig, hostname: string): string {
  const node = config.nodename ?? nodenameFromHostname(hostname);
  const nodeProblems = nameProblems(node);
  if (nodeProblems.length > 0) {
    throw new CniError(CniCode.InvalidNetworkConfig, `node name "${node}" ${config.nodename === undefined ? '(the host name) ' : ''}is not a valid Node name: ${nodeProblems.join('; ')}`, 'set nodename in the network config to the Node resource\'s name');
  }
  return node;
}

/** The identity of this call's workload; {@link CniCode.InvalidEnvironment} when CNI_ARGS or the container ID cannot name one. */
export function workloadIdentity(env: CniEnvironment, config: NetworkConfig, hostname: string): WorkloadIdentity {
  const node = nodeName(config, hostname);
  const { podNamespace, podName } = env.args;
  const k8s = Boolean(podNamespace) && Boolean(podName);
  const handle = `${config.name}.${env.containerId}`;
  const mac = containerMac(env.containerId, env.ifname);
  if (k8s) {
    const namespace = podNamespace ?? '';
    const name = podName ?? '';
    for (const [key, value] of [
      ['K8S_POD_NAMESPACE', namespace],
      ['K8S_POD_NAME', name],
    ] as const) {
      const problems = nameProblems(value);
      if (problems.length > 0) throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS ${key}=${value}: ${problems.join('; ')}`);
    }
    if (!/^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(env.containerId)) {
      throw new CniError(CniCode.InvalidEnvironment, `CNI_CONTAINERID "${env.containerId}": a WorkloadEndpoint's containerID is letters, digits and "-", starting and ending with a letter or digit`);
    }
    const named = workloadEndpointName({ node, orchestrator: 'k8s', pod: name, endpoint: env.ifname });
    if ('problems' in named) throw new CniError(CniCode.InvalidEnvironment, `cannot name the WorkloadEndpoint: ${named.problems.map((p) => `${p.field} ${p.reason}`).join('; ')}`);
    return { orchestrator: 'k8s', namespace, name, node, containerId: env.containerId, endpoint: env.ifname, handle, endpointName: named.name, hostInterface: workloadInterfaceName(namespace, name), mac };
  }
  if (!LOWER_ID.test(env.containerId) || env.containerId.length > 253) {
    throw new CniError(
      CniCode.InvalidEnvironment,
      `CNI_CONTAINERID "${env.containerId}" cannot name a WorkloadEndpoint: without K8S_POD_NAMESPACE and K8S_POD_NAME in CNI_ARGS the workload is named by its container ID, which must then be lower-case letters, digits and "-"`,
    );
  }
  const named = workloadEndpointName({ node, orchestrator: 'cni', containerID: env.containerId, endpoint: env.ifname });
  if ('problems' in named) throw new CniError(CniCode.InvalidEnvironment, `cannot name the WorkloadEndpoint: ${named.problems.map((p) => `${p.field} ${p.reason}`).join('; ')}`);
  return {
    orchestrator: 'cni',
    namespace: CNI_NAMESPACE,
    name: env.containerId,
    node,
    containerId: env.containerId,
    endpoint: env.ifname,
    handle,
    endpointName: named.name,
    hostInterface: containerInterfaceName(env.containerId),
    mac,
  };
}

import type { WorkloadEndpoint } from '@tabby/proto';
import { workloadEndpointName } from '../names.js';
import { cidrContains, parseCIDR, parseIP } from '../net.js';
import type { Problems } from './problems.js';

export const LABEL_NAMESPACE = 'projectcalico.org/namespace';
export const LABEL_ORCHESTRATOR = 'projectcalico.org/orchestrator';

const CONTAINER_ID = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const MAC = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;

/**
 * Fills what Calico's client fills on write: the name from the primary identifiers when
 * empty, and the `projectcalico.org/namespace` and `projectcalico.org/orchestrator` labels.
 */
export function defaultWorkloadEndpoint(obj: WorkloadEndpoint): void {
  const s = obj.spec;
  const m = obj.metadata;
  if (!s || !m) return;
  if (m.name === '') {
    const n = workloadEndpointName(s);
    if ('name' in n) m.name = n.name;
  }
  if (m.namespace !== '') m.labels[LABEL_NAMESPACE] = m.namespace;
  if (s.orchestrator !== '') m.labels[LABEL_ORCHESTRATOR] = s.orchestrator;
}

/** Calico's WorkloadEndpoint rules (validateWorkloadEndpointSpec, name check). */
export function validateWorkloadEndpoint(p: Problems, obj: WorkloadEndpoint): void {
  const s = obj.spec;
  if (!s) {
    p.add('WorkloadEndpoint.Spec.InterfaceName', 'spec.interfaceName', undefined, 'field must be set');
    return;
  }
  for (const [go, path, v] of [
    ['Orchestrator', 'orchestrator', s.orchestrator],
    ['Workload', 'workload', s.workload],
    ['Node', 'node', s.node],
    ['Pod', 'pod', s.pod],
    ['Endpoint', 'endpoint', s.endpoint],
    ['ServiceAccountName', 'serviceAccountName', s.serviceAccountName],
  ] as const) {
    p.dnsName(`WorkloadEndpoint.Spec.${go}`, `spec.${path}`, v);
  }
  if (s.containerID !== '' && !CONTAINER_ID.test(s.containerID))
    p.add('WorkloadEndpoint.Spec.ContainerID', 'spec.containerID', s.containerID, 'must be letters, digits and -, starting and ending with a letter or digit');
  const nets = s.ipNetworks.map((n, i) => {
    const c = parseCIDR(n);
    const path = `spec.ipNetworks[${i}]`;
    if (!c) p.add(`WorkloadEndpoint.Spec.IPNetworks[${i}]`, path, n, 'must be a CIDR such as 10.0.0.1/32');
    else if (!c.strictlyMasked) p.add(`WorkloadEndpoint.Spec.IPNetworks[${i}]`, path, n, 'CIDR is not strictly masked');
    else if (c.prefix !== (c.family === 4 ? 32 : 128)) p.add(`WorkloadEndpoint.Spec.IPNetworks[${i}]`, path, n, 'IP network contains multiple addresses');
    return c;
  });
  s.ipNATs.forEach((nat, i) => {
    const internal = parseIP(nat.internalIP);
    if (!internal) p.add(`WorkloadEndpoint.Spec.IPNATs[${i}].InternalIP`, `spec.ipNATs[${i}].internalIP`, nat.internalIP, 'must be an IP address');
    else if (!nets.some((c) => c && cidrContains(c, internal)))
      p.add(`WorkloadEndpoint.Spec.IPNATs[${i}].InternalIP`, `spec.ipNATs[${i}].internalIP`, nat.internalIP, 'NAT is not in the endpoint networks');
    p.ip(`WorkloadEndpoint.Spec.IPNATs[${i}].ExternalIP`, `spec.ipNATs[${i}].externalIP`, nat.externalIP);
  });
  p.ip('WorkloadEndpoint.Spec.IPv4Gateway', 'spec.ipv4Gateway', s.ipv4Gateway, 4);
  p.ip('WorkloadEndpoint.Spec.IPv6Gateway', 'spec.ipv6Gateway', s.ipv6Gateway, 6);
  s.profiles.forEach((pr, i) => p.dnsName(`WorkloadEndpoint.Spec.Profiles[${i}]`, `spec.profiles[${i}]`, pr));
  if (s.interfaceName === '') p.add('WorkloadEndpoint.Spec.InterfaceName', 'spec.interfaceName', undefined, 'field must be set');
  else if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(s.interfaceName) && s.interfaceName !== '*')
    p.add('WorkloadEndpoint.Spec.InterfaceName', 'spec.interfaceName', s.interfaceName, "must be 1-15 characters of letters, digits, '_', '.' or '-'");
  if (s.mac !== '' && !MAC.test(s.mac)) p.add('WorkloadEndpoint.Spec.MAC', 'spec.mac', s.mac, 'must be a MAC address such as 66:1f:4b:6e:51:19');
  s.ports.forEach((port, i) => {
    if (port.name === '' && port.hostPort === 0)
      p.add(`WorkloadEndpoint.Spec.Ports[${i}].Name`, `spec.ports[${i}].name`, undefined, 'WorkloadEndpointPort name must not be empty if no HostPort is specified');
    if (port.port === 0) p.add(`WorkloadEndpoint.Spec.Ports[${i}].Port`, `spec.ports[${i}].port`, 0, 'must be from 1 to 65535');
    if (port.protocol !== '' && !/^(TCP|UDP|SCTP|ICMP|ICMPv6|UDPLite|\d{1,3})$/i.test(port.protocol))
      p.add(`WorkloadEndpoint.Spec.Ports[${i}].Protocol`, `spec.ports[${i}].protocol`, port.protocol, 'must be TCP, UDP, SCTP or a protocol number');
    p.ip(`WorkloadEndpoint.Spec.Ports[${i}].HostIP`, `spec.ports[${i}].hostIP`, port.hostIP);
  });
  s.allowSpoofedSourcePrefixes.forEach((c, i) => p.cidrOrIP(`WorkloadEndpoint.Spec.AllowSpoofedSourcePrefixes[${i}]`, `spec.allowSpoofedSourcePrefixes[${i}]`, c));

  const m = obj.metadata;
  const computed = workloadEndpointName(s);
  if ('problems' in computed) {
    for (const pr of computed.problems) p.add(`WorkloadEndpoint.Spec.${pr.field}`, `spec.${pr.field.charAt(0).toLowerCase()}${pr.field.slice(1)}`, pr.value || undefined, pr.reason);
  } else if (m && m.name !== '' && m.name !== computed.name) {
    p.add('Metadata.Name', 'metadata.name', m.name, `the WorkloadEndpoint name does not match the primary identifiers assigned in the Spec: expected name ${computed.name}`);
  }
}

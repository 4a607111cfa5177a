import type { BGPConfiguration } from '@tabby/proto';
import { isDNSSubdomain } from '../names.js';
import { parseIPOrCIDR } from '../net.js';
import type { Problems } from './problems.js';

export const LOG_SEVERITIES = ['Trace', 'Debug', 'Info', 'Warning', 'Error', 'Fatal'] as const;
const MAX_COMMUNITIES = 500;

/** True for `aa:nn` (16-bit parts) or `aa:nn:mm` (32-bit parts). */
export function isCommunityValue(v: string): boolean {
  return communityForm(v) !== undefined && communityRangeProblem(v) === undefined;
}

/** Which community form a text has (`aa:nn` standard, `aa:nn:mm` large), if any. */
function communityForm(v: string): 16 | 32 | undefined {
  if (/^\d+:\d+$/.test(v)) return 16;
  if (/^\d+:\d+:\d+$/.test(v)) return 32;
  return undefined;
}

/** Calico's range check of a community in either form (validateCommunityValue). */
function communityRangeProblem(v: string): string | undefined {
  const bits = communityForm(v);
  if (bits === undefined) return undefined;
  const max = bits === 16 ? 0xffff : 0xffffffff;
  return v.split(':').every((x) => Number(x) <= max) ? undefined : `invalid community value, expected ${bits} bit value`;
}

/** Calico's BGPConfiguration rules (validateBGPConfigurationSpec, ValidateDefaultOnlyFields). */
export function validateBGPConfiguration(p: Problems, obj: BGPConfiguration): void {
  const name = obj.metadata?.name ?? '';
  const s = obj.spec;
  if (!s) return;
  p.oneOf('BGPConfiguration.Spec.LogSeverityScreen', 'spec.logSeverityScreen', s.logSeverityScreen, LOG_SEVERITIES);
  if (name !== 'default') {
    const only = (set: boolean, go: string, path: string, label: string): void => {
      if (set) p.add(`BGPConfiguration.Spec.${go}`, `spec.${path}`, undefined, `Cannot set ${label} on a non default BGP Configuration.`);
    };
    only(s.nodeToNodeMeshEnabled !== undefined, 'NodeToNodeMeshEnabled', 'nodeToNodeMeshEnabled', 'nodeToNodeMeshEnabled');
    only(s.asNumber !== undefined, 'ASNumber', 'asNumber', 'ASNumber');
    only(s.serviceLoadBalancerIPs.length > 0, 'ServiceLoadBalancerIPs', 'serviceLoadBalancerIPs', 'ServiceLoadBalancerIPs');
    only(s.serviceExternalIPs.length > 0, 'ServiceExternalIPs', 'serviceExternalIPs', 'ServiceExternalIPs');
    only(s.serviceClusterIPs.length > 0, 'ServiceClusterIPs', 'serviceClusterIPs', 'ServiceClusterIPs');
    only(s.nodeMeshPassword !== undefined, 'NodeMeshPassword', 'nodeMeshPassword', 'nodeMeshPassword');
    only(s.nodeMeshMaxRestartTime !== '', 'NodeMeshMaxRestartTime', 'nodeMeshMaxRestartTime', 'nodeMeshMaxRestartTime');
  }
  for (const [json, go, list] of [
    ['serviceClusterIPs', 'ServiceClusterIPs', s.serviceClusterIPs],
    ['serviceExternalIPs', 'ServiceExternalIPs', s.serviceExternalIPs],
    ['serviceLoadBalancerIPs', 'ServiceLoadBalancerIPs', s.serviceLoadBalancerIPs],
  ] as const) {
    list.forEach((c, i) => p.cidrOrIP(`BGPConfiguration.Spec.${go}[${i}].CIDR`, `spec.${json}[${i}].cidr`, c.cidr));
  }
  p.oneOf('BGPConfiguration.Spec.ServiceLoadBalancerAggregation', 'spec.serviceLoadBalancerAggregation', s.serviceLoadBalancerAggregation, ['Enabled', 'Disabled']);

  if (s.communities.length > MAX_COMMUNITIES) p.add('BGPConfiguration.Spec.Communities', 'spec.communities', undefined, `at most ${MAX_COMMUNITIES} communities`);
  const defined = new Set<string>();
  s.communities.forEach((c, i) => {
    if (c.name === '') p.add(`BGPConfiguration.Spec.Communities[${i}].Name`, `spec.communities[${i}].name`, undefined, 'must be set');
    else if (!isDNSSubdomain(c.name)) p.add(`BGPConfiguration.Spec.Communities[${i}].Name`, `spec.communities[${i}].name`, c.name, 'must be a lower case DNS name');
    const field = `BGPConfiguration.Spec.Communities[${i}].Value`;
    if (communityForm(c.value) === undefined) p.add(field, `spec.communities[${i}].value`, c.value, 'invalid community value or format used.');
    else {
      const range = communityRangeProblem(c.value);
      if (range) p.add(field, `spec.communities[${i}].value`, c.value, range);
    }
    defined.add(c.name);
  });
  if (s.prefixAdvertisements.length > MAX_COMMUNITIES)
    p.add('BGPConfiguration.Spec.PrefixAdvertisements', 'spec.prefixAdvertisements', undefined, `at most ${MAX_COMMUNITIES} prefix advertisements`);
  s.prefixAdvertisements.forEach((a, i) => {
    // Calico parses it with ParseCIDROrIP: a single address, or a CIDR with host bits set, is fine.
    if (!parseIPOrCIDR(a.cidr)) p.add(`BGPConfiguration.Spec.PrefixAdvertisements[${i}].CIDR`, `spec.prefixAdvertisements[${i}].cidr`, a.cidr, 'invalid CIDR value.');
    a.communities.forEach((c, j) => {
      const field = `BGPConfiguration.Spec.PrefixAdvertisements[${i}].Communities[${j}]`;
      const path = `spec.prefixAdvertisements[${i}].communities[${j}]`;
      if (communityForm(c) !== undefined) {
        const range = communityRangeProblem(c);
        if (range) p.add(field, path, c, range);
      } else if (!defined.has(c)) p.add(field, path, c, 'community used is invalid or not defined.');
    });
  });
  // As Calico: only a list of communities with no prefix advertisement at all is refused.
  if (s.communities.length > 0 && s.prefixAdvertisements.length === 0)
    p.add('BGPConfiguration.Spec.Communities', 'spec.communities', undefined, 'communities are defined but not used in Spec.PrefixAdvertisement[].');

  if (s.listenPort !== undefined && (s.listenPort < 1 || s.listenPort > 65535))
    p.add('BGPConfiguration.Spec.ListenPort', 'spec.listenPort', s.listenPort, 'must be a port from 1 to 65535');
  p.secretRef('BGPConfiguration.Spec.NodeMeshPassword', 'spec.nodeMeshPassword', s.nodeMeshPassword);
  p.duration('BGPConfiguration.Spec.NodeMeshMaxRestartTime', 'spec.nodeMeshMaxRestartTime', s.nodeMeshMaxRestartTime);
  if (s.nodeToNodeMeshEnabled === false) {
    if (s.nodeMeshPassword !== undefined)
      p.add('BGPConfiguration.Spec.NodeMeshPassword', 'spec.nodeMeshPassword', undefined, 'spec.NodeMeshPassword cannot be set if spec.NodeToNodeMesh is disabled');
    if (s.nodeMeshMaxRestartTime !== '')
      p.add('BGPConfiguration.Spec.NodeMeshMaxRestartTime', 'spec.nodeMeshMaxRestartTime', s.nodeMeshMaxRestartTime, 'spec.NodeMeshMaxRestartTime cannot be set if spec.NodeToNodeMesh is disabled');
  }
  p.oneOf('BGPConfiguration.Spec.BindMode', 'spec.bindMode', s.bindMode, ['None', 'NodeIP']);
  s.ignoredInterfaces.forEach((n, i) => p.interfaceName(`BGPConfiguration.Spec.IgnoredInterfaces[${i}]`, `spec.ignoredInterfaces[${i}]`, n));
  p.ip('BGPConfiguration.Spec.LocalWorkloadPeeringIPV4', 'spec.localWorkloadPeeringIPV4', s.localWorkloadPeeringIPV4, 4);
  p.ip('BGPConfiguration.Spec.LocalWorkloadPeeringIPV6', 'spec.localWorkloadPeeringIPV6', s.localWorkloadPeeringIPV6, 6);
}

import type { BGPFilterRuleV4, BGPFilterRuleV6, BGPFilterSpec } from '@tabby/proto';
import type {
  CompiledBlock,
  CompiledCommunities,
  CompiledFilter,
  CompiledNodeConfig,
  CompiledPeer,
  CompiledPool,
  CompiledPrefix,
  CompiledService,
  CompiledWorkload,
  PeerSourceInfo,
} from './types.js';

function sameList<T>(a: readonly T[], b: readonly T[], same: (x: T, y: T) => boolean): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
  return true;
}

const sameString = (x: string, y: string): boolean => x === y;

function sameSource(a: PeerSourceInfo, b: PeerSourceInfo): boolean {
  return a === b || (a.resource === b.resource && a.rule === b.rule && a.used === b.used);
}

/** True when two compiled sessions are identical in every field. */
export function samePeer(a: CompiledPeer, b: CompiledPeer): boolean {
  if (a === b) return true;
  return (
    a.family === b.family &&
    a.address === b.address &&
    a.port === b.port &&
    a.configuredPort === b.configuredPort &&
    a.remoteAs === b.remoteAs &&
    a.localAs === b.localAs &&
    a.kind === b.kind &&
    a.ibgp === b.ibgp &&
    a.keepOriginalNextHop === b.keepOriginalNextHop &&
    a.nextHopMode === b.nextHopMode &&
    a.passive === b.passive &&
    a.rrClient === b.rrClient &&
    a.clusterId === b.clusterId &&
    a.peerNode === b.peerNode &&
    a.peerClusterId === b.peerClusterId &&
    a.sourceAddress === b.sourceAddress &&
    a.password?.name === b.password?.name &&
    a.password?.key === b.password?.key &&
    a.restartTimeS === b.restartTimeS &&
    a.ttlSecurity === b.ttlSecurity &&
    a.numAllowedLocalAS === b.numAllowedLocalAS &&
    a.reachableBy === b.reachableBy &&
    a.keepaliveS === b.keepaliveS &&
    a.name === b.name &&
    sameList(a.filters, b.filters, sameString) &&
    sameList(a.missingFilters, b.missingFilters, sameString) &&
    sameList(a.sources, b.sources, sameSource)
  );
}

function samePrefix(a: CompiledPrefix, b: CompiledPrefix): boolean {
  return a.cidr === b.cidr && a.pool === b.pool;
}

/** True when two compiled prefix lists are identical. */
export function samePrefixes(a: readonly CompiledPrefix[], b: readonly CompiledPrefix[]): boolean {
  return sameList(a, b, samePrefix);
}

const sameBlock = (a: CompiledBlock, b: CompiledBlock): boolean => a.cidr === b.cidr && a.pool === b.pool && a.exported === b.exported;

const sameWorkload = (a: CompiledWorkload, b: CompiledWorkload): boolean =>
  a.name === b.name && a.interfaceName === b.interfaceName && sameList(a.addresses, b.addresses, sameString);

const samePool = (a: CompiledPool, b: CompiledPool): boolean =>
  a.name === b.name &&
  a.cidr === b.cidr &&
  a.disableBGPExport === b.disableBGPExport &&
  a.ipipMode === b.ipipMode &&
  a.vxlanMode === b.vxlanMode &&
  a.disabled === b.disabled;

const sameCommunities = (a: CompiledCommunities, b: CompiledCommunities): boolean =>
  a.cidr === b.cidr && sameList(a.standard, b.standard, sameString) && sameList(a.large, b.large, sameString);

const sameService = (a: CompiledService, b: CompiledService): boolean => a.cidr === b.cidr && a.kind === b.kind;

const sameRule = (a: BGPFilterRuleV4 | BGPFilterRuleV6, b: BGPFilterRuleV4 | BGPFilterRuleV6): boolean =>
  a.cidr === b.cidr &&
  a.prefixLength?.min === b.prefixLength?.min &&
  a.prefixLength?.max === b.prefixLength?.max &&
  a.matchOperator === b.matchOperator &&
  a.source === b.source &&
  a.interface === b.interface &&
  a.action === b.action;

/** True when two BGPFilter specs have the same rules in the same order. */
export function sameFilterSpec(a: BGPFilterSpec, b: BGPFilterSpec): boolean {
  return (
    a === b ||
    (sameList(a.exportV4, b.exportV4, sameRule) &&
      sameList(a.importV4, b.importV4, sameRule) &&
      sameList(a.exportV6, b.exportV6, sameRule) &&
      sameList(a.importV6, b.importV6, sameRule))
  );
}

const sameFilter = (a: CompiledFilter, b: CompiledFilter): boolean => a.name === b.name && sameFilterSpec(a.spec, b.spec);

/** True when two compiled node configurations are identical (deep). */
export function sameNodeConfig(a: CompiledNodeConfig, b: CompiledNodeConfig): boolean {
  if (a === b) return true;
  return (
    a.node === b.node &&
    a.asNumber === b.asNumber &&
    a.asNumberOrigin === b.asNumberOrigin &&
    a.routerId === b.routerId &&
    a.routerIdOrigin === b.routerIdOrigin &&
    a.listenPort === b.listenPort &&
    a.listenPortOrigin === b.listenPortOrigin &&
    a.bindToNodeAddress === b.bindToNodeAddress &&
    a.ipv4 === b.ipv4 &&
    a.ipv6 === b.ipv6 &&
    a.ipv4Network === b.ipv4Network &&
    a.ipv6Network === b.ipv6Network &&
    a.clusterId === b.clusterId &&
    sameList(a.peers, b.peers, samePeer) &&
    samePrefixes(a.prefixes, b.prefixes) &&
    sameList(a.blocks, b.blocks, sameBlock) &&
    sameList(a.workloads, b.workloads, sameWorkload) &&
    sameList(a.pools, b.pools, samePool) &&
    sameList(a.communities, b.communities, sameCommunities) &&
    sameList(a.services, b.services, sameService) &&
    sameList(a.filters, b.filters, sameFilter) &&
    a.logSeverityScreen === b.logSeverityScreen
  );
}

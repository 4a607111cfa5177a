import type { IPFamily } from '@tabby/api';
import type { BGPFilterSpec } from '@tabby/proto';

/** A secret reference (BGP passwords are never resolved by the topology service). */
export interface SecretRef {
  readonly name: string;
  readonly key: string;
}

/** The calicoctl peer types (docs/calico-compat.md §2.7). */
export type PeerKind = 'mesh' | 'global' | 'node';

/** "PEER TYPE" of `calicoctl node status` for each kind. */
export const PEER_TYPE_LABELS: Readonly<Record<PeerKind, string>> = {
  mesh: 'node-to-node mesh',
  global: 'global',
  node: 'node specific',
};

/** The rule that produced a session. */
export type PeerRuleName =
  | 'mesh'
  | 'global-peer-ip'
  | 'global-peer-selector'
  | 'node-peer-ip'
  | 'node-peer-selector'
  | 'reverse-peer-ip'
  | 'reverse-peer-selector';

/** One resource and rule behind a session; `used` is false for a collapsed duplicate. */
export interface PeerSourceInfo {
  readonly resource: string;
  readonly rule: PeerRuleName;
  readonly used: boolean;
}

/** Where a compiled value came from. */
export type ValueOrigin = 'node' | 'node-bgp-configuration' | 'default-bgp-configuration' | 'builtin-default' | 'node-name-hash';

/** One session of a node, as the compiler decided it. Immutable. */
export interface CompiledPeer {
  readonly family: IPFamily;
  readonly address: string;
  /** Sort key of the address (see addressSortKey). */
  readonly addressKey: string;
  /** Effective port (179 unless set). */
  readonly port: number;
  /** The port as configured (0 when none), for Calico's protocol name. */
  readonly configuredPort: number;
  readonly remoteAs: number;
  readonly localAs: number;
  readonly kind: PeerKind;
  readonly ibgp: boolean;
  readonly keepOriginalNextHop: boolean;
  readonly nextHopMode: 'Auto' | 'Self' | 'Keep';
  readonly passive: boolean;
  readonly rrClient: boolean;
  /** This node's cluster id on a client session. */
  readonly clusterId: string;
  /** The node at `address`, if any, and its cluster id. */
  readonly peerNode: string;
  readonly peerClusterId: string;
  readonly sourceAddress: string;
  readonly password: SecretRef | undefined;
  readonly restartTimeS: number;
  readonly ttlSecurity: number;
  readonly numAllowedLocalAS: number;
  readonly reachableBy: string;
  readonly filters: readonly string[];
  /** Names in `filters` with no BGPFilter (the speaker keeps the session down). */
  readonly missingFilters: readonly string[];
  readonly keepaliveS: number;
  /** Calico's BIRD protocol name (Mesh_10_0_0_2, Node_10_0_0_2_port_1790). */
  readonly name: string;
  readonly sources: readonly PeerSourceInfo[];
}

/** A prefix a node originates. */
export interface CompiledPrefix {
  readonly cidr: string;
  readonly pool: string;
  readonly family: IPFamily;
  readonly sortKey: string;
}

/** A node's compiled BGP configuration (without its generation, which the service adds). */
export interface CompiledNodeConfig {
  readonly node: string;
  readonly asNumber: number;
  readonly asNumberOrigin: ValueOrigin;
  readonly routerId: string;
  readonly routerIdOrigin: ValueOrigin;
  readonly listenPort: number;
  readonly listenPortOrigin: ValueOrigin;
  readonly bindToNodeAddress: boolean;
  readonly ipv4: string;
  readonly ipv6: string;
  readonly ipv4Network: string;
  readonly ipv6Network: string;
  readonly clusterId: string;
  /** Sorted by family, address and port; at most one per address and port. */
  readonly peers: readonly CompiledPeer[];
  readonly prefixes: readonly CompiledPrefix[];
  /** Every block affine to the node (blackholed), exported or not; sorted like prefixes. */
  readonly blocks: readonly CompiledBlock[];
  /** The node's WorkloadEndpoints, sorted by namespace/name. */
  readonly workloads: readonly CompiledWorkload[];
  /** Every IP pool, sorted by name (the same array for every node of a commit). */
  readonly pools: readonly CompiledPool[];
  /** Communities by prefix (prefixAdvertisements of node.<name>, else of default). */
  readonly communities: readonly CompiledCommunities[];
  /** Service ranges the node announces. */
  readonly services: readonly CompiledService[];
  /** The existing BGPFilters its sessions name, sorted by name. */
  readonly filters: readonly CompiledFilter[];
  /** logSeverityScreen of node.<name>, else of default, else Info. */
  readonly logSeverityScreen: string;
}

/** The communities attached to routes inside a prefix. */
export interface CompiledCommunities {
  readonly cidr: string;
  readonly family: IPFamily;
  /** `aa:nn`, sorted, unique. */
  readonly standard: readonly string[];
  /** `aa:nn:mm`, sorted, unique. */
  readonly large: readonly string[];
}

/** The BGPConfiguration list a service range comes from. */
export type ServiceKind = 'ClusterIP' | 'ExternalIP' | 'LoadBalancer';

/** A service range the node announces. */
export interface CompiledService {
  readonly cidr: string;
  readonly family: IPFamily;
  readonly kind: ServiceKind;
}

/** A BGPFilter by name; the spec is the stored message (never mutated). */
export interface CompiledFilter {
  readonly name: string;
  readonly spec: BGPFilterSpec;
}

/** A block affine to the node. */
export interface CompiledBlock extends CompiledPrefix {
  /** False inside a disableBGPExport pool. */
  readonly exported: boolean;
}

/** A WorkloadEndpoint on the node. */
export interface CompiledWorkload {
  /** namespace/name */
  readonly name: string;
  readonly interfaceName: string;
  /** Canonical /32 and /128 CIDRs. */
  readonly addresses: readonly string[];
}

/** What routing needs of an IP pool. */
export interface CompiledPool {
  readonly name: string;
  readonly cidr: string;
  readonly family: IPFamily;
  readonly disableBGPExport: boolean;
  readonly ipipMode: string;
  readonly vxlanMode: string;
  readonly disabled: boolean;
}

/** Identity of a session within a node: address and port (Calico's `<ip>[-<port>]` key). */
export function sessionKey(address: string, configuredPort: number): string {
  return configuredPort === 0 || configuredPort === 179 ? address : `${address}-${configuredPort}`;
}

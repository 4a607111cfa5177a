import { parseCIDR, parseDuration, parseIPOrCIDR, parsePeerAddress, type IPFamily, type ParsedCIDR, type PeerAddress } from '@tabby/api';
import type { BGPConfiguration, BGPConfigurationSpec, BGPPeer, IPPool, Node, WorkloadEndpoint } from '@tabby/proto';
import { parseSelector, type Selector } from '@tabby/selector';
import type { CompiledCommunities, CompiledService, SecretRef, ServiceKind } from './types.js';

/** Calico's built-in default AS (docs/calico-compat.md §2.1). */
export const DEFAULT_AS_NUMBER = 64512;
/** The BGP port when nothing says otherwise. */
export const BGP_PORT = 179;
/** Name of the cluster-wide BGPConfiguration; per-node ones are `node.<name>`. */
export const DEFAULT_CONFIG_NAME = 'default';
export const NODE_CONFIG_PREFIX = 'node.';

export type { SecretRef };

/** What the compiler needs of a Node resource. */
export interface NodeModel {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** BGP addresses, canonical IP text, '' when unset. */
  readonly ipv4: string;
  readonly ipv6: string;
  /** Sort keys of the addresses (fixed-width hex). */
  readonly ipv4Key: string;
  readonly ipv6Key: string;
  /** The addresses as BIRD protocol names write them (`10_0_0_1`, `fd00__1`). */
  readonly ipv4Id: string;
  readonly ipv6Id: string;
  /** The masked subnets the addresses were written with ('' when given without one). */
  readonly ipv4Network: string;
  readonly ipv6Network: string;
  /** spec.bgp.asNumber, when set. */
  readonly asNumber: number | undefined;
  /** spec.bgp.routeReflectorClusterID; non-empty makes the node a route reflector. */
  readonly clusterId: string;
}

/** What the compiler needs of a BGPPeer resource. */
export interface PeerModel {
  readonly name: string;
  /** `BGPPeer(<name>)`, as Calico names resources in messages. */
  readonly id: string;
  /** Neither node nor nodeSelector: every node gets the peering. */
  readonly global: boolean;
  readonly node: string;
  readonly nodeSelector: Selector | undefined;
  readonly nodeSelectorText: string;
  readonly peerSelector: Selector | undefined;
  readonly peerSelectorText: string;
  readonly peerAddress: PeerAddress | undefined;
  readonly peerIPText: string;
  /** Remote AS of a peerIP peer; 0 when unset. */
  readonly asNumber: number;
  readonly localAsNumber: number | undefined;
  readonly keepOriginalNextHop: boolean;
  /** Auto, Self or Keep ('' = Auto). */
  readonly nextHopMode: string;
  readonly password: SecretRef | undefined;
  /** sourceAddress UseNodeIP (the default) rather than None. */
  readonly useNodeIP: boolean;
  readonly restartTimeS: number;
  readonly numAllowedLocalAS: number;
  readonly ttlSecurity: number;
  readonly reachableBy: string;
  readonly filters: readonly string[];
  readonly keepaliveS: number;
  /** reversePeering is not Manual. */
  readonly reverse: boolean;
  /** Why this BGPPeer produces no peering at all (bad selector, nothing to peer with). */
  readonly unusable: string | undefined;
}

/** Settings from the `default` and `node.<name>` BGPConfigurations. */
export interface Settings {
  readonly meshEnabled: boolean;
  /** Whether the default BGPConfiguration sets nodeToNodeMeshEnabled at all. */
  readonly meshExplicit: boolean;
  readonly hasDefaultConfig: boolean;
  /** asNumber of the default BGPConfiguration, when set. */
  readonly asNumber: number | undefined;
  readonly listenPort: number | undefined;
  readonly bindNodeIP: boolean;
  readonly meshPassword: SecretRef | undefined;
  readonly meshRestartTimeS: number;
  /** logSeverityScreen, '' when unset. */
  readonly logSeverityScreen: string;
  /** Resolved prefixAdvertisements; undefined when there are none. */
  readonly communities: readonly CompiledCommunities[] | undefined;
  /** The service ranges every node announces (unless excluded by its label). */
  readonly services: readonly CompiledService[];
}

export const NO_SETTINGS: Settings = {
  meshEnabled: true,
  meshExplicit: false,
  hasDefaultConfig: false,
  asNumber: undefined,
  listenPort: undefined,
  bindNodeIP: false,
  meshPassword: undefined,
  meshRestartTimeS: 0,
  logSeverityScreen: '',
  communities: undefined,
  services: [],
};

/** What Calico honours of a `node.<name>` BGPConfiguration (docs/calico-compat.md §1.1). */
export interface NodeSettings {
  readonly listenPort: number | undefined;
  /** '' when unset. */
  readonly logSeverityScreen: string;
  /** Resolved prefixAdvertisements; undefined when there are none (the default's apply). */
  readonly communities: readonly CompiledCommunities[] | undefined;
}

/** Calico's log level when no BGPConfiguration sets one. */
export const DEFAULT_LOG_SEVERITY = 'Info';

/**
 * Node label that keeps a node from announcing service ranges (Calico's
 * ExcludeServiceAdvertisement, the Kubernetes label of the same meaning).
 */
export const EXCLUDE_SERVICES_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

/** What the compiler needs of an IPPool. */
export interface PoolModel {
  readonly name: string;
  readonly cidr: ParsedCIDR | undefined;
  readonly disableBGPExport: boolean;
  readonly ipipMode: string;
  readonly vxlanMode: string;
  readonly disabled: boolean;
}

/** A WorkloadEndpoint as routing sees it. */
export interface WorkloadModel {
  /** namespace/name */
  readonly key: string;
  readonly node: string;
  readonly interfaceName: string;
  /** Canonical single-address CIDRs; unparsable entries are dropped (the store validates them). */
  readonly addresses: readonly string[];
}

/** An IPAM block and the node it is affine to ('' when none). */
export interface BlockModel {
  readonly cidr: string;
  readonly parsed: ParsedCIDR | undefined;
  readonly node: string;
  readonly pool: string;
}

/** An address as Calico's BIRD protocol names write it: `.` and `:` become `_`. */
export function protocolId(address: string): string {
  return address.replace(/[.:]/g, '_');
}

/** Fixed-width sort key of an address value: IPv4 before IPv6, numeric order. */
export function addressSortKey(family: IPFamily, value: bigint): string {
  // join() gives a flat string: keys are compared millions of times (sorts, binary
  // searches), and a concatenation would be compared through V8's slow path.
  return [family, value.toString(16).padStart(family === 4 ? 8 : 32, '0')].join('');
}

function selectorOf(text: string): { selector: Selector | undefined; error: string | undefined } {
  if (text.trim() === '') return { selector: undefined, error: undefined };
  const r = parseSelector(text);
  return r.ok ? { selector: r.selector, error: undefined } : { selector: undefined, error: r.error.message };
}

function seconds(duration: string): number {
  if (duration === '') return 0;
  const ms = parseDuration(duration);
  return ms === undefined ? 0 : Math.round(ms / 1000);
}

function secretOf(s: { secretKeyRef?: { name: string; key: string } } | undefined): SecretRef | undefined {
  const ref = s?.secretKeyRef;
  return ref && ref.name !== '' ? { name: ref.name, key: ref.key } : undefined;
}

/** The compiler's view of a Node. */
export function nodeModel(node: Node): NodeModel {
  const bgp = node.spec?.bgp;
  const v4 = bgp?.ipv4Address ? parseIPOrCIDR(bgp.ipv4Address) : undefined;
  const v6 = bgp?.ipv6Address ? parseIPOrCIDR(bgp.ipv6Address) : undefined;
  const ok4 = v4 && v4.family === 4 ? v4 : undefined;
  const ok6 = v6 && v6.family === 6 ? v6 : undefined;
  return {
    name: node.metadata?.name ?? '',
    labels: node.metadata?.labels ?? {},
    ipv4: ok4?.address.text ?? '',
    ipv6: ok6?.address.text ?? '',
    ipv4Key: ok4 ? addressSortKey(4, ok4.address.value) : '',
    ipv6Key: ok6 ? addressSortKey(6, ok6.address.value) : '',
    ipv4Id: protocolId(ok4?.address.text ?? ''),
    ipv6Id: protocolId(ok6?.address.text ?? ''),
    ipv4Network: ok4 && bgp?.ipv4Address.includes('/') ? ok4.canonical : '',
    ipv6Network: ok6 && bgp?.ipv6Address.includes('/') ? ok6.canonical : '',
    asNumber: bgp?.asNumber,
    clusterId: bgp?.routeReflectorClusterID ?? '',
  };
}

/** The compiler's view of a BGPPeer. */
export function peerModel(peer: BGPPeer): PeerModel {
  const name = peer.metadata?.name ?? '';
  const spec = peer.spec;
  const nodeSel = selectorOf(spec?.nodeSelector ?? '');
  const peerSel = selectorOf(spec?.peerSelector ?? '');
  const peerIPText = spec?.peerIP ?? '';
  const peerAddress = peerIPText === '' ? undefined : parsePeerAddress(peerIPText);
  let unusable: string | undefined;
  if (nodeSel.error) unusable = `its nodeSelector does not parse (${nodeSel.error})`;
  else if (peerSel.error) unusable = `its peerSelector does not parse (${peerSel.error})`;
  else if ((spec?.localWorkloadSelector ?? '') !== '') unusable = 'localWorkloadSelector peerings are not supported by Tabby';
  else if ((spec?.peerSelector ?? '').trim() === '' && peerIPText === '') unusable = 'it has neither peerIP nor peerSelector';
  else if ((spec?.peerSelector ?? '').trim() === '' && !peerAddress) unusable = `its peerIP ${JSON.stringify(peerIPText)} is not an address`;
  const nodeSelectorText = spec?.nodeSelector ?? '';
  return {
    name,
    id: `BGPPeer(${name})`,
    global: (spec?.node ?? '') === '' && nodeSelectorText === '',
    node: spec?.node ?? '',
    nodeSelector: nodeSel.selector,
    nodeSelectorText,
    peerSelector: peerSel.selector,
    peerSelectorText: spec?.peerSelector ?? '',
    peerAddress: (spec?.peerSelector ?? '').trim() === '' ? peerAddress : undefined,
    peerIPText,
    asNumber: spec?.asNumber ?? 0,
    localAsNumber: spec?.localASNumber !== undefined && spec.localASNumber !== 0 ? spec.localASNumber : undefined,
    keepOriginalNextHop: spec?.keepOriginalNextHop ?? false,
    nextHopMode: spec?.nextHopMode ?? '',
    password: secretOf(spec?.password),
    useNodeIP: (spec?.sourceAddress ?? '') !== 'None',
    restartTimeS: seconds(spec?.maxRestartTime ?? ''),
    numAllowedLocalAS: spec?.numAllowedLocalASNumbers ?? 0,
    ttlSecurity: spec?.ttlSecurity ?? 0,
    reachableBy: spec?.reachableBy ?? '',
    filters: spec?.filters ?? [],
    keepaliveS: seconds(spec?.keepaliveTime ?? ''),
    reverse: (spec?.reversePeering ?? '') !== 'Manual',
    unusable,
  };
}

/** Settings from the default BGPConfiguration (undefined: there is none). */
export function settingsOf(config: BGPConfiguration | undefined): Settings {
  if (!config) return NO_SETTINGS;
  const spec = config.spec;
  const mesh = spec?.nodeToNodeMeshEnabled;
  return {
    meshEnabled: mesh ?? true,
    meshExplicit: mesh !== undefined,
    hasDefaultConfig: true,
    asNumber: spec?.asNumber,
    listenPort: spec?.listenPort !== undefined && spec.listenPort !== 0 ? spec.listenPort : undefined,
    bindNodeIP: spec?.bindMode === 'NodeIP',
    meshPassword: secretOf(spec?.nodeMeshPassword),
    meshRestartTimeS: seconds(spec?.nodeMeshMaxRestartTime ?? ''),
    logSeverityScreen: spec?.logSeverityScreen ?? '',
    communities: prefixCommunities(spec),
    services: serviceRanges(spec),
  };
}

/** What the compiler takes from a `node.<name>` BGPConfiguration (undefined: there is none). */
export function nodeSettingsOf(config: BGPConfiguration | undefined): NodeSettings | undefined {
  if (!config) return undefined;
  const spec = config.spec;
  return {
    listenPort: spec?.listenPort !== undefined && spec.listenPort !== 0 ? spec.listenPort : undefined,
    logSeverityScreen: spec?.logSeverityScreen ?? '',
    communities: prefixCommunities(spec),
  };
}

/** `standard` (`aa:nn`, 16-bit parts) or `large` (`aa:nn:mm`, 32-bit parts); undefined when neither. */
export function communityKind(value: string): 'standard' | 'large' | undefined {
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts.every((x) => /^\d{1,10}$/.test(x))) return undefined;
  const max = parts.length === 2 ? 0xffff : 0xffffffff;
  if (!parts.every((x) => Number(x) <= max)) return undefined;
  return parts.length === 2 ? 'standard' : 'large';
}

/**
 * A BGPConfiguration's prefixAdvertisements with community names resolved against the
 * `communities` of the same object, as Calico's confd does (getPrefixAdvertisementsKVPair):
 * a literal value is used as it is, a name takes the value of the first community of that
 * name, an unknown name is dropped (validation refuses it); the values of one prefix are
 * de-duplicated and sorted as strings, then split into standard and large by their form.
 * Undefined when the object has no prefixAdvertisements.
 */
export function prefixCommunities(spec: BGPConfigurationSpec | undefined): CompiledCommunities[] | undefined {
  const ads = spec?.prefixAdvertisements ?? [];
  if (ads.length === 0) return undefined;
  const defined = new Map<string, string>();
  for (const c of spec?.communities ?? []) if (!defined.has(c.name)) defined.set(c.name, c.value);
  const out: CompiledCommunities[] = [];
  for (const a of ads) {
    const cidr = parseCIDR(a.cidr);
    if (!cidr) continue;
    const values = new Set<string>();
    for (const c of a.communities) {
      const v = communityKind(c) !== undefined ? c : defined.get(c);
      if (v !== undefined && communityKind(v) !== undefined) values.add(v);
    }
    const all = [...values].sort();
    out.push({
      cidr: cidr.canonical,
      family: cidr.family,
      standard: all.filter((v) => communityKind(v) === 'standard'),
      large: all.filter((v) => communityKind(v) === 'large'),
    });
  }
  return out;
}

/**
 * The service ranges every node announces: serviceClusterIPs, serviceExternalIPs, then
 * serviceLoadBalancerIPs unless serviceLoadBalancerAggregation is Disabled (Calico then
 * announces per-service /32s from nodes with endpoints, which Tabby, without Kubernetes
 * Services, never has). Canonical CIDRs (a bare IP is a /32 or /128); a range listed twice
 * is announced once, under the first list that names it.
 */
export function serviceRanges(spec: BGPConfigurationSpec | undefined): CompiledService[] {
  if (!spec) return [];
  const lists: [ServiceKind, readonly { cidr: string }[]][] = [
    ['ClusterIP', spec.serviceClusterIPs],
    ['ExternalIP', spec.serviceExternalIPs],
    ['LoadBalancer', spec.serviceLoadBalancerAggregation === 'Disabled' ? [] : spec.serviceLoadBalancerIPs],
  ];
  const seen = new Set<string>();
  const out: CompiledService[] = [];
  for (const [kind, list] of lists) {
    for (const { cidr } of list) {
      const c = parseIPOrCIDR(cidr);
      if (!c || seen.has(c.canonical)) continue;
      seen.add(c.canonical);
      out.push({ cidr: c.canonical, family: c.family, kind });
    }
  }
  return out;
}

/** The compiler's view of an IPPool. */
export function poolModel(pool: IPPool): PoolModel {
  return {
    name: pool.metadata?.name ?? '',
    cidr: parseCIDR(pool.spec?.cidr ?? ''),
    disableBGPExport: pool.spec?.disableBGPExport ?? false,
    ipipMode: pool.spec?.ipipMode || 'Never',
    vxlanMode: pool.spec?.vxlanMode || 'Never',
    disabled: pool.spec?.disabled ?? false,
  };
}

/** A WorkloadEndpoint's node, host-side interface and addresses. */
export function workloadModel(wep: WorkloadEndpoint): WorkloadModel {
  const addresses: string[] = [];
  for (const n of wep.spec?.ipNetworks ?? []) {
    const c = parseCIDR(n.includes('/') ? n : `${n}/${n.includes(':') ? 128 : 32}`);
    if (c) addresses.push(c.canonical);
  }
  return {
    key: `${wep.metadata?.namespace ?? ''}/${wep.metadata?.name ?? ''}`,
    node: wep.spec?.node ?? '',
    interfaceName: wep.spec?.interfaceName ?? '',
    addresses,
  };
}

/** A block as IPAM reports it. */
export function blockModel(block: { cidr: string; node: string; pool: string }): BlockModel {
  const parsed = parseCIDR(block.cidr);
  return { cidr: parsed?.canonical ?? block.cidr, parsed, node: block.node, pool: block.pool };
}

import { cidrContains, parseCIDR, parseIP, type ParsedCIDR } from '@tabby/api';
import { peerKey, type Family, type PeerConfig as SpeakerPeer, type PolicyRule, type RoutePolicy } from '@tabby/bgp';
import { AddressFamily, type BGPFilterRuleV4, type BGPFilterRuleV6, type NodeConfig, type PeerConfig } from '@tabby/proto';
import { ConfigError } from '@tabby/runtime';
import { SecretsDir } from './secrets.js';

/** What the agent adds to a compiled peer to make a speaker peer. */
export interface PeerDefaults {
  readonly ipv4Address: string;
  readonly ipv6Address?: string;
  readonly nextHopIPv4?: string;
  readonly nextHopIPv6?: string;
  readonly holdTimeS: number;
}

/** A compiled session, ready for the speaker, with what status needs of it. */
export interface DesiredPeer {
  readonly key: string;
  readonly config: SpeakerPeer;
  readonly typeLabel: string;
  readonly family: 'ipv4' | 'ipv6';
  /** A router outside the cluster (not a node): routes are never passed from one such peer to another. */
  readonly external: boolean;
  /** Why the agent will not run it (outside --peer-allow, no local address of its family, its password secret unreadable). */
  readonly blocked?: string;
  /** BGPPeer reachableBy: the gateway of a host route to the peer. */
  readonly reachableBy?: string;
  /** `name/key` of the password secret (the password itself is only in `config`). */
  readonly passwordSecret?: string;
}

const FAMILY: Partial<Record<AddressFamily, Family>> = {
  [AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST]: 'ipv4-unicast',
  [AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST]: 'ipv6-unicast',
};

/** Parses `--peer-allow` (comma-separated CIDRs or addresses). */
export function parseAllowList(text: string | undefined): ParsedCIDR[] | undefined {
  if (!text) return undefined;
  return text.split(',').map((part) => {
    const t = part.trim();
    const c = t.includes('/') ? parseCIDR(t) : parseIP(t) ? parseCIDR(`${t}/${t.includes(':') ? 128 : 32}`) : undefined;
    if (!c) throw new ConfigError(`--peer-allow: "${t}" is not a CIDR or an address`);
    return c;
  });
}

function nextHopMode(p: PeerConfig): SpeakerPeer['nextHopMode'] {
  switch (p.nextHopMode.toLowerCase()) {
    case 'self':
      return 'self';
    case 'keep':
      return 'keep';
    default:
      return p.keepOriginalNextHop ? 'keep' : 'auto';
  }
}

function policyRule(r: BGPFilterRuleV4 | BGPFilterRuleV6): PolicyRule {
  const min = r.prefixLength?.min;
  const max = r.prefixLength?.max;
  return {
    action: r.action.toLowerCase() === 'reject' ? 'reject' : 'accept',
    ...(r.cidr ? { cidr: r.cidr } : {}),
    ...(r.matchOperator ? { matchOperator: r.matchOperator as NonNullable<PolicyRule['matchOperator']> } : {}),
    ...(min !== undefined || max !== undefined ? { prefixLength: { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) } } : {}),
    ...(r.source === 'RemotePeers' ? { source: 'RemotePeers' as const } : {}),
    ...(r.interface ? { interface: r.interface } : {}),
  };
}

/**
 * A session's import and export policies: the rules of its BGPFilters, filter after filter in
 * the order the BGPPeer names them (BIRD calls one function per filter; the first matching rule
 * of any decides, so the concatenation is the same).
 */
export function peerPolicies(node: NodeConfig, names: readonly string[]): { importPolicy?: RoutePolicy; exportPolicy?: RoutePolicy } {
  if (names.length === 0) return {};
  const byName = new Map(node.filters.map((f) => [f.name, f.spec]));
  const specs = names.map((n) => byName.get(n)).filter((s) => s !== undefined);
  const rules = (pick: (s: NonNullable<(typeof specs)[number]>) => (BGPFilterRuleV4 | BGPFilterRuleV6)[]): PolicyRule[] => specs.flatMap((s) => pick(s).map(policyRule));
  const imp = { v4: rules((s) => s.importV4), v6: rules((s) => s.importV6) };
  const exp = { v4: rules((s) => s.exportV4), v6: rules((s) => s.exportV6) };
  const nonEmpty = (p: { v4: PolicyRule[]; v6: PolicyRule[] }): RoutePolicy | undefined =>
    p.v4.length + p.v6.length === 0 ? undefined : { ...(p.v4.length ? { v4: p.v4 } : {}), ...(p.v6.length ? { v6: p.v6 } : {}) };
  const importPolicy = nonEmpty(imp);
  const exportPolicy = nonEmpty(exp);
  return { ...(importPolicy ? { importPolicy } : {}), ...(exportPolicy ? { exportPolicy } : {}) };
}

/** The speaker peers a compiled configuration asks for. */
export function desiredPeers(node: NodeConfig, defaults: PeerDefaults, allow: readonly ParsedCIDR[] | undefined, secrets = new SecretsDir(undefined)): DesiredPeer[] {
  const out: DesiredPeer[] = [];
  for (const p of node.peers) {
    const ip = parseIP(p.address);
    if (!ip) continue;
    const v6 = ip.family === 6;
    const families = p.families.map((f) => FAMILY[f]).filter((f): f is Family => f !== undefined);
    // The compiled source address is empty only for sourceAddress: None: no bind, the kernel
    // picks the source by its routes (as BIRD without `source address`).
    const localAddress = p.sourceAddress === '' ? null : p.sourceAddress;
    let blocked: string | undefined;
    if (allow && !allow.some((c) => cidrContains(c, ip))) blocked = 'not dialled: outside --peer-allow';
    else if (localAddress !== null && !(v6 ? defaults.ipv6Address : defaults.ipv4Address)) blocked = `no local ${v6 ? 'IPv6' : 'IPv4'} address (--bgp-${v6 ? 'ipv6-' : ''}address)`;
    // A session whose BGPFilter is gone stays down rather than run unfiltered.
    if (p.missingFilters.length > 0) blocked ??= `BGPFilter(s) not found: ${p.missingFilters.join(', ')}`;
    // A session with a password runs only with its key: never unauthenticated.
    let password: string | undefined;
    if (p.password) {
      const r = secrets.read(p.password);
      if ('value' in r) password = r.value;
      else blocked ??= r.error;
    }
    const config: SpeakerPeer = {
      address: ip.text,
      port: p.port || 179,
      remoteAs: p.remoteAs,
      ...(p.localAs && p.localAs !== node.asNumber ? { localAs: p.localAs } : {}),
      localAddress,
      passive: p.passive,
      rrClient: p.routeReflectorClient,
      families: families.length > 0 ? families : [v6 ? 'ipv6-unicast' : 'ipv4-unicast'],
      holdTimeS: defaults.holdTimeS,
      ...(p.keepaliveTimeSeconds ? { keepaliveTimeS: p.keepaliveTimeSeconds } : {}),
      ...(p.gracefulRestartTimeSeconds ? { gracefulRestartTimeS: p.gracefulRestartTimeSeconds } : {}),
      ...(p.numAllowedLocalASNumbers > 0 ? { allowOwnAs: p.numAllowedLocalASNumbers } : {}),
      nextHopMode: nextHopMode(p),
      ...(password !== undefined ? { password } : {}),
      ...(p.ttlSecurity > 0 ? { ttlSecurity: p.ttlSecurity } : {}),
      ...peerPolicies(node, p.filters),
      ...(defaults.nextHopIPv4 ? { nextHopIPv4: defaults.nextHopIPv4 } : {}),
      ...(defaults.nextHopIPv6 ? { nextHopIPv6: defaults.nextHopIPv6 } : {}),
      description: p.typeLabel,
    };
    out.push({
      key: peerKey(config.address, config.port),
      config,
      typeLabel: p.typeLabel,
      family: v6 ? 'ipv6' : 'ipv4',
      external: p.peerNode === '',
      blocked,
      ...(p.reachableBy ? { reachableBy: p.reachableBy } : {}),
      ...(p.password ? { passwordSecret: SecretsDir.label(p.password) } : {}),
    });
  }
  return out;
}

import { cidrContains, parseCIDR, parseIP, type ParsedCIDR } from '@tabby/api';
import { peerKey, type Family, type PeerConfig as SpeakerPeer } from '@tabby/bgp';
import { AddressFamily, type NodeConfig, type PeerConfig } from '@tabby/proto';
import { ConfigError } from '@tabby/runtime';

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
  /** Why the agent will not run it (outside --peer-allow, no local address of its family). */
  readonly blocked?: string;
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

/** The speaker peers a compiled configuration asks for. */
export function desiredPeers(node: NodeConfig, defaults: PeerDefaults, allow: readonly ParsedCIDR[] | undefined): DesiredPeer[] {
  const out: DesiredPeer[] = [];
  for (const p of node.peers) {
    const ip = parseIP(p.address);
    if (!ip) continue;
    const v6 = ip.family === 6;
    const families = p.families.map((f) => FAMILY[f]).filter((f): f is Family => f !== undefined);
    const localAddress = p.sourceAddress || (v6 ? defaults.ipv6Address : defaults.ipv4Address);
    let blocked: string | undefined;
    if (allow && !allow.some((c) => cidrContains(c, ip))) blocked = 'not dialled: outside --peer-allow';
    else if (!localAddress) blocked = `no local ${v6 ? 'IPv6' : 'IPv4'} address (--bgp-${v6 ? 'ipv6-' : ''}address)`;
    const config: SpeakerPeer = {
      address: ip.text,
      port: p.port || 179,
      remoteAs: p.remoteAs,
      ...(p.localAs && p.localAs !== node.asNumber ? { localAs: p.localAs } : {}),
      ...(localAddress ? { localAddress } : {}),
      passive: p.passive,
      rrClient: p.routeReflectorClient,
      families: families.length > 0 ? families : [v6 ? 'ipv6-unicast' : 'ipv4-unicast'],
      holdTimeS: defaults.holdTimeS,
      ...(p.keepaliveTimeSeconds ? { keepaliveTimeS: p.keepaliveTimeSeconds } : {}),
      ...(p.gracefulRestartTimeSeconds ? { gracefulRestartTimeS: p.gracefulRestartTimeSeconds } : {}),
      ...(p.numAllowedLocalASNumbers > 0 ? { allowOwnAs: p.numAllowedLocalASNumbers } : {}),
      nextHopMode: nextHopMode(p),
      ...(defaults.nextHopIPv4 ? { nextHopIPv4: defaults.nextHopIPv4 } : {}),
      ...(defaults.nextHopIPv6 ? { nextHopIPv6: defaults.nextHopIPv6 } : {}),
      description: p.typeLabel,
    };
    out.push({ key: peerKey(config.address, config.port), config, typeLabel: p.typeLabel, family: v6 ? 'ipv6' : 'ipv4', external: p.peerNode === '', blocked });
  }
  return out;
}

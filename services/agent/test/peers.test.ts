import { AddressFamily, NodeConfig, PeerConfig, PeerType } from '@tabby/proto';
import { describe, expect, it } from 'vitest';
import { desiredPeers, parseAllowList } from '../src/index.js';

function peer(extra: Partial<PeerConfig>): PeerConfig {
  return PeerConfig.fromPartial({
    address: '127.0.0.12',
    port: 1790,
    remoteAs: 64512,
    localAs: 64512,
    type: PeerType.PEER_TYPE_NODE_TO_NODE_MESH,
    typeLabel: 'node-to-node mesh',
    ibgp: true,
    families: [AddressFamily.ADDRESS_FAMILY_IPV4_UNICAST],
    ...extra,
  });
}

const node = (peers: PeerConfig[]): NodeConfig => NodeConfig.fromPartial({ node: 'node1', exists: true, asNumber: 64512, routerId: '127.0.0.11', listenPort: 1790, peers });
const defaults = { ipv4Address: '127.0.0.11', holdTimeS: 9, nextHopIPv4: '10.0.0.11' };

describe('desiredPeers: compiled sessions as speaker peers', () => {
  it('maps a mesh peer: address, port, AS, source address, family, hold time, next hop', () => {
    const [p] = desiredPeers(node([peer({ passive: true })]), defaults, undefined);
    expect(p).toMatchObject({
      key: '127.0.0.12:1790',
      typeLabel: 'node-to-node mesh',
      family: 'ipv4',
      config: { address: '127.0.0.12', port: 1790, remoteAs: 64512, localAddress: '127.0.0.11', passive: true, rrClient: false, families: ['ipv4-unicast'], holdTimeS: 9, nextHopIPv4: '10.0.0.11', nextHopMode: 'auto' },
    });
    expect(p?.blocked).toBeUndefined();
    expect(p?.config.localAs).toBeUndefined();
  });

  it('keeps keepOriginalNextHop, localAS, RR clients and port 179 keys as the speaker names them', () => {
    const [a, b] = desiredPeers(
      node([peer({ address: '127.0.0.40', port: 179, remoteAs: 64567, localAs: 63400, keepOriginalNextHop: true, typeLabel: 'global' }), peer({ routeReflectorClient: true, clusterId: '224.0.0.1' })]),
      defaults,
      undefined,
    );
    expect(a).toMatchObject({ key: '127.0.0.40', config: { localAs: 63400, nextHopMode: 'keep', remoteAs: 64567 } });
    expect(b?.config.rrClient).toBe(true);
  });

  it('never runs a peer outside --peer-allow, nor an IPv6 peer without an IPv6 address', () => {
    const allow = parseAllowList('127.0.0.0/8, ::1');
    const peers = desiredPeers(
      node([peer({ address: '192.20.30.40', port: 179, typeLabel: 'global' }), peer({ address: 'fd00::2', families: [AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST] })]),
      defaults,
      allow,
    );
    expect(peers.map((p) => [p.key, p.blocked])).toEqual([
      ['192.20.30.40', 'not dialled: outside --peer-allow'],
      ['[fd00::2]:1790', 'not dialled: outside --peer-allow'],
    ]);
    const v6 = desiredPeers(node([peer({ address: 'fd00::2', families: [AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST] })]), defaults, undefined);
    expect(v6[0]?.blocked).toBe('no local IPv6 address (--bgp-ipv6-address)');
    expect(() => parseAllowList('10.0.0.0/33')).toThrow('--peer-allow: "10.0.0.0/33" is not a CIDR or an address');
  });
});

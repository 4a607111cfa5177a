import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AddressFamily, NodeConfig, PeerConfig, PeerType } from '@tabby/proto';
import { describe, expect, it } from 'vitest';
import { desiredPeers, parseAllowList } from '../src/index.js';
import { SecretsDir } from '../src/secrets.js';

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
    sourceAddress: '127.0.0.11',
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
    const v6 = desiredPeers(node([peer({ address: 'fd00::2', sourceAddress: 'fd00::1', families: [AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST] })]), defaults, undefined);
    expect(v6[0]?.blocked).toBe('no local IPv6 address (--bgp-ipv6-address)');
    expect(() => parseAllowList('10.0.0.0/33')).toThrow('--peer-allow: "10.0.0.0/33" is not a CIDR or an address');
  });

  it('sourceAddress: None (compiled as no source address) dials without a bind: the kernel picks the source', () => {
    const [none, v6none] = desiredPeers(
      node([peer({ address: '127.0.0.13', port: 179, typeLabel: 'global', sourceAddress: '' }), peer({ address: 'fd00::3', sourceAddress: '', families: [AddressFamily.ADDRESS_FAMILY_IPV6_UNICAST] })]),
      defaults,
      undefined,
    );
    expect(none?.config.localAddress).toBeNull();
    expect(none?.blocked).toBeUndefined();
    // No IPv6 address of our own is needed when the kernel chooses the source.
    expect(v6none?.config.localAddress).toBeNull();
    expect(v6none?.blocked).toBeUndefined();
  });
});

describe('desiredPeers: passwords, GTSM, reachableBy and BGPFilters (issue 13)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tabby-peer-secrets-'));
  mkdirSync(path.join(dir, 'bgp'));
  writeFileSync(path.join(dir, 'bgp', 'tor'), 'tor-secret\n');
  const secrets = new SecretsDir(dir);

  it('resolves a password from the secrets directory and passes ttlSecurity; reachableBy becomes a host route gateway', () => {
    const [p] = desiredPeers(node([peer({ address: '198.18.7.1', password: { name: 'bgp', key: 'tor' }, ttlSecurity: 2, reachableBy: '198.18.0.1' })]), defaults, undefined, secrets);
    expect(p?.blocked).toBeUndefined();
    expect(p?.config).toMatchObject({ password: 'tor-secret', ttlSecurity: 2 });
    expect(p).toMatchObject({ reachableBy: '198.18.0.1', passwordSecret: 'bgp/tor' });
  });

  it('keeps a peer whose secret is missing down, with a reason that names the secret and not the value', () => {
    const [p] = desiredPeers(node([peer({ password: { name: 'bgp', key: 'gone' } })]), defaults, undefined, secrets);
    expect(p?.blocked).toBe(`password secret bgp/gone: ${path.join(dir, 'bgp', 'gone')} not found`);
    expect(p?.config.password).toBeUndefined();
    const [q] = desiredPeers(node([peer({ password: { name: 'bgp', key: 'tor' } })]), defaults, undefined);
    expect(q?.blocked).toBe('password secret bgp/tor: no --secrets-dir given');
  });

  it("turns the peer's BGPFilters into import/export policies, filter after filter, and keeps a peer with a missing filter down", () => {
    const cfg = NodeConfig.fromPartial({
      ...node([peer({ filters: ['a', 'b'] }), peer({ address: '127.0.0.13', filters: ['a', 'x'], missingFilters: ['x'] })]),
      filters: [
        { name: 'a', spec: { exportV4: [{ cidr: '198.19.0.0/16', matchOperator: 'In', prefixLength: { min: 32 }, action: 'Reject', source: '', interface: '' }], importV4: [], exportV6: [], importV6: [] } },
        { name: 'b', spec: { exportV4: [{ cidr: '', matchOperator: '', source: '', interface: 'cali*', action: 'Accept' }], importV4: [{ cidr: '10.0.0.0/8', matchOperator: 'NotIn', source: '', interface: '', action: 'Reject' }], exportV6: [], importV6: [] } },
      ],
    });
    const [p, q] = desiredPeers(cfg, defaults, undefined);
    expect(p?.config.exportPolicy).toEqual({ v4: [{ action: 'reject', cidr: '198.19.0.0/16', matchOperator: 'In', prefixLength: { min: 32 } }, { action: 'accept', interface: 'cali*' }] });
    expect(p?.config.importPolicy).toEqual({ v4: [{ action: 'reject', cidr: '10.0.0.0/8', matchOperator: 'NotIn' }] });
    expect(q?.blocked).toBe('BGPFilter(s) not found: x');
  });
});

/**
 * The netns fabric's pure parts, without root or namespaces: iproute2's and busybox's output
 * parsed (captured from iproute2 6.1 and busybox 1.35 on Debian 12, IPv4 and IPv6), the address range and
 * namespace guards refusing before anything runs.
 */
import { Fabric, assertFabricAddress, inFabricRange, parseKernelRoutes, parsePing, renderFabricBirdConfig, renderFabricGobgpConfig, renderGobgpConfig } from '@tabby/harness';
import { describe, expect, it } from 'vitest';

// `ip -j route show proto 84` (the filter leaves `protocol` out) and `ip -j route show` (table main).
const PROTO_84 =
  '[{"type":"blackhole","dst":"198.19.0.0/26","flags":[]},{"dst":"198.19.0.5","dev":"v1","scope":"link","flags":[]},{"dst":"198.19.0.64/26","gateway":"198.18.0.12","dev":"v0","flags":["onlink"]},{"dst":"198.19.3.0/24","flags":[],"nexthops":[{"gateway":"198.18.0.12","dev":"v0","weight":1,"flags":[]},{"gateway":"198.18.0.13","dev":"v0","weight":1,"flags":[]}]}]';
const MAIN =
  '[{"dst":"198.18.0.0/24","dev":"v0","protocol":"kernel","scope":"link","prefsrc":"198.18.0.11","flags":[]},{"dst":"198.19.0.128/26","gateway":"198.18.0.12","dev":"v0","protocol":"static","metric":100,"flags":[]}]';

// `ip -j -6 route show proto 84`: IPv6 routes carry no scope; a blackhole is `dev lo`.
const PROTO_84_V6 =
  '[{"dst":"2001:db8:100::5","dev":"v1","metric":1024,"flags":[],"pref":"medium"},{"type":"blackhole","dst":"2001:db8:100::/122","dev":"lo","metric":1024,"flags":[],"pref":"medium"},{"dst":"2001:db8:100::40/122","gateway":"2001:db8:0:1::12","dev":"v0","metric":1024,"flags":["onlink"],"pref":"medium"}]';

describe('parseKernelRoutes', () => {
  it('writes each route as one canonical line, /32 added to bare addresses', () => {
    expect(parseKernelRoutes(PROTO_84).map((r) => r.text)).toEqual([
      'blackhole 198.19.0.0/26',
      '198.19.0.5/32 dev v1 scope link',
      '198.19.0.64/26 via 198.18.0.12 dev v0 onlink',
      '198.19.3.0/24 nexthop via 198.18.0.12 dev v0 nexthop via 198.18.0.13 dev v0',
    ]);
    expect(parseKernelRoutes(MAIN).map((r) => r.text)).toEqual(['198.18.0.0/24 dev v0 scope link proto kernel', '198.19.0.128/26 via 198.18.0.12 dev v0 metric 100 proto static']);
  });

  it('reads IPv6 routes: /128 added to bare addresses, no scope', () => {
    expect(parseKernelRoutes(PROTO_84_V6).map((r) => r.text)).toEqual([
      '2001:db8:100::5/128 dev v1 metric 1024',
      'blackhole 2001:db8:100::/122 dev lo metric 1024',
      '2001:db8:100::40/122 via 2001:db8:0:1::12 dev v0 metric 1024 onlink',
    ]);
    expect(parseKernelRoutes(PROTO_84_V6)[0]).toMatchObject({ type: 'unicast', dst: '2001:db8:100::5/128', dev: 'v1', scope: undefined });
  });

  it('keeps the fields', () => {
    const [blackhole, link, via] = parseKernelRoutes(PROTO_84);
    expect(blackhole).toMatchObject({ type: 'blackhole', dst: '198.19.0.0/26' });
    expect(link).toMatchObject({ type: 'unicast', dst: '198.19.0.5/32', dev: 'v1', scope: 'link' });
    expect(via).toMatchObject({ gateway: '198.18.0.12', dev: 'v0', flags: ['onlink'] });
  });

  it('reads empty output as no routes', () => {
    expect(parseKernelRoutes('')).toEqual([]);
    expect(parseKernelRoutes('[]\n')).toEqual([]);
  });
});

describe('parsePing', () => {
  it('reads the statistics and the sequence numbers that got no reply', () => {
    const out = [
      'PING 198.19.0.64 (198.19.0.64): 56 data bytes',
      '64 bytes from 198.19.0.64: seq=0 ttl=62 time=0.120 ms',
      '64 bytes from 198.19.0.64: seq=2 ttl=62 time=0.091 ms',
      '',
      '--- 198.19.0.64 ping statistics ---',
      '3 packets transmitted, 2 packets received, 33% packet loss',
      'round-trip min/avg/max = 0.091/0.105/0.120 ms',
    ].join('\n');
    expect(parsePing(out)).toMatchObject({ transmitted: 3, received: 2, lost: 1, missingSeqs: [1] });
  });

  it('reads busybox ping -6', () => {
    const out = [
      'PING 2001:db8:0:1::11 (2001:db8:0:1::11): 56 data bytes',
      '64 bytes from 2001:db8:0:1::11: seq=0 ttl=64 time=0.091 ms',
      '64 bytes from 2001:db8:0:1::11: seq=1 ttl=64 time=0.093 ms',
      '',
      '--- 2001:db8:0:1::11 ping statistics ---',
      '2 packets transmitted, 2 packets received, 0% packet loss',
      'round-trip min/avg/max = 0.091/0.092/0.093 ms',
    ].join('\n');
    expect(parsePing(out)).toMatchObject({ transmitted: 2, received: 2, lost: 0, missingSeqs: [] });
  });

  it('counts replies of a ping that printed no statistics (killed)', () => {
    expect(parsePing('64 bytes from 198.19.0.64: seq=0 ttl=62 time=0.1 ms\n64 bytes from 198.19.0.64: seq=1 ttl=62 time=0.1 ms\n')).toMatchObject({ transmitted: 2, received: 2, lost: 0 });
  });
});

describe('the fabric refuses what is not its own', () => {
  it('accepts only 198.18.0.0/15 and 2001:db8::/32', () => {
    for (const ok of ['198.18.0.1', '198.19.255.255', '198.18.0.1/24', '198.19.0.0/16', '2001:db8::1', '2001:db8:0:1::11/64', '2001:db8:100::/112', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::/32'])
      expect(inFabricRange(ok), ok).toBe(true);
    for (const bad of ['198.17.255.255', '198.20.0.0', '10.0.0.1', '192.0.2.2', '198.18.0.0/14', '127.0.0.1', 'fd00::1', '198.18.0.1/', '2001:db9::1', '2001:db7:ffff::1', '2001:db8::/31', '2001:db8::1/129', '::1', 'fe80::ecee:eeff:feee:eeee', '::ffff:198.18.0.1'])
      expect(inFabricRange(bad), bad).toBe(false);
    expect(() => assertFabricAddress('192.0.2.2/24', 'eth0')).toThrow(/198\.18\.0\.0\/15 or 2001:db8::\/32/);
  });

  it('admits one family when asked: IPv4 only for GoBGP, NATS and router ids, IPv6 only for an IPv6 address', () => {
    expect(inFabricRange('2001:db8::1', 4)).toBe(false);
    expect(inFabricRange('198.18.0.1', 6)).toBe(false);
    expect(inFabricRange('2001:db8::1', 6)).toBe(true);
    expect(() => assertFabricAddress('2001:db8::1', 'BIRD address', 4)).toThrow(/inside 198\.18\.0\.0\/15 \(/);
    expect(() => assertFabricAddress('198.18.0.11/24', "node1's IPv6 address", 6)).toThrow(/inside 2001:db8::\/32 \(/);
    expect(() => renderFabricBirdConfig({ address: '2001:db8::2', as: 64513, peers: [] })).toThrow();
    expect(() => renderFabricGobgpConfig({ address: '198.18.0.3', as: 64514, neighbors: [{ address: '2001:db8::11', remoteAs: 1 }] })).toThrow();
  });

  it('runs nothing in a namespace it did not create', async () => {
    const f = new Fabric({ prefix: 'tn000000' });
    await expect(f.ip('tn000000-ctl', ['link', 'show'])).rejects.toThrow(/not a namespace of fabric tn000000/);
    await expect(f.exec('tdp-other', 'true', [])).rejects.toThrow(/not a namespace of fabric/);
    expect(() => f.start('tn000000-node1', 'x', 'true', [])).toThrow(/not a namespace of fabric/);
    expect(() => new Fabric({ prefix: 'test' })).toThrow(/tn \+ 6 hex/);
    expect(() => f.ns('Node 1')).toThrow();
  });

  it('renders BIRD and GoBGP configs for fabric addresses only, BIRD without a kernel protocol', () => {
    const bird = renderFabricBirdConfig({ address: '198.18.0.2', as: 64513, peers: [{ name: 'node1', neighbor: '198.18.0.11', remoteAs: 64512 }] });
    expect(bird).toContain('neighbor 198.18.0.11 as 64512;');
    expect(bird).toContain('export none;');
    expect(bird).not.toMatch(/protocol\s+kernel/);
    expect(bird).not.toContain('passive');
    expect(renderFabricBirdConfig({ address: '198.18.0.2', as: 64513, peers: [{ name: 'node1', neighbor: '198.18.0.11', remoteAs: 64512, passive: true }] })).toContain('  passive on;\n');
    expect(() => renderFabricBirdConfig({ address: '10.0.0.2', as: 1, peers: [] })).toThrow();
    expect(() => renderFabricGobgpConfig({ address: '198.18.0.3', as: 64514, neighbors: [{ address: '192.0.2.1', remoteAs: 1 }] })).toThrow();
  });

  it('renders an IPv6 BIRD (ipv6 channel, IPv4 router id, neighbors of its family only)', () => {
    const bird = renderFabricBirdConfig({
      address: '2001:db8:15:3::2',
      routerId: '198.18.15.10',
      as: 65003,
      peers: [{ name: 'tabby', neighbor: '2001:db8:15:2::1', remoteAs: 65001, multihop: 2, ttlSecurity: true }],
    });
    expect(bird).toContain('router id 198.18.15.10;');
    expect(bird).toContain('local 2001:db8:15:3::2 as 65003;');
    expect(bird).toContain('neighbor 2001:db8:15:2::1 as 65001;');
    expect(bird).toContain('  multihop 2;\n  ttl security on;\n  ipv6 { import all; export none; };');
    expect(bird).not.toContain('ipv4 {');
    expect(() => renderFabricBirdConfig({ address: '2001:db8::2', routerId: '2001:db8::2', as: 1, peers: [] })).toThrow(/router id/);
    expect(() => renderFabricBirdConfig({ address: '2001:db8::2', routerId: '10.0.0.2', as: 1, peers: [] })).toThrow(/198\.18\.0\.0\/15/);
    expect(() => renderFabricBirdConfig({ address: '2001:db8::2', routerId: '198.18.0.2', as: 1, peers: [{ name: 'n', neighbor: '198.18.0.11', remoteAs: 2 }] })).toThrow(/2001:db8::\/32/);
    expect(() => renderFabricBirdConfig({ address: '198.18.0.2', as: 1, peers: [{ name: 'n', neighbor: '2001:db8::11', remoteAs: 2 }] })).toThrow(/198\.18\.0\.0\/15/);
  });

  it('renders GoBGP ttl-security (ttl-min = 256 - hops), without ebgp-multihop', () => {
    const fabricToml = renderFabricGobgpConfig({ address: '198.18.14.10', as: 65003, neighbors: [{ address: '198.18.14.5', remoteAs: 65001, ttlSecurity: 2 }] });
    expect(fabricToml).toMatch(/\[neighbors\.ttl-security\.config\]\n\s+enabled = true\n\s+ttl-min = 254\n/);
    expect(renderFabricGobgpConfig({ address: '198.18.14.2', as: 65002, neighbors: [{ address: '198.18.14.1', remoteAs: 65001 }] })).not.toContain('ttl-security');
    expect(() => renderFabricGobgpConfig({ address: '198.18.14.2', as: 65002, neighbors: [{ address: '198.18.14.1', remoteAs: 65001, ttlSecurity: 0 }] })).toThrow(/1\.\.255/);
    const loopback = { address: '127.0.0.3', port: 1791, as: 65003, routerId: '10.0.0.3' };
    const toml = renderGobgpConfig({ ...loopback, neighbors: [{ address: '127.0.0.2', remotePort: 1790, remoteAs: 65002, ttlSecurity: 1 }] });
    expect(toml).toContain('ttl-min = 255');
    // GoBGP refuses ebgp-multihop beside ttl-security, so an eBGP neighbor loses its default multihop.
    expect(toml).not.toContain('ebgp-multihop');
    expect(() => renderGobgpConfig({ ...loopback, neighbors: [{ address: '127.0.0.2', remotePort: 1790, remoteAs: 65002, ttlSecurity: 1, multihop: 3 }] })).toThrow(/exclude/);
  });
});

import { describe, expect, it } from 'vitest';
import { isBgpError } from '../../../src/errors.js';
import { EncodeError, canonicalAddress, canonicalPrefix, decodePrefixes, encodePrefix, formatIpv6, parseIpv6 } from '../../../src/codec/index.js';
import { Prng, fromHex, hex } from './helpers.js';

describe('prefixes on the wire', () => {
  it.each([
    ['0.0.0.0/0', '00'],
    ['10.0.0.0/8', '080a'],
    ['10.1.0.0/24', '180a0100'],
    ['192.168.1.128/25', '19c0a80180'],
    ['1.2.3.4/32', '2001020304'],
    ['::/0', '00'],
    ['fd00:1::/48', '30fd0000010000'],
    ['2001:db8::/32', '2020010db8'],
    ['2001:db8::1/128', '8020010db8000000000000000000000001'],
  ])('%s ⇄ %s', (prefix, wire) => {
    expect(hex(encodePrefix(prefix))).toBe(wire);
    const afi = prefix.includes(':') ? 2 : 1;
    expect(decodePrefixes(afi, fromHex(wire))).toEqual([prefix]);
  });

  it('clears host bits on decode (trailing bits are irrelevant, RFC 4271 §4.3)', () => {
    expect(decodePrefixes(1, fromHex('170a01ff'))).toEqual(['10.1.254.0/23']);
    expect(decodePrefixes(2, fromHex('4120010000000000007f'))).toEqual(['2001::/65']);
  });

  it.each([
    [1, '21 0a000000 00', 'IPv4 prefix length 33 > 32'],
    [1, '18 0a01', 'runs past the field'],
    [2, '81 ' + '00'.repeat(17), 'IPv6 prefix length 129 > 128'],
    [2, '30 fd00', 'runs past the field'],
  ])('AFI %i %s is an Invalid Network Field', (afi, wire, text) => {
    let err: unknown;
    try {
      decodePrefixes(afi as 1 | 2, fromHex(wire));
    } catch (e) {
      err = e;
    }
    expect(isBgpError(err) && [err.notification.code, err.notification.subcode, err.action]).toEqual([3, 10, 'session-reset']);
    expect((err as Error).message).toContain(text);
  });

  it.each(['10.1.0.1/24', 'fd00::1/48', '10.0.0.0/33', '10.0.0/8', 'x', '10.0.0.0/08'])('refuses to encode %s', (p) => {
    expect(() => encodePrefix(p)).toThrow(EncodeError);
  });

  it('canonicalizes prefix text', () => {
    expect(canonicalPrefix('10.1.2.3/16')).toBe('10.1.0.0/16');
    expect(canonicalPrefix('FD00:0001:0000::/48')).toBe('fd00:1::/48');
    expect(canonicalPrefix('nope')).toBeUndefined();
  });
});

describe('IPv6 text (RFC 5952 §4)', () => {
  it.each([
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:DB8::AB', '2001:db8::ab'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::ffff:10.1.2.3', '::ffff:a01:203'],
    ['fe80::1', 'fe80::1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ])('%s → %s', (input, canonical) => {
    const bytes = parseIpv6(input);
    expect(bytes && formatIpv6(bytes)).toBe(canonical);
    expect(canonicalAddress(input)).toBe(canonical);
  });

  it.each(['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', ':1', '1:2:3:4:5:6:7', '::1.2.3'])('rejects %s', (t) => {
    expect(parseIpv6(t)).toBeUndefined();
  });
});

describe('IPv4 NLRI decoding at scale', () => {
  it('decodes a million packed prefixes from one buffer', () => {
    const build = (n: number): Uint8Array => {
      const rng = new Prng(7);
      const parts: number[] = [];
      for (let i = 0; i < n; i++) {
        const len = 16 + rng.int(9); // /16 .. /24
        parts.push(len, 10 + rng.int(100), rng.int(256));
        if (len > 16) parts.push(rng.int(256) & (0xff << (24 - len)));
      }
      return Uint8Array.from(parts);
    };
    const buf = build(1_000_000);
    const out = decodePrefixes(1, buf);
    expect(out.length).toBe(1_000_000);
  });
});

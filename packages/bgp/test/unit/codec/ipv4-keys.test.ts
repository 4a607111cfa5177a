/**
 * IPv4 prefixes as numbers (`ipv4Keys`): the form a session feeds a full table into its RIB
 * in. Keys must stand for exactly the prefixes the text form names, and decoding with keys must
 * keep every RFC 4271 / RFC 7606 outcome of decoding with text.
 */
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeUpdates, ipv4Key, ipv4KeyAddress, ipv4KeyLength, ipv4KeyOf, ipv4KeyText } from '../../../src/codec/index.js';
import type { PathAttributes } from '../../../src/types.js';
import { Prng } from './helpers.js';

const OPTS = { fourOctetAs: true } as const;
const ATTRS: PathAttributes = { origin: 0, asPath: [{ type: 2 as const, asns: [65001, 65002] }], nextHop: '10.1.1.1' };

describe('IPv4 prefix keys', () => {
  it('round-trip canonical text of every length, 0.0.0.0/0 to /32', () => {
    for (const p of ['0.0.0.0/0', '128.0.0.0/1', '10.0.0.0/8', '172.16.0.0/12', '192.168.1.128/25', '198.18.0.0/15', '203.0.113.254/31', '255.255.255.255/32', '1.2.3.4/32']) {
      const k = ipv4KeyOf(p);
      expect(k, p).toBeDefined();
      expect(ipv4KeyText(k as number)).toBe(p);
    }
    expect(ipv4Key(0xc0a80180, 25)).toBe(ipv4KeyOf('192.168.1.128/25'));
    expect(ipv4KeyLength(ipv4KeyOf('192.168.1.128/25') as number)).toBe(25);
    expect(ipv4KeyAddress(ipv4KeyOf('255.255.255.255/32') as number)).toBe(0xffffffff);
  });

  it('refuse text that is not a canonical IPv4 prefix', () => {
    for (const bad of ['10.0.0.1/8', '1.2.3/8', '01.2.3.0/24', '1.2.3.0/33', '1.2.3.0/024', '1.2.3.0', '1.2.3.0/', '256.0.0.0/8', '::/0', '2001:db8::/32', '1.2.3.4.5/32', ' 1.2.3.0/24', '1.2.3.0/24 ', '1..3.0/24', '1.2.3.0/-1', '']) {
      expect(ipv4KeyOf(bad), bad).toBeUndefined();
    }
  });

  it('distinguish prefixes that share an address and differ in length', () => {
    const keys = new Set(['10.0.0.0/8', '10.0.0.0/16', '10.0.0.0/24', '10.0.0.0/32'].map((p) => ipv4KeyOf(p)));
    expect(keys.size).toBe(4);
  });

  it('decode an UPDATE to the same prefixes as text, with an empty text NLRI in the message', () => {
    const rand = new Prng(17);
    const nlri = new Set<string>();
    while (nlri.size < 300) {
      const len = 8 + Math.floor(rand.next() * 25);
      const addr = Math.floor(rand.next() * 2 ** 32);
      nlri.add(ipv4KeyText(ipv4Key(len === 32 ? addr : addr - (addr % 2 ** (32 - len)), len)));
    }
    const withdrawn = ['10.9.0.0/16', '0.0.0.0/0'];
    for (const frame of encodeUpdates({ afi: 1, attributes: ATTRS, nlri: [...nlri], withdrawn }, OPTS)) {
      const text = decodeMessage(frame, OPTS);
      const keyed = decodeMessage(frame, { ...OPTS, ipv4Keys: true });
      if (text.message.type !== 'update' || keyed.message.type !== 'update') throw new Error('not an UPDATE');
      expect(keyed.ipv4?.nlri.map(ipv4KeyText)).toEqual(text.message.nlri);
      expect(keyed.ipv4?.withdrawn.map(ipv4KeyText)).toEqual(text.message.withdrawn);
      expect(keyed.message.nlri).toEqual([]);
      expect(keyed.message.withdrawn).toEqual([]);
      expect(keyed.message.attributes).toEqual(text.message.attributes);
      expect(keyed.action).toBe(text.action);
    }
  });

  it('keep RFC 7606 outcomes: a missing NEXT_HOP with NLRI is treat-as-withdraw, a length over 32 resets the session', () => {
    const [frame] = encodeUpdates({ afi: 1, attributes: ATTRS, nlri: ['10.1.0.0/16'] }, OPTS);
    // Drop NEXT_HOP (type 3: 40 03 04 + 4 octets) from the attributes and fix the lengths.
    const bytes = Buffer.from(frame);
    const at = bytes.indexOf(Buffer.from([0x40, 0x03, 0x04]), 23);
    const cut = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 7)]);
    cut.writeUInt16BE(cut.length, 16);
    cut.writeUInt16BE(cut.readUInt16BE(21) - 7, 21);
    const keyed = decodeMessage(cut, { ...OPTS, ipv4Keys: true });
    expect(keyed.action).toBe('treat-as-withdraw');
    expect(keyed.ipv4?.nlri.map(ipv4KeyText)).toEqual(['10.1.0.0/16']);
    expect(decodeMessage(cut, OPTS).action).toBe('treat-as-withdraw');

    const long = Buffer.from(frame);
    long[long.length - 3] = 33; // the NLRI's length octet: 10.1.0.0/16 is 16 0a 01 at the end
    expect(() => decodeMessage(long, { ...OPTS, ipv4Keys: true })).toThrow(/Invalid Network Field.*33 > 32/);
  });

  it('report an End-of-RIB from the wire, which the empty message alone cannot tell from a withdrawal', () => {
    const [w] = encodeUpdates({ afi: 1, withdrawn: ['10.1.0.0/16'] }, OPTS);
    const keyed = decodeMessage(w, { ...OPTS, ipv4Keys: true });
    expect(keyed.endOfRib).toBeUndefined();
    expect(keyed.ipv4?.withdrawn.map(ipv4KeyText)).toEqual(['10.1.0.0/16']);
    const eor = decodeMessage(Uint8Array.from([...Buffer.alloc(16, 0xff), 0, 23, 2, 0, 0, 0, 0]), { ...OPTS, ipv4Keys: true });
    expect(eor.endOfRib).toEqual({ afi: 1, safi: 1 });
  });

  it('encode keys to the same bytes as text (nlriKeys, withdrawnKeys), and refuse them for IPv6', () => {
    const nlri = ['10.0.0.0/8', '192.168.1.128/25', '203.0.113.7/32', '0.0.0.0/0'];
    const withdrawn = ['10.9.0.0/16', '255.255.255.254/31'];
    const keys = (ps: string[]): number[] => ps.map((p) => ipv4KeyOf(p) as number);
    expect(encodeUpdates({ afi: 1, attributes: ATTRS, nlriKeys: keys(nlri) }, OPTS)).toEqual(encodeUpdates({ afi: 1, attributes: ATTRS, nlri }, OPTS));
    expect(encodeUpdates({ afi: 1, withdrawnKeys: keys(withdrawn) }, OPTS)).toEqual(encodeUpdates({ afi: 1, withdrawn }, OPTS));
    expect(encodeUpdates({ afi: 1, attributes: ATTRS, nlri: nlri.slice(0, 2), nlriKeys: keys(nlri.slice(2)) }, OPTS)).toEqual(encodeUpdates({ afi: 1, attributes: ATTRS, nlri }, OPTS));
    expect(() => encodeUpdates({ afi: 2, attributes: ATTRS, nlriKeys: keys(nlri), nextHops: ['2001:db8::1'] }, OPTS)).toThrow(/IPv4 unicast only/);
  });
});

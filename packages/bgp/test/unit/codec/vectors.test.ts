import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BgpMessage } from '../../../src/types.js';
import { decodeMessage, encodeMessage, formatAttributes, peerAsOf } from '../../../src/codec/index.js';
import { readHexFile } from './helpers.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'vectors');
const files = readdirSync(DIR).filter((n) => n.endsWith('.hex')).sort();

const c = (asn: number, value: number): number => asn * 65536 + value;
const birdCaps = (asn: number) => [
  { code: 1, afi: 1, safi: 1 },
  { code: 1, afi: 2, safi: 1 },
  { code: 2 },
  { code: 64, restarting: false, restartTime: 120, families: [] },
  { code: 65, asn },
  { code: 70, value: new Uint8Array(0) },
  { code: 71, value: new Uint8Array(0) },
];
const eor4 = { type: 'update', withdrawn: [], nlri: [] };
const eor6 = { type: 'update', withdrawn: [], nlri: [], mpUnreach: { afi: 2, safi: 1, withdrawn: [] } };
const cease = { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) };

/** What each captured message must decode to (and, for some, derived facts). */
const EXPECTED: Record<string, { message: BgpMessage | Record<string, unknown>; fourOctetAs?: boolean; peerAs?: number; endOfRib?: string; log?: string }> = {
  'bird-open.hex': { message: { type: 'open', version: 4, myAs: 65002, holdTime: 9, bgpId: '10.0.0.12', capabilities: birdCaps(65002) }, peerAs: 65002 },
  'bird-keepalive.hex': { message: { type: 'keepalive' } },
  'bird-update-ipv4.hex': {
    message: {
      type: 'update',
      withdrawn: [],
      nlri: ['10.2.0.0/24', '10.2.1.0/24'],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }], nextHop: '10.0.0.12', communities: [c(65002, 100), c(65002, 200)] },
    },
    log: 'origin=IGP as-path=65002 next-hop=10.0.0.12 communities=65002:100,65002:200',
  },
  'bird-update-ipv6.hex': {
    message: {
      type: 'update',
      withdrawn: [],
      nlri: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [65002] }] },
      mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::12'], nlri: ['fd00:2::/48'] },
    },
  },
  'bird-eor-ipv4.hex': { message: eor4, endOfRib: '1/1' },
  'bird-eor-ipv6.hex': { message: eor6, endOfRib: '2/1' },
  'bird-notification.hex': { message: cease },
  'bird-as2-open.hex': { message: { type: 'open', version: 4, myAs: 23456, holdTime: 9, bgpId: '10.0.0.12', capabilities: birdCaps(4200000002) }, peerAs: 4200000002, fourOctetAs: false },
  'bird-as2-keepalive.hex': { message: { type: 'keepalive' }, fourOctetAs: false },
  'bird-as2-update-ipv4.hex': {
    // AS_PATH 23456 + AS4_PATH 4200000002 merged (RFC 6793 §4.2.3).
    message: {
      type: 'update',
      withdrawn: [],
      nlri: ['10.2.0.0/24', '10.2.1.0/24'],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [4200000002] }], nextHop: '10.0.0.12', communities: [c(65002, 100), c(65002, 200)] },
    },
    fourOctetAs: false,
  },
  'bird-as2-update-ipv6.hex': {
    message: {
      type: 'update',
      withdrawn: [],
      nlri: [],
      attributes: { origin: 0, asPath: [{ type: 2, asns: [4200000002] }] },
      mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::12'], nlri: ['fd00:2::/48'] },
    },
    fourOctetAs: false,
  },
  'bird-as2-eor-ipv4.hex': { message: eor4, endOfRib: '1/1', fourOctetAs: false },
  'bird-as2-eor-ipv6.hex': { message: eor6, endOfRib: '2/1', fourOctetAs: false },
  'bird-as2-notification.hex': { message: cease, fourOctetAs: false },
  'gobgp-open.hex': {
    message: {
      type: 'open',
      version: 4,
      myAs: 65001,
      holdTime: 9,
      bgpId: '10.0.0.13',
      capabilities: [
        { code: 2 },
        { code: 73, value: Uint8Array.of(2, 0x76, 0x6d, 0) },
        { code: 1, afi: 1, safi: 1 },
        { code: 1, afi: 2, safi: 1 },
        { code: 65, asn: 65001 },
        {
          code: 64,
          restarting: false,
          restartTime: 120,
          families: [
            { afi: 1, safi: 1, forwardingPreserved: false },
            { afi: 2, safi: 1, forwardingPreserved: false },
          ],
        },
        { code: 5, value: Uint8Array.of(0, 1, 0, 1, 0, 2) },
      ],
    },
    peerAs: 65001,
  },
  'gobgp-keepalive.hex': { message: { type: 'keepalive' } },
  'gobgp-update-ipv4.hex': {
    message: {
      type: 'update',
      withdrawn: [],
      nlri: ['10.3.0.0/24', '10.3.1.0/24'],
      attributes: { origin: 2, asPath: [{ type: 2, asns: [65010, 65011] }], nextHop: '10.0.0.13', med: 10, localPref: 200, communities: [c(65001, 300)] },
    },
    log: 'origin=INCOMPLETE as-path=65010 65011 next-hop=10.0.0.13 med=10 local-pref=200 communities=65001:300',
  },
  'gobgp-update-ipv6.hex': {
    message: {
      type: 'update',
      withdrawn: [],
      nlri: [],
      attributes: { origin: 2, asPath: [], localPref: 150 },
      mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::13'], nlri: ['fd00:3::/48'] },
    },
  },
  'gobgp-notification.hex': { message: cease },
};

describe('test vectors captured from BIRD and GoBGP', () => {
  it('has an expectation for every file and a file for every expectation', () => {
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(files)('%s', (name) => {
    const { bytes, notes } = readHexFile(path.join(DIR, name));
    expect(notes.join(' ')).toMatch(/captured from (BIRD|gobgpd)/);
    const want = EXPECTED[name];
    const opts = { fourOctetAs: want.fourOctetAs ?? true };
    const r = decodeMessage(bytes, opts);
    expect([r.action, r.errors.length, r.discarded.length]).toEqual(['none', 0, 0]);
    // The codec keeps several spellings of raw octets; compare through plain arrays.
    expect(JSON.parse(JSON.stringify(r.message, (_, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)))).toEqual(
      JSON.parse(JSON.stringify(want.message, (_, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v))),
    );
    if (want.peerAs !== undefined && r.message.type === 'open') expect(peerAsOf(r.message)).toBe(want.peerAs);
    expect(r.endOfRib ? `${r.endOfRib.afi}/${r.endOfRib.safi}` : undefined).toBe(want.endOfRib);
    if (want.log && r.message.type === 'update' && r.message.attributes) expect(formatAttributes({ attributes: r.message.attributes })).toBe(want.log);
    // Re-encoding gives a message that decodes the same.
    const again = decodeMessage(encodeMessage(r.message, opts), opts);
    expect(again.message).toEqual(r.message);
  });

  it('re-encodes the 2-octet BIRD UPDATE byte for byte (AS_TRANS in AS_PATH, AS4_PATH)', () => {
    const { bytes } = readHexFile(path.join(DIR, 'bird-as2-update-ipv4.hex'));
    const opts = { fourOctetAs: false };
    expect(Buffer.from(encodeMessage(decodeMessage(bytes, opts).message, opts)).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
  });
});

import { describe, expect, it } from 'vitest';
import type { BgpMessage, OpenMessage } from '../../../src/types.js';
import {
  AS_TRANS,
  EncodeError,
  checkPeerAs,
  decodeMessage,
  encodeKeepalive,
  encodeMessage,
  encodeRouteRefresh,
  formatNotification,
  fourOctetAsOf,
  peerAsOf,
  routeRefreshSubtype,
} from '../../../src/codec/index.js';
import { hex } from './helpers.js';

const opts = { fourOctetAs: true };

const open = (over: Partial<OpenMessage> = {}): OpenMessage => ({
  type: 'open',
  version: 4,
  myAs: 65001,
  holdTime: 90,
  bgpId: '10.0.0.1',
  capabilities: [],
  ...over,
});

describe('round trips of every message type', () => {
  const manyCaps = Array.from({ length: 70 }, (_, i) => ({ code: 1 as const, afi: 1 + (i % 2), safi: 1 + i }));
  it.each<[string, BgpMessage]>([
    ['OPEN without capabilities', open()],
    [
      'OPEN with every capability kind',
      open({
        myAs: AS_TRANS,
        holdTime: 0,
        capabilities: [
          { code: 1, afi: 1, safi: 1 },
          { code: 1, afi: 2, safi: 1 },
          { code: 2 },
          { code: 64, restarting: true, restartTime: 4095, families: [{ afi: 1, safi: 1, forwardingPreserved: true }, { afi: 2, safi: 1, forwardingPreserved: false }] },
          { code: 65, asn: 4200000001 },
          { code: 128, value: new Uint8Array(0) },
          { code: 73, value: Uint8Array.of(3, 0x61, 0x62, 0x63, 0) },
        ],
      }),
    ],
    ['OPEN whose capabilities need two parameters', open({ capabilities: manyCaps.slice(0, 41) })],
    ['KEEPALIVE', { type: 'keepalive' }],
    ['NOTIFICATION Cease / Administrative Shutdown', { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) }],
    ['NOTIFICATION with data', { type: 'notification', code: 3, subcode: 5, data: Uint8Array.of(0x40, 1, 2, 0, 1) }],
    ['ROUTE-REFRESH IPv6 unicast', { type: 'route-refresh', afi: 2, safi: 1 }],
    ['UPDATE withdraw only', { type: 'update', withdrawn: ['10.0.0.0/8', '192.168.1.0/24'], nlri: [] }],
  ])('%s', (_name, msg) => {
    const bytes = encodeMessage(msg, opts);
    expect(decodeMessage(bytes, opts).message).toEqual(msg);
  });

  it('writes KEEPALIVE as the bare header', () => {
    expect(hex(encodeKeepalive())).toBe('ff'.repeat(16) + '001304');
  });

  it('writes an OPEN as BIRD and GoBGP expect it', () => {
    const bytes = encodeMessage(open({ holdTime: 9, capabilities: [{ code: 1, afi: 1, safi: 1 }, { code: 65, asn: 65001 }] }), opts);
    expect(hex(bytes)).toBe('ff'.repeat(16) + '002b' + '01' + '04' + 'fde9' + '0009' + '0a000001' + '0e' + '020c' + '010400010001' + '41040000fde9');
  });

  it('reads the ROUTE-REFRESH subtype (RFC 7313) from the frame', () => {
    expect(routeRefreshSubtype(encodeRouteRefresh({ afi: 1, safi: 1 }, 2))).toBe(2);
  });

  it('cuts NOTIFICATION data that would exceed 4096 octets', () => {
    const bytes = encodeMessage({ type: 'notification', code: 7, subcode: 1, data: new Uint8Array(5000) }, opts);
    expect(bytes.length).toBe(4096);
  });

  it('formats NOTIFICATIONs for logs', () => {
    expect(formatNotification({ code: 6, subcode: 2, data: new Uint8Array(0) })).toBe('Cease / Administrative Shutdown');
    expect(formatNotification({ code: 3, subcode: 2, data: new Uint8Array(4) })).toBe('UPDATE Message Error / Unrecognized Well-known Attribute (4 octets of data)');
  });

  it.each<[string, BgpMessage]>([
    ['My AS above 65535', open({ myAs: 70000 })],
    ['BGP identifier not a dotted quad', open({ bgpId: 'fd00::1' })],
    ['restart time over 12 bits', open({ capabilities: [{ code: 64, restarting: false, restartTime: 5000, families: [] }] })],
    ['capabilities over 255 octets', open({ capabilities: Array.from({ length: 50 }, () => ({ code: 1 as const, afi: 1, safi: 1 })) })],
  ])('refuses to encode an OPEN with %s', (_n, msg) => {
    expect(() => encodeMessage(msg, opts)).toThrow(EncodeError);
  });
});

describe('OPEN helpers', () => {
  const as4 = open({ myAs: AS_TRANS, capabilities: [{ code: 65, asn: 4200000001 }] });
  it('takes the peer AS from the 4-octet AS capability (RFC 6793 §4.1)', () => {
    expect([peerAsOf(as4), fourOctetAsOf(as4), peerAsOf(open()), fourOctetAsOf(open())]).toEqual([4200000001, 4200000001, 65001, undefined]);
  });

  it('builds Bad Peer AS only when the AS differs', () => {
    expect(checkPeerAs(as4, 4200000001)).toBeUndefined();
    const err = checkPeerAs(as4, 65001);
    expect(err && [err.notification.code, err.notification.subcode, err.action, hex(err.notification.data)]).toEqual([2, 2, 'session-reset', '']);
  });
});

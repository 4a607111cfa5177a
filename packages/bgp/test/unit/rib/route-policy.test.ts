/**
 * Route policy with Calico's BGPFilter semantics: each case names the BIRD condition confd
 * renders for the rule (template_funcs.go filterStatement) and the outcome BIRD gives.
 */
import { describe, expect, it } from 'vitest';
import {
  evaluatePolicy,
  interfaceMatches,
  sameRoutePolicy,
  validateRoutePolicy,
  type PolicyRoute,
  type PolicyRule,
} from '../../../src/rib/route-policy.js';

const peer = (prefix: string): PolicyRoute => ({ prefix, fromPeer: true });
const local = (prefix: string, iface?: string): PolicyRoute => ({ prefix, fromPeer: false, interface: iface });

interface Case {
  readonly name: string;
  readonly rule: PolicyRule;
  readonly route: PolicyRoute;
  readonly matches: boolean;
}

const A = 'accept' as const;

const CASES: readonly Case[] = [
  // net = cidr / net != cidr
  { name: 'Equal: the cidr itself', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'Equal' }, route: peer('10.0.0.0/16'), matches: true },
  { name: 'Equal: a more specific is not equal', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'Equal' }, route: peer('10.0.1.0/24'), matches: false },
  { name: 'Equal: same address, other length', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'Equal' }, route: peer('10.0.0.0/15'), matches: false },
  { name: 'NotEqual: another prefix', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotEqual' }, route: peer('10.1.0.0/16'), matches: true },
  { name: 'NotEqual: the cidr itself', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotEqual' }, route: peer('10.0.0.0/16'), matches: false },
  // net ~ cidr / net !~ cidr
  { name: 'In: the cidr itself', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In' }, route: peer('10.0.0.0/16'), matches: true },
  { name: 'In: a /32 inside', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In' }, route: peer('10.0.255.7/32'), matches: true },
  { name: 'In: a less specific covering it', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In' }, route: peer('10.0.0.0/8'), matches: false },
  { name: 'In: outside', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In' }, route: peer('10.1.0.0/24'), matches: false },
  { name: 'In: non-octet boundary /13 inside', rule: { action: A, cidr: '10.8.0.0/13', matchOperator: 'In' }, route: peer('10.15.3.0/24'), matches: true },
  { name: 'In: non-octet boundary /13 outside', rule: { action: A, cidr: '10.8.0.0/13', matchOperator: 'In' }, route: peer('10.16.0.0/24'), matches: false },
  { name: 'In: 0.0.0.0/0 holds every IPv4 route', rule: { action: A, cidr: '0.0.0.0/0', matchOperator: 'In' }, route: peer('192.0.2.1/32'), matches: true },
  { name: 'NotIn: outside', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotIn' }, route: peer('10.1.0.0/24'), matches: true },
  { name: 'NotIn: inside', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotIn' }, route: peer('10.0.3.0/24'), matches: false },
  // net ~ [ cidr{max(len,min), min(32,max)} ]
  { name: 'In+prefixLength: /24 in {24,28}', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 28 } }, route: peer('10.0.3.0/24'), matches: true },
  { name: 'In+prefixLength: /28 in {24,28} (inclusive max)', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 28 } }, route: peer('10.0.3.16/28'), matches: true },
  { name: 'In+prefixLength: /16 below min', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 28 } }, route: peer('10.0.0.0/16'), matches: false },
  { name: 'In+prefixLength: /32 above max', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 28 } }, route: peer('10.0.3.1/32'), matches: false },
  { name: 'In+prefixLength: min below the mask is raised to it (min 8 → 16)', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 8 } }, route: peer('10.0.0.0/12'), matches: false },
  { name: 'In+prefixLength: only max (min = mask)', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { max: 20 } }, route: peer('10.0.0.0/16'), matches: true },
  { name: 'In+prefixLength: only min (max = 32)', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 30 } }, route: peer('10.0.0.4/32'), matches: true },
  { name: 'In+prefixLength: empty range (min > max) matches nothing', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 28, max: 24 } }, route: peer('10.0.0.0/26'), matches: false },
  { name: 'NotIn+prefixLength: inside but of another length', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotIn', prefixLength: { min: 24, max: 24 } }, route: peer('10.0.0.0/26'), matches: true },
  { name: 'NotIn+prefixLength: inside, in range', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotIn', prefixLength: { min: 24, max: 24 } }, route: peer('10.0.9.0/24'), matches: false },
  { name: 'NotIn+prefixLength: empty range matches everything', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotIn', prefixLength: { min: 30, max: 20 } }, route: peer('10.0.0.0/24'), matches: true },
  // Tabby's reading of Equal/NotEqual with a prefixLength (the cidr itself, when its length is in range).
  { name: 'Equal+prefixLength: the cidr, its length in range', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'Equal', prefixLength: { max: 24 } }, route: peer('10.0.0.0/16'), matches: true },
  { name: 'Equal+prefixLength: the cidr, min above its length', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'Equal', prefixLength: { min: 24 } }, route: peer('10.0.0.0/16'), matches: false },
  { name: 'NotEqual+prefixLength: the cidr, min above its length', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'NotEqual', prefixLength: { min: 24 } }, route: peer('10.0.0.0/16'), matches: true },
  // IPv6
  { name: 'v6 Equal', rule: { action: A, cidr: '5000::/64', matchOperator: 'Equal' }, route: peer('5000::/64'), matches: true },
  { name: 'v6 Equal: non-canonical spelling of the cidr', rule: { action: A, cidr: '5000::0/64', matchOperator: 'Equal' }, route: peer('5000::/64'), matches: true },
  { name: 'v6 In: /122 block inside a /64', rule: { action: A, cidr: 'fd00:1::/64', matchOperator: 'In' }, route: peer('fd00:1::40/122'), matches: true },
  { name: 'v6 In: /57 boundary, bit 57 differs', rule: { action: A, cidr: 'fd00:1:2:0::/57', matchOperator: 'In' }, route: peer('fd00:1:2:80::/64'), matches: false },
  { name: 'v6 In: /57 boundary, inside', rule: { action: A, cidr: 'fd00:1:2:0::/57', matchOperator: 'In' }, route: peer('fd00:1:2:7f::/64'), matches: true },
  { name: 'v6 In+prefixLength {96,120}: /122 above max', rule: { action: A, cidr: '9000:1::/64', matchOperator: 'In', prefixLength: { min: 96, max: 120 } }, route: peer('9000:1::40/122'), matches: false },
  { name: 'v6 In+prefixLength {96,120}: /112 in range', rule: { action: A, cidr: '9000:1::/64', matchOperator: 'In', prefixLength: { min: 96, max: 120 } }, route: peer('9000:1::/112'), matches: true },
  { name: 'v6 In+prefixLength: max 128 allowed', rule: { action: A, cidr: '9000:1::/64', matchOperator: 'In', prefixLength: { max: 128 } }, route: peer('9000:1::1/128'), matches: true },
  { name: 'v6 NotIn: outside', rule: { action: A, cidr: '9000:1::/64', matchOperator: 'NotIn' }, route: peer('9000:2::/64'), matches: true },
  { name: 'v6 ::/0 holds every IPv6 route', rule: { action: A, cidr: '::/0', matchOperator: 'In' }, route: peer('2001:db8::/32'), matches: true },
  // source ~ [ RTS_BGP ]
  { name: 'source RemotePeers: a route from a peer', rule: { action: A, source: 'RemotePeers' }, route: peer('10.0.0.0/24'), matches: true },
  { name: 'source RemotePeers: an originated route', rule: { action: A, source: 'RemotePeers' }, route: local('10.0.0.0/24'), matches: false },
  // ifname ~ "pattern"
  { name: 'interface exact', rule: { action: A, interface: 'vxlan.calico' }, route: local('10.0.0.0/24', 'vxlan.calico'), matches: true },
  { name: 'interface glob *.calico', rule: { action: A, interface: '*.calico' }, route: local('10.0.0.0/24', 'vxlan.calico'), matches: true },
  { name: 'interface glob: the dot is literal', rule: { action: A, interface: 'vxlan.calico' }, route: local('10.0.0.0/24', 'vxlanXcalico'), matches: false },
  { name: 'interface glob is anchored', rule: { action: A, interface: 'eth*' }, route: local('10.0.0.0/24', 'veth0'), matches: false },
  { name: 'interface: a route without an interface (defined(ifname) false)', rule: { action: A, interface: '*' }, route: peer('10.0.0.0/24'), matches: false },
  // conditions are ANDed; no condition is a catch-all
  { name: 'cidr AND source: both hold', rule: { action: A, cidr: '55.4.0.0/16', matchOperator: 'NotIn', source: 'RemotePeers' }, route: peer('10.0.0.0/24'), matches: true },
  { name: 'cidr AND source: source fails', rule: { action: A, cidr: '55.4.0.0/16', matchOperator: 'NotIn', source: 'RemotePeers' }, route: local('10.0.0.0/24'), matches: false },
  { name: 'cidr AND interface: cidr fails', rule: { action: A, cidr: '10.0.0.0/16', matchOperator: 'In', interface: 'eth0' }, route: local('10.1.0.0/24', 'eth0'), matches: false },
  { name: 'catch-all', rule: { action: A }, route: local('10.1.0.0/24'), matches: true },
];

describe('evaluatePolicy: one rule (Calico BGPFilter → BIRD condition)', () => {
  it.each(CASES)('$name', ({ rule, route, matches }) => {
    expect(evaluatePolicy([rule], route)).toEqual(matches ? { action: 'accept', rule: 0 } : undefined);
  });
});

describe('evaluatePolicy: rule order', () => {
  const rules: PolicyRule[] = [
    { action: 'accept', cidr: '10.0.1.0/24', matchOperator: 'Equal' },
    { action: 'reject', cidr: '10.0.0.0/16', matchOperator: 'In' },
    { action: 'accept', source: 'RemotePeers' },
  ];
  it.each<[string, PolicyRoute, { action: string; rule: number } | undefined]>([
    ['the first matching rule decides (accept before the broader reject)', peer('10.0.1.0/24'), { action: 'accept', rule: 0 }],
    ['a later rule when earlier ones do not match', peer('10.0.2.0/24'), { action: 'reject', rule: 1 }],
    ['the last rule', peer('192.0.2.0/24'), { action: 'accept', rule: 2 }],
    ['no rule matches: undefined (the caller default applies)', local('192.0.2.0/24'), undefined],
  ])('%s', (_n, route, want) => {
    expect(evaluatePolicy(rules, route)).toEqual(want);
  });

  it('several BGPFilters are their rules concatenated: a filter with no match falls through to the next', () => {
    const first: PolicyRule[] = [{ action: 'reject', cidr: '10.9.0.0/16', matchOperator: 'In' }];
    const second: PolicyRule[] = [{ action: 'accept', cidr: '10.0.0.0/8', matchOperator: 'In' }, { action: 'reject' }];
    const all = [...first, ...second];
    expect(evaluatePolicy(all, peer('10.9.1.0/24'))?.action).toBe('reject');
    expect(evaluatePolicy(all, peer('10.1.0.0/24'))?.action).toBe('accept');
    expect(evaluatePolicy(all, peer('192.0.2.0/24'))).toEqual({ action: 'reject', rule: 2 });
  });

  it('an empty list decides nothing', () => {
    expect(evaluatePolicy([], peer('10.0.0.0/8'))).toBeUndefined();
  });
});

describe('interfaceMatches (BIRD patterns)', () => {
  it.each<[string, string, boolean]>([
    ['*', 'eth0', true],
    ['eth?', 'eth0', true],
    ['eth?', 'eth10', false],
    ['*.cali', 'bpfout.cali', true],
    ['cali*', 'cali12345', true],
    ['cali*', 'tunl0', false],
  ])('%s ~ %s → %s', (pattern, name, want) => {
    expect(interfaceMatches(pattern, name)).toBe(want);
  });
});

describe('validateRoutePolicy (Calico BGPFilter rule validation)', () => {
  it.each<[string, Parameters<typeof validateRoutePolicy>[0], string | undefined]>([
    ['valid v4 and v6 rules', { v4: [{ action: 'accept', cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 24, max: 32 } }], v6: [{ action: 'reject', source: 'RemotePeers' }] }, undefined],
    ['cidr without operator', { v4: [{ action: 'accept', cidr: '10.0.0.0/16' }] }, 'importPolicy.v4[0].matchOperator: MatchOperator cannot be empty when CIDR is not'],
    ['operator without cidr', { v4: [{ action: 'accept', matchOperator: 'In' }] }, 'importPolicy.v4[0].cidr: CIDR cannot be empty when MatchOperator is not'],
    ['prefixLength without cidr', { v6: [{ action: 'accept', prefixLength: { min: 64 } }] }, 'importPolicy.v6[0].cidr: CIDR cannot be empty when PrefixLength is not'],
    ['v6 cidr in the v4 list', { v4: [{ action: 'accept', cidr: 'fd00::/8', matchOperator: 'In' }] }, 'importPolicy.v4[0].cidr: "fd00::/8" is not an IPv4 CIDR'],
    ['host bits set', { v4: [{ action: 'accept', cidr: '10.0.0.1/16', matchOperator: 'In' }] }, 'importPolicy.v4[0].cidr: "10.0.0.1/16" has host bits set'],
    ['not a cidr', { v4: [{ action: 'accept', cidr: '10.0.0/16', matchOperator: 'In' }] }, 'importPolicy.v4[0].cidr: "10.0.0/16" is not a CIDR'],
    ['v4 prefixLength above 32', { v4: [{ action: 'accept', cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { max: 33 } }] }, 'importPolicy.v4[0].prefixLength.max: must be an integer 0..32, got 33'],
    ['v6 prefixLength 128 is fine', { v6: [{ action: 'accept', cidr: 'fd00::/8', matchOperator: 'In', prefixLength: { max: 128 } }] }, undefined],
    ['bad action', { v4: [{ action: 'Accept' as 'accept' }] }, 'importPolicy.v4[0].action: must be "accept" or "reject", got "Accept"'],
    ['bad interface', { v4: [{ action: 'reject', interface: 'a very long interface name' }] }, 'importPolicy.v4[0].interface: "a very long interface name" must match ^[a-zA-Z0-9_.*-]{1,15}$'],
    ['second rule reported with its index', { v4: [{ action: 'accept' }, { action: 'reject', source: 'Local' as 'RemotePeers' }] }, 'importPolicy.v4[1].source: must be "RemotePeers", got "Local"'],
  ])('%s', (_n, policy, want) => {
    expect(validateRoutePolicy(policy, 'importPolicy')).toBe(want);
  });
});

describe('sameRoutePolicy', () => {
  it('compares structurally: nested fields count, absent and empty are the same', () => {
    const a = { v4: [{ action: 'reject' as const, cidr: '10.0.0.0/16', matchOperator: 'In' as const, prefixLength: { min: 24 } }] };
    expect(sameRoutePolicy(a, { v4: [{ action: 'reject', cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 24 } }] })).toBe(true);
    expect(sameRoutePolicy(a, { v4: [{ action: 'reject', cidr: '10.0.0.0/16', matchOperator: 'In', prefixLength: { min: 25 } }] })).toBe(false);
    expect(sameRoutePolicy(undefined, { v4: [], v6: [] })).toBe(true);
    expect(sameRoutePolicy(a, undefined)).toBe(false);
  });
});

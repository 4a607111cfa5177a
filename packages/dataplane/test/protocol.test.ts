import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTE_PROTOCOL, RESERVED_ROUTE_PROTOCOLS, parseRouteProtocol, parseRouteTable, routeProtocolProblem, routeTableProblem } from '../src/index.js';

describe('parseRouteTable', () => {
  const cases: readonly [text: string, expected: { value: number } | RegExp][] = [
    ['main', { value: 254 }],
    ['254', { value: 254 }],
    ['1', { value: 1 }],
    ['1000', { value: 1000 }],
    ['4294967295', { value: 4294967295 }],
    ['0', /out of range: it must be a whole number from 1 to 4294967295/],
    ['4294967296', /out of range/],
    ['255', /255 is the kernel's `local` table/],
    ['local', /255 is the kernel's `local` table/],
    ['253', /253 is the `default` table/],
    ['default', /253 is the `default` table/],
    ['-1', /is not a number or "main"/],
    ['mytable', /is not a number or "main"/],
  ];
  it.each(cases)('%s', (text, expected) => {
    const r = parseRouteTable(text);
    if (expected instanceof RegExp) expect('error' in r ? r.error : '').toMatch(expected);
    else expect(r).toStrictEqual(expected);
  });
});

describe('parseRouteProtocol', () => {
  const cases: readonly [text: string, expected: { value: number } | RegExp][] = [
    ['84', { value: 84 }],
    ['tabby', { value: DEFAULT_ROUTE_PROTOCOL }],
    ['5', { value: 5 }],
    ['255', { value: 255 }],
    ['0', /kernel's unspec/],
    ['2', /kernel's kernel/],
    ['3', /kernel's boot/],
    ['4', /kernel's static/],
    ['12', /belongs to bird/],
    ['bird', /belongs to bird/],
    ['11', /belongs to zebra/],
    ['186', /belongs to bgp \(FRR bgpd\)/],
    ['80', /belongs to felix \(Calico Felix\)/],
    ['256', /out of range/],
    ['x', /not a number/],
  ];
  it.each(cases)('%s', (text, expected) => {
    const r = parseRouteProtocol(text);
    if (expected instanceof RegExp) expect('error' in r ? r.error : '').toMatch(expected);
    else expect(r).toStrictEqual(expected);
  });
});

describe('protocol and table rules', () => {
  it('84 is free: in no reserved list', () => {
    expect(RESERVED_ROUTE_PROTOCOLS.has(DEFAULT_ROUTE_PROTOCOL)).toBe(false);
    expect(routeProtocolProblem(DEFAULT_ROUTE_PROTOCOL)).toBeUndefined();
  });
  it('every reserved protocol is refused with its owner named', () => {
    for (const [n, owner] of RESERVED_ROUTE_PROTOCOLS) expect(routeProtocolProblem(n)).toContain(owner);
  });
  it('refuses fractions and NaN', () => {
    expect(routeTableProblem(1.5)).toMatch(/out of range/);
    expect(routeProtocolProblem(Number.NaN)).toMatch(/out of range/);
  });
});

/**
 * The Linux dataplane against the real `ip` and kernel, in network namespaces this file
 * creates (`tdp-<hex>`, veth pairs inside, 198.18.0.0/15 and 2001:db8::/32 addresses) and
 * deletes after each test. Nothing is ever programmed in this machine's own namespace: every
 * dataplane here is opened with `netns`, and the guard tests check that it refuses otherwise.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  LinuxDataplane,
  canonicalRoute,
  checkNamespace,
  isDataplaneConfigError,
  isNamespaceGuardError,
  type Dataplane,
  type DataplaneLogger,
  type KernelRoute,
} from '../src/index.js';
import { createNamespace, leftOver, nameOwnNamespace, removeAll, requireRoot, type Namespace, type ShownRoute } from './netns.js';

const via = (prefix: string, ...gateways: string[]): KernelRoute => ({ prefix, type: 'unicast', nextHops: gateways.map((g) => ({ via: g })) });
const link = (prefix: string, dev: string): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ dev }] });
const blackhole = (prefix: string): KernelRoute => ({ prefix, type: 'blackhole', nextHops: [] });
const onlink = (prefix: string, gateway: string, dev = 'tv0'): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ via: gateway, dev, onlink: true }] });

/** Every route of a table, of every protocol (`protocol` is a number with -N). */
function table(ns: Namespace, family: 4 | 6, id = 254): ShownRoute[] {
  return ns.json<ShownRoute[]>('-N', `-${family}`, 'route', 'show', 'table', String(id));
}

function byDst(routes: readonly ShownRoute[], dst: string): ShownRoute[] {
  return routes.filter((r) => r.dst === dst);
}

const sortByPrefix = (rs: readonly KernelRoute[]): KernelRoute[] => [...rs].map(canonicalRoute).sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));

/** One route of each kind, both families. tv0 has 198.18.0.1/24 and 2001:db8:0:1::1/64, tv1 198.18.1.1/24. */
const EVERY_KIND: readonly KernelRoute[] = [
  via('198.19.0.0/26', '198.18.0.2'),
  blackhole('198.19.1.0/26'),
  link('198.19.1.5/32', 'tv1'),
  via('198.19.2.0/26', '198.18.0.2', '198.18.1.2'),
  via('0.0.0.0/0', '198.18.0.254'),
  via('2001:db8:10::/64', '2001:db8:0:1::2'),
  blackhole('2001:db8:11::/64'),
  link('2001:db8:12::5/128', 'tv1'),
  via('2001:db8:13::/64', '2001:db8:0:1::2', '2001:db8:0:1::3'),
];

/** EVERY_KIND as the dataplane writes and lists it: gateways resolved on-link. */
const EVERY_KIND_LISTED: readonly KernelRoute[] = sortByPrefix([
  onlink('198.19.0.0/26', '198.18.0.2'),
  blackhole('198.19.1.0/26'),
  link('198.19.1.5/32', 'tv1'),
  { prefix: '198.19.2.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'tv0', onlink: true }, { via: '198.18.1.2', dev: 'tv1', onlink: true }] },
  onlink('0.0.0.0/0', '198.18.0.254'),
  onlink('2001:db8:10::/64', '2001:db8:0:1::2'),
  blackhole('2001:db8:11::/64'),
  link('2001:db8:12::5/128', 'tv1'),
  { prefix: '2001:db8:13::/64', type: 'unicast', nextHops: [{ via: '2001:db8:0:1::2', dev: 'tv0', onlink: true }, { via: '2001:db8:0:1::3', dev: 'tv0', onlink: true }] },
]);

const open: LinuxDataplane[] = [];
async function openIn(ns: Namespace, opts: { table?: number; ipPath?: string; logger?: DataplaneLogger } = {}): Promise<LinuxDataplane> {
  const dp = await LinuxDataplane.open({ netns: ns.name, ...opts });
  open.push(dp);
  return dp;
}

beforeAll(() => {
  requireRoot();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((dp) => dp.close()));
  removeAll();
});

afterAll(() => {
  expect(leftOver()).toStrictEqual([]);
});

describe('LinuxDataplane in a test namespace', () => {
  it('writes every kind of route with its protocol number in its table, and lists them back', async () => {
    const ns = createNamespace();
    const logger: DataplaneLogger = pino({ level: 'silent' });
    const dp: Dataplane = await openIn(ns, { logger });
    expect(dp.description).toBe(`linux table 254 proto 84 netns ${ns.name}`);
    const report = await dp.reconcile(EVERY_KIND);
    expect(report).toMatchObject({ added: 9, changed: 0, removed: 0, unchanged: 0, failed: [] });
    expect(sortByPrefix(await dp.list())).toStrictEqual(EVERY_KIND_LISTED);

    const v4 = table(ns, 4);
    const v6 = table(ns, 6);
    for (const r of EVERY_KIND) {
      const shown = [...v4, ...v6].filter((s) => canonicalRoute({ prefix: s.dst === 'default' ? '0.0.0.0/0' : s.dst, type: 'blackhole', nextHops: [] }).prefix === canonicalRoute(r).prefix);
      expect(shown, r.prefix).toHaveLength(1);
      expect(shown[0].protocol, r.prefix).toBe('84');
    }
    expect(byDst(v4, '198.19.1.0/26')[0].type).toBe('6'); // blackhole
    expect(byDst(v4, '198.19.1.5')[0]).toMatchObject({ dev: 'tv1', scope: '253' }); // scope link
    expect(byDst(v4, '198.19.0.0/26')[0]).toMatchObject({ gateway: '198.18.0.2', dev: 'tv0', flags: ['onlink'] });
    expect(byDst(v4, '198.19.2.0/26')[0].nexthops).toHaveLength(2);
    expect(byDst(v6, '2001:db8:13::/64')[0].nexthops).toHaveLength(2);
    // The kernel's own routes (proto kernel) are not Tabby's and are not listed.
    expect((await dp.list()).some((r) => r.prefix === '198.18.0.0/24')).toBe(false);
  });

  it('a second reconcile with nothing changed writes nothing', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    await dp.reconcile(EVERY_KIND);
    const writes = dp.writes;
    const batches = dp.batches;
    expect(batches).toBe(1);
    const again = await dp.reconcile(EVERY_KIND);
    expect(again).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: EVERY_KIND.length, failed: [] });
    expect(dp.writes).toBe(writes);
    expect(dp.batches).toBe(batches);
    // In another order and spelling, still nothing to write.
    const respelled = [...EVERY_KIND].reverse().map((r) => (r.prefix === '198.19.1.5/32' ? { ...r, prefix: '198.19.1.5' } : r));
    expect(await dp.reconcile(respelled)).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: EVERY_KIND.length });
    expect(dp.batches).toBe(batches);
  });

  it('writes to the table it was opened with and to no other', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns, { table: 1000 });
    expect(await dp.reconcile([via('198.19.0.0/26', '198.18.0.2'), blackhole('2001:db8:11::/64')])).toMatchObject({ added: 2, failed: [] });
    expect(table(ns, 4, 1000)).toMatchObject([{ dst: '198.19.0.0/26', gateway: '198.18.0.2', protocol: '84' }]);
    expect(table(ns, 6, 1000)).toMatchObject([{ dst: '2001:db8:11::/64', type: '6', protocol: '84' }]);
    expect(byDst(table(ns, 4), '198.19.0.0/26')).toStrictEqual([]);
    const main = await openIn(ns);
    expect(await main.list()).toStrictEqual([]);
    expect(await main.reconcile([])).toMatchObject({ removed: 0 });
    expect(table(ns, 4, 1000)).toHaveLength(1);
  });

  it('replaces a route whose next hops changed, in place', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    await dp.reconcile([via('198.19.0.0/26', '198.18.0.2'), blackhole('198.19.1.0/26')]);
    const r = await dp.reconcile([via('198.19.0.0/26', '198.18.0.3', '198.18.1.3'), via('198.19.1.0/26', '198.18.1.2')]);
    expect(r).toMatchObject({ added: 0, changed: 2, removed: 0, failed: [] });
    expect(byDst(table(ns, 4), '198.19.0.0/26')[0].nexthops?.map((h) => h.gateway)).toStrictEqual(['198.18.0.3', '198.18.1.3']);
    expect(byDst(table(ns, 4), '198.19.1.0/26')[0]).toMatchObject({ gateway: '198.18.1.2', dev: 'tv1' });
    expect(byDst(table(ns, 4), '198.19.1.0/26')[0].type).toBeUndefined();
  });

  it('prune removes stale routes; prune: false keeps them', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    await dp.reconcile([via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.64/26', '198.18.0.2'), blackhole('2001:db8:11::/64')]);
    expect(await dp.reconcile([via('198.19.0.0/26', '198.18.0.2')], { prune: false })).toMatchObject({ removed: 0, unchanged: 1 });
    expect(await dp.list()).toHaveLength(3);
    expect(await dp.reconcile([via('198.19.0.0/26', '198.18.0.2')])).toMatchObject({ removed: 2, unchanged: 1 });
    expect((await dp.list()).map((r) => r.prefix)).toStrictEqual(['198.19.0.0/26']);
    expect(await dp.reconcile([])).toMatchObject({ removed: 1 });
    expect(await dp.list()).toStrictEqual([]);
  });

  it('spare leaves the Tabby routes it names in place (a route the CNI plugin added for a workload not learned yet)', async () => {
    const ns = createNamespace();
    ns.ip('link', 'add', 'cali1', 'type', 'veth', 'peer', 'name', 'cali1p');
    ns.ip('link', 'set', 'cali1', 'up');
    ns.ip('route', 'add', '198.19.1.5', 'dev', 'cali1', 'scope', 'link', 'proto', '84');
    const dp = await openIn(ns);
    await dp.reconcile([blackhole('198.19.1.0/26'), via('198.19.0.0/26', '198.18.0.2')], { prune: false });
    const asked: string[] = [];
    const spare = (r: KernelRoute): boolean => {
      asked.push(r.prefix);
      return r.nextHops[0]?.dev === 'cali1';
    };
    expect(await dp.reconcile([blackhole('198.19.1.0/26')], { spare })).toMatchObject({ removed: 1, unchanged: 1, failed: [] });
    expect(asked.sort()).toStrictEqual(['198.19.0.0/26', '198.19.1.5/32']);
    expect(byDst(table(ns, 4), '198.19.1.5')[0]).toMatchObject({ dev: 'cali1', scope: '253', protocol: '84' });
    expect((await dp.list()).map((r) => r.prefix)).toStrictEqual(['198.19.1.0/26', '198.19.1.5/32']);
    // Wanted by the agent now: the same route, adopted as it is (nothing written).
    const before = dp.writes;
    expect(await dp.reconcile([blackhole('198.19.1.0/26'), link('198.19.1.5/32', 'cali1')], { spare })).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: 2 });
    expect(dp.writes).toBe(before);
    expect(await dp.reconcile([blackhole('198.19.1.0/26')])).toMatchObject({ removed: 1 });
  });

  it('never touches a route of another protocol: same prefix, same table, reconcile and prune', async () => {
    const ns = createNamespace();
    // Written by `ip` itself (one command each, names as an administrator would type them).
    ns.ip('route', 'add', '198.19.0.0/26', 'via', '198.18.0.9', 'proto', 'static');
    ns.ip('route', 'add', '198.19.7.0/26', 'via', '198.18.0.9', 'proto', 'static');
    ns.ip('route', 'add', '198.19.8.0/26', 'via', '198.18.0.9', 'proto', 'bird');
    ns.ip('-6', 'route', 'add', '2001:db8:10::/64', 'via', '2001:db8:0:1::9', 'proto', 'static');
    // A Tabby route beside a static one for the same prefix (another metric, so both exist).
    ns.ip('route', 'add', '198.19.3.0/26', 'via', '198.18.0.9', 'proto', 'static');
    ns.ip('route', 'add', '198.19.3.0/26', 'via', '198.18.0.3', 'metric', '100', 'proto', '84');
    const foreign = (): ShownRoute[] => [...table(ns, 4), ...table(ns, 6)].filter((r) => r.protocol !== '84' && r.protocol !== '2');
    const before = foreign();
    expect(before).toHaveLength(5);

    const dp = await openIn(ns);
    expect((await dp.list()).map((r) => r.prefix)).toStrictEqual(['198.19.3.0/26']);
    const r = await dp.reconcile([via('198.19.0.0/26', '198.18.0.2'), via('2001:db8:10::/64', '2001:db8:0:1::2'), via('198.19.9.0/26', '198.18.0.2')]);
    expect(r.added).toBe(1); // 198.19.9.0/26 only
    expect(r.removed).toBe(1); // Tabby's 198.19.3.0/26 (metric 100), not the static one
    expect(r.failed.map((f) => f.prefix).sort()).toStrictEqual(['198.19.0.0/26', '2001:db8:10::/64']);
    for (const f of r.failed) expect(f.error).toMatch(/^RTNETLINK answers: File exists \(table 254 already has a route of another protocol for this prefix/);
    expect(foreign()).toStrictEqual(before);

    expect(await dp.reconcile([])).toMatchObject({ removed: 1, failed: [] });
    expect(foreign()).toStrictEqual(before);
    expect(await dp.list()).toStrictEqual([]);
  });

  it('a gateway on no connected network and an interface that does not exist are reported; every other route lands', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    const r = await dp.reconcile([
      via('198.19.0.0/26', '198.18.0.2'),
      via('198.19.0.64/26', '198.19.200.1'),
      link('198.19.1.5/32', 'caliX'),
      { prefix: '198.19.0.128/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'caliY', onlink: true }] },
      { prefix: '198.19.1.0/26', type: 'unicast', nextHops: [] },
      { prefix: '198.19.1.64/26', type: 'unicast', nextHops: [{ dev: 'bad name' }] },
      via('2001:db8:14::/64', '2001:db8:99::1'),
      blackhole('198.19.1.128/26'),
      via('2001:db8:10::/64', '2001:db8:0:1::2'),
    ]);
    expect(r.added).toBe(3);
    expect([...r.failed].sort((a, b) => (a.prefix < b.prefix ? -1 : 1))).toStrictEqual([
      { prefix: '198.19.0.128/26', error: 'Cannot find device "caliY"' },
      { prefix: '198.19.0.64/26', error: 'Error: Nexthop has invalid gateway.' },
      { prefix: '198.19.1.0/26', error: 'a unicast route needs at least one next hop (a gateway, an interface or both)' },
      { prefix: '198.19.1.5/32', error: 'Cannot find device "caliX"' },
      { prefix: '198.19.1.64/26', error: 'interface name "bad name" is not valid (1-15 letters, digits, "_", "." or "-")' },
      { prefix: '2001:db8:14::/64', error: 'RTNETLINK answers: No route to host' },
    ]);
    expect((await dp.list()).map((x) => x.prefix).sort()).toStrictEqual(['198.19.0.0/26', '198.19.1.128/26', '2001:db8:10::/64']);
  });

  it('routes to a workload interface once it exists (links() names it)', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    const desired = [link('198.19.1.5/32', 'cali1')];
    expect((await dp.reconcile(desired)).failed).toStrictEqual([{ prefix: '198.19.1.5/32', error: 'Cannot find device "cali1"' }]);
    expect((await dp.links()).has('cali1')).toBe(false);
    ns.ip('link', 'add', 'cali1', 'type', 'veth', 'peer', 'name', 'cali1p');
    ns.ip('link', 'set', 'cali1', 'up');
    expect(await dp.links()).toStrictEqual(new Set(['lo', 'tv0', 'tv1', 'cali1', 'cali1p']));
    expect(await dp.reconcile(desired)).toMatchObject({ added: 1, failed: [] });
    expect(byDst(table(ns, 4), '198.19.1.5')[0]).toMatchObject({ dev: 'cali1', scope: '253', protocol: '84' });
  });

  it('resolves on-link gateways as Calico renders them, and keeps a gateway reached through a link route stable', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    const desired = [
      via('198.19.0.0/26', '198.18.0.2'),
      via('198.19.0.64/26', '198.18.1.2'),
      via('2001:db8:10::/64', '2001:db8:0:1::2'),
      // 198.19.50.1 is on no connected network but behind a link route: the kernel picks tv1.
      link('198.19.50.1/32', 'tv1'),
    ];
    expect(await dp.reconcile(desired)).toMatchObject({ added: 4, failed: [] });
    const gw = [via('198.19.0.128/26', '198.19.50.1')];
    expect(await dp.reconcile([...desired, ...gw])).toMatchObject({ added: 1, unchanged: 4, failed: [] });
    expect(byDst(table(ns, 4), '198.19.0.0/26')[0]).toMatchObject({ gateway: '198.18.0.2', dev: 'tv0', flags: ['onlink'] });
    expect(byDst(table(ns, 4), '198.19.0.64/26')[0]).toMatchObject({ gateway: '198.18.1.2', dev: 'tv1', flags: ['onlink'] });
    expect(byDst(table(ns, 6), '2001:db8:10::/64')[0]).toMatchObject({ gateway: '2001:db8:0:1::2', dev: 'tv0', flags: ['onlink'] });
    expect(byDst(table(ns, 4), '198.19.0.128/26')[0]).toMatchObject({ gateway: '198.19.50.1', dev: 'tv1', flags: [] });
    const batches = dp.batches;
    expect(await dp.reconcile([...desired, ...gw])).toMatchObject({ added: 0, changed: 0, unchanged: 5 });
    expect(dp.batches).toBe(batches);
  });

  it('when ip stops partway through a batch, reads the table back and reports what did not land', async () => {
    const ns = createNamespace();
    const dir = mkdtempSync(path.join(tmpdir(), 'tdp-ip-'));
    try {
      // Stands in for `ip`: in batch mode it runs only the first line, then stops as iproute2
      // does at a line it cannot parse (a message, no `Command failed`, exit 255).
      const wrapper = path.join(dir, 'ip');
      writeFileSync(wrapper, '#!/bin/sh\nfor a in "$@"; do\n  if [ "$a" = "-batch" ]; then head -n 1 | ip "$@"; echo \'Error: simulated parse stop.\' >&2; exit 255; fi\ndone\nexec ip "$@"\n');
      chmodSync(wrapper, 0o755);
      const dp = await openIn(ns, { ipPath: wrapper });
      const r = await dp.reconcile([via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.64/26', '198.18.0.2'), blackhole('198.19.1.0/26')]);
      expect(r.added).toBe(1);
      expect(r.failed).toStrictEqual([
        { prefix: '198.19.0.64/26', error: 'Error: simulated parse stop.' },
        { prefix: '198.19.1.0/26', error: 'Error: simulated parse stop.' },
      ]);
      expect((await dp.list()).map((x) => x.prefix)).toStrictEqual(['198.19.0.0/26']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs concurrent reconciles one after another', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    const a = Array.from({ length: 200 }, (_, i) => via(`198.19.${i >> 6}.${(i & 63) * 4}/30`, '198.18.0.2'));
    const b = a.map((r) => via(r.prefix, '198.18.1.2'));
    const [ra, rb] = await Promise.all([dp.reconcile(a), dp.reconcile(b)]);
    expect(ra).toMatchObject({ added: 200, failed: [] });
    expect(rb).toMatchObject({ changed: 200, failed: [] });
    expect(dp.batches).toBe(2);
    expect((await dp.list()).every((r) => r.nextHops[0].via === '198.18.1.2')).toBe(true);
  });

  it('refuses calls after close', async () => {
    const ns = createNamespace();
    const dp = await openIn(ns);
    await dp.close();
    await expect(dp.list()).rejects.toThrow(/closed/);
  });
});

describe('LinuxDataplane.open validates its options', () => {
  const bad: readonly [name: string, opts: { table?: number; protocol?: number }, re: RegExp][] = [
    ['table 0', { table: 0 }, /route table 0 is out of range: it must be a whole number from 1 to 4294967295/],
    ['table 2^32', { table: 4294967296 }, /route table 4294967296 is out of range/],
    ['table 255 (local)', { table: 255 }, /`local` table/],
    ['table 253 (default)', { table: 253 }, /`default` table/],
    ['table -1', { table: -1 }, /out of range/],
    ['protocol 0', { protocol: 0 }, /kernel's unspec/],
    ['protocol 4 (static)', { protocol: 4 }, /kernel's static/],
    ['protocol 12 (bird)', { protocol: 12 }, /belongs to bird/],
    ['protocol 80 (felix)', { protocol: 80 }, /belongs to felix/],
    ['protocol 186 (bgp)', { protocol: 186 }, /belongs to bgp/],
    ['protocol 256', { protocol: 256 }, /out of range/],
  ];
  it.each(bad)('%s', async (_name, opts, re) => {
    const ns = createNamespace();
    const err: unknown = await LinuxDataplane.open({ netns: ns.name, ...opts }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDataplaneConfigError(err)).toBe(true);
    expect((err as Error).message).toMatch(re);
  });

  it('a namespace that does not exist', async () => {
    await expect(LinuxDataplane.open({ netns: 'tdp-does-not-exist' })).rejects.toThrow('network namespace "tdp-does-not-exist" does not exist (no /run/netns/tdp-does-not-exist)');
    await expect(LinuxDataplane.open({ netns: '../etc' })).rejects.toThrow(/is not valid/);
  });
});

describe('the namespace guard', () => {
  const REFUSAL = "refusing to program routes in this machine's own network namespace under a test: ";

  it('refuses this process\'s own namespace under vitest (no netns given)', async () => {
    expect(process.env.VITEST).toBeDefined();
    let err: unknown;
    try {
      checkNamespace();
    } catch (e) {
      err = e;
    }
    expect(isNamespaceGuardError(err)).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`^${REFUSAL}this process's namespace \\(/proc/self/ns/net, inode \\d+\\) is (the namespace of PID 1|the kernel's initial network namespace)`));
    const openErr: unknown = await LinuxDataplane.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isNamespaceGuardError(openErr)).toBe(true);
  });

  it('refuses a name for the machine\'s own namespace (ip netns attach NAME <this pid>)', async () => {
    const alias = nameOwnNamespace();
    expect(() => checkNamespace({ netns: alias })).toThrow(new RegExp(`^${REFUSAL}netns "${alias}" .* is (the namespace of PID 1|the kernel's initial network namespace)`));
    await expect(LinuxDataplane.open({ netns: alias })).rejects.toThrow(REFUSAL);
  });

  it('lets a namespace the test created through', () => {
    const ns = createNamespace();
    expect(checkNamespace({ netns: ns.name })).toMatchObject({ guarded: true });
  });

  it('TABBY_NETNS_GUARD=NAME: the target must be that namespace', () => {
    const ns = createNamespace();
    const other = createNamespace();
    expect(checkNamespace({ netns: ns.name, env: { TABBY_NETNS_GUARD: ns.name } })).toMatchObject({ guarded: true });
    expect(() => checkNamespace({ netns: ns.name, env: { TABBY_NETNS_GUARD: other.name } })).toThrow(`is not /run/netns/${other.name}`);
    expect(() => checkNamespace({ env: { TABBY_NETNS_GUARD: ns.name } })).toThrow(REFUSAL);
    expect(() => checkNamespace({ env: { TABBY_NETNS_GUARD: '1' } })).toThrow(REFUSAL);
  });

  it('outside tests (neither VITEST nor TABBY_NETNS_GUARD) it checks nothing', () => {
    expect(checkNamespace({ env: {} })).toMatchObject({ guarded: false });
  });
});

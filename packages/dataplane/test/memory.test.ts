import { describe, expect, it } from 'vitest';
import { MemoryDataplane, type Dataplane, type KernelRoute } from '../src/index.js';

const via = (prefix: string, gateway: string): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ via: gateway }] });
const link = (prefix: string, dev: string): KernelRoute => ({ prefix, type: 'unicast', nextHops: [{ dev }] });
const blackhole = (prefix: string): KernelRoute => ({ prefix, type: 'blackhole', nextHops: [] });

describe('MemoryDataplane', () => {
  it('is a Dataplane', () => {
    const dp: Dataplane = new MemoryDataplane();
    expect(dp.description).toBe('memory');
  });

  it('adds, changes and removes, and a second reconcile with nothing changed writes nothing', async () => {
    const dp = new MemoryDataplane({ links: ['cali1'] });
    const desired = [via('198.19.0.0/26', '198.18.0.2'), blackhole('198.19.1.0/26'), link('198.19.1.5', 'cali1')];
    expect(await dp.reconcile(desired)).toMatchObject({ added: 3, changed: 0, removed: 0, unchanged: 0, failed: [] });
    expect(dp.writes).toBe(3);
    expect(await dp.reconcile(desired)).toMatchObject({ added: 0, changed: 0, removed: 0, unchanged: 3, failed: [] });
    expect(dp.writes).toBe(3);
    const next = [via('198.19.0.0/26', '198.18.0.3'), blackhole('198.19.1.0/26')];
    expect(await dp.reconcile(next)).toMatchObject({ added: 0, changed: 1, removed: 1, unchanged: 1 });
    expect(dp.writeLog().slice(3)).toStrictEqual([
      { op: 'del', prefix: '198.19.1.5/32', ok: true },
      { op: 'replace', prefix: '198.19.0.0/26', ok: true },
    ]);
    expect(dp.routes()).toStrictEqual([via('198.19.0.0/26', '198.18.0.3'), blackhole('198.19.1.0/26')]);
    expect(await dp.list()).toStrictEqual(dp.routes());
  });

  it('prune: false keeps routes that are no longer wanted', async () => {
    const dp = new MemoryDataplane({ routes: [via('198.19.0.0/26', '198.18.0.2')] });
    expect(await dp.reconcile([blackhole('198.19.1.0/26')], { prune: false })).toMatchObject({ added: 1, removed: 0 });
    expect(dp.routes()).toHaveLength(2);
    expect(await dp.reconcile([blackhole('198.19.1.0/26')])).toMatchObject({ removed: 1, unchanged: 1 });
    expect(dp.routes()).toStrictEqual([blackhole('198.19.1.0/26')]);
  });

  it('spare leaves the routes it names in place, uncounted; the rest are pruned', async () => {
    const dp = new MemoryDataplane({ links: ['cali1', 'cali2'], routes: [link('198.19.1.5', 'cali1'), link('198.19.1.6', 'cali2'), blackhole('198.19.1.0/26')] });
    const r = await dp.reconcile([blackhole('198.19.1.0/26')], { spare: (route) => route.nextHops[0]?.dev === 'cali1' });
    expect(r).toMatchObject({ added: 0, changed: 0, removed: 1, unchanged: 1 });
    expect(dp.routes()).toStrictEqual([blackhole('198.19.1.0/26'), link('198.19.1.5/32', 'cali1')]);
    expect(dp.writeLog()).toStrictEqual([{ op: 'del', prefix: '198.19.1.6/32', ok: true }]);
  });

  it('a route to an interface that does not exist fails with the kernel\'s text; the others land', async () => {
    const dp = new MemoryDataplane({ links: ['cali1'] });
    const r = await dp.reconcile([link('198.19.1.5', 'caliX'), link('198.19.1.6', 'cali1')]);
    expect(r.failed).toStrictEqual([{ prefix: '198.19.1.5/32', error: 'Cannot find device "caliX"' }]);
    expect(r.added).toBe(1);
    dp.setLinks(['cali1', 'caliX']);
    expect(await dp.reconcile([link('198.19.1.5', 'caliX'), link('198.19.1.6', 'cali1')])).toMatchObject({ added: 1, unchanged: 1, failed: [] });
  });

  it('failNext fails one write of a prefix, then it succeeds', async () => {
    const dp = new MemoryDataplane();
    dp.failNext('198.19.0.0/26', 'RTNETLINK answers: No buffer space available');
    const desired = [via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.64/26', '198.18.0.2')];
    const first = await dp.reconcile(desired);
    expect(first.failed).toStrictEqual([{ prefix: '198.19.0.0/26', error: 'RTNETLINK answers: No buffer space available' }]);
    expect(first.added).toBe(1);
    expect(await dp.reconcile(desired)).toMatchObject({ added: 1, unchanged: 1, failed: [] });
  });

  it('failAlwaysFor fails every write until cleared; failNextRead makes reconcile throw', async () => {
    const dp = new MemoryDataplane();
    dp.failAlwaysFor('198.19.0.0/26', 'nope');
    expect((await dp.reconcile([via('198.19.0.0/26', '198.18.0.2')])).failed).toHaveLength(1);
    expect((await dp.reconcile([via('198.19.0.0/26', '198.18.0.2')])).failed).toHaveLength(1);
    dp.failAlwaysFor('198.19.0.0/26', undefined);
    expect((await dp.reconcile([via('198.19.0.0/26', '198.18.0.2')])).failed).toHaveLength(0);
    dp.failNextRead(new Error('table unreadable'));
    await expect(dp.reconcile([])).rejects.toThrow('table unreadable');
    expect(dp.routes()).toHaveLength(1);
  });

  it('never lists, replaces or removes a route of another protocol; a Tabby route for its prefix fails as on Linux', async () => {
    const dp = new MemoryDataplane();
    dp.addForeignRoute(via('198.19.0.0/26', '198.18.0.9'), 'static');
    dp.addForeignRoute(via('198.19.5.0/26', '198.18.0.9'), 'bird');
    const r = await dp.reconcile([via('198.19.0.0/26', '198.18.0.2')]);
    expect(r.failed[0].error).toMatch(/^RTNETLINK answers: File exists \(.*another protocol/);
    expect(await dp.list()).toStrictEqual([]);
    await dp.reconcile([]);
    expect(dp.foreignRoutes()).toStrictEqual([
      { route: via('198.19.0.0/26', '198.18.0.9'), protocol: 'static' },
      { route: via('198.19.5.0/26', '198.18.0.9'), protocol: 'bird' },
    ]);
  });

  it('with connected networks: resolves on-link gateways and refuses gateways on no network', async () => {
    const dp = new MemoryDataplane({ links: ['eth0'], connected: [{ dev: 'eth0', cidr: '198.18.0.1/24' }] });
    const r = await dp.reconcile([via('198.19.0.0/26', '198.18.0.2'), via('198.19.0.64/26', '198.19.200.1')]);
    expect(r.failed).toStrictEqual([{ prefix: '198.19.0.64/26', error: 'Error: Nexthop has invalid gateway.' }]);
    expect(dp.routes()).toStrictEqual([{ prefix: '198.19.0.0/26', type: 'unicast', nextHops: [{ via: '198.18.0.2', dev: 'eth0', onlink: true }] }]);
    expect(await dp.reconcile([via('198.19.0.0/26', '198.18.0.2')])).toMatchObject({ unchanged: 1, added: 0, changed: 0 });
  });

  it('refuses malformed routes before writing and does not prune the route already there for that prefix', async () => {
    const dp = new MemoryDataplane({ routes: [via('198.19.0.0/26', '198.18.0.2')] });
    const r = await dp.reconcile([{ prefix: '198.19.0.0/26', type: 'unicast', nextHops: [] }, { prefix: '198.19.0.300/26', type: 'blackhole', nextHops: [] }]);
    expect(r.failed.map((f) => f.prefix)).toStrictEqual(['198.19.0.0/26', '198.19.0.300/26']);
    expect(r.removed).toBe(0);
    expect(dp.routes()).toHaveLength(1);
    expect(dp.writes).toBe(0);
  });

  it('behind-the-back changes are repaired by the next reconcile', async () => {
    const dp = new MemoryDataplane();
    const desired = [via('198.19.0.0/26', '198.18.0.2')];
    await dp.reconcile(desired);
    dp.removeRoute('198.19.0.0/26');
    dp.setRoute(via('198.19.9.0/26', '198.18.0.2'));
    expect(await dp.reconcile(desired)).toMatchObject({ added: 1, removed: 1 });
  });

  it('refuses calls after close', async () => {
    const dp = new MemoryDataplane();
    await dp.close();
    await expect(dp.list()).rejects.toThrow(/closed/);
    await expect(dp.reconcile([])).rejects.toThrow(/closed/);
    await expect(dp.links()).rejects.toThrow(/closed/);
  });
});

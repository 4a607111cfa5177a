/**
 * The page in a real browser against a real cluster: nats-server, tabby-store, tabby-ipam,
 * tabby-topology, three tabby-agents in a full mesh (node1..node3 on 127.0.0.11-13) with a
 * workload each, and tabby-ui, every process real and stopped by PID; Debian's Chromium
 * (/usr/bin/chromium, never a downloaded one) driven headless by playwright-core.
 *
 * What a user would notice: the page loads without console errors; the graph holds the three
 * nodes and the three mesh sessions, all Established; stopping an agent turns its sessions
 * to a down state without a reload; the IP-use bars count what `tabbyctl ipam show` counts;
 * an unknown node is a 404 with a JSON error; a stopped store is named in a banner that goes
 * away by itself when the store is back. A screenshot of the whole page is saved to
 * test-artifacts/ui.png (CI's artifact); UPDATE_SCREENSHOT=1 also writes docs/ui.png (the
 * README's).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ProcessGroup, REPO_ROOT, eventually, serviceBin, tempDir, type CommandResult, type TestProcess } from '@tabby/harness';
import { startUiCluster, type UiCluster } from './cluster.js';

const CHROMIUM = '/usr/bin/chromium';
const UI_MAIN = path.join(REPO_ROOT, 'services/ui/dist/main.js');
const NODES = [
  ['node1', '127.0.0.11'],
  ['node2', '127.0.0.12'],
  ['node3', '127.0.0.13'],
] as const;
/** The mesh's sessions as unordered node pairs (a GraphSession id is `ipv4/A~B`). */
const MESH = ['node1~node2', 'node1~node3', 'node2~node3'];

const group = new ProcessGroup();
const dir = tempDir('tabby-ui-browser-');
let cluster: UiCluster;
let url = '';
let browser: Browser | undefined;
let page: Page;
/** Console errors and uncaught page errors, in order. */
const pageErrors: string[] = [];

const tabbyctl = (args: readonly string[], input?: string): Promise<CommandResult> => cluster.tabbyctl(args, input);

/** The visible session list, `pair=state` per row (the pair sorted, the family dropped). */
async function sessionRows(): Promise<Record<string, string>> {
  const rows = await page.$$eval('#sessions tbody tr[data-session]', (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.session ?? '', (tr as HTMLElement).dataset.state ?? '']));
  return Object.fromEntries(rows.map(([id, state]) => [pairOf(id), state]));
}

function pairOf(sessionId: string): string {
  const ends = sessionId.slice(sessionId.indexOf('/') + 1).split('~');
  return ends.sort().join('~');
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run node scripts/ensure-tools.mjs (installs Debian's chromium with apt)`);
  cluster = await startUiCluster(group, dir.path, NODES);
  for (const [node] of NODES) await tabbyctl(['workload', 'add', `default/web-${node.slice(-1)}`, '--node', node]);
  // The page's first load is a normal one: every agent up and reporting its sessions.
  await eventually(
    'every agent to report its two mesh sessions up',
    async () => {
      for (const [node] of NODES) if (((await tabbyctl(['node', 'status', node])).stdout.match(/ \| up +\| /g) ?? []).length !== 2) return false;
      return true;
    },
    90_000,
    500,
  );
  const ui: TestProcess = group.start('tabby-ui', process.execPath, [UI_MAIN, '--listen', '127.0.0.1:0', '--store', cluster.storeAddress, '--topology', cluster.topology, '--ipam', cluster.ipam]);
  const m = await ui.waitForLine(/"msg":"tabby-ui listening".*"url":"([^"]+)"|"url":"([^"]+)".*"msg":"tabby-ui listening"/, 30_000);
  url = m[1] ?? m[2];
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (msg) => {
    if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => pageErrors.push(`page: ${err.message}`));
}, 300_000);

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await group.stopAll();
    dir.remove();
  }
}, 60_000);

it('loads without console errors and draws the three nodes and their mesh sessions, all Established', async () => {
  await page.goto(url);
  await eventually(
    'the session panel to list the three mesh sessions Established',
    async () => {
      const rows = await sessionRows();
      return Object.keys(rows).sort().join(',') === MESH.join(',') && Object.values(rows).every((s) => s === 'Established');
    },
    60_000,
    250,
  );
  const graph = await page.evaluate(() => {
    const cy = window.__tabby.cy;
    return {
      nodes: cy
        .nodes('[kind = "node"]')
        .map((n) => n.id())
        .sort(),
      edges: cy.edges().map((e) => ({ id: e.id(), state: String(e.data('state')) })),
    };
  });
  expect(graph.nodes).toEqual(['node1', 'node2', 'node3']);
  expect(graph.edges.map((e) => pairOf(e.id)).sort()).toEqual(MESH);
  expect(graph.edges.every((e) => e.state === 'Established')).toBe(true);
  // node1 is shown first: tabbyctl node status's columns and health line.
  await eventually('node1 detail', () => page.locator('#node-health').textContent(), 15_000, 200);
  expect(await page.locator('#node-health').textContent()).toBe('Tabby agent on node1 is running.');
  expect(await page.locator('#node-detail table').first().locator('th').allTextContents()).toEqual(['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO']);
  await eventually('the IP-use panel', () => page.locator('#ipam .pool').count().then((n) => n > 0), 15_000, 200);
  expect(await page.locator('#banner').isHidden()).toBe(true);
  expect(pageErrors).toEqual([]);
  const shot = path.join(REPO_ROOT, 'test-artifacts', 'ui.png');
  mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  if (process.env.UPDATE_SCREENSHOT === '1') await page.screenshot({ path: path.join(REPO_ROOT, 'docs', 'ui.png'), fullPage: true });
}, 120_000);

it("shows each pool's used / total as `tabbyctl ipam show` counts them", async () => {
  const shown = await tabbyctl(['ipam', 'show']);
  // | IP Pool  | 192.168.0.0/16 |     65536 | 3 (0%)     | 65533 (100%) |
  const pools = [...shown.stdout.matchAll(/^\| IP Pool +\| (\S+) +\| +(\S+) +\| (\d+) \(/gm)].map((r) => ({ cidr: r[1], total: Number(r[2]), used: Number(r[3]) }));
  expect(pools).toEqual([{ cidr: '192.168.0.0/16', total: 65536, used: 3 }]);
  const shownPools = await page.locator('#ipam .pool').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.cidr ?? ''));
  expect(shownPools.sort()).toEqual(pools.map((p) => p.cidr).sort());
  for (const p of pools) {
    const text = await eventually(
      `${p.cidr}'s bar to read ${p.used} / ${p.total}`,
      async () => {
        const t = (await page.locator(`#ipam .pool[data-cidr="${p.cidr}"] .pool-use`).textContent()) ?? '';
        return t === `${p.used} / ${p.total}` ? t : undefined;
      },
      15_000,
      200,
    );
    expect(text).toBe(`${p.used} / ${p.total}`);
  }
  // One block per node, each holding its workload's address.
  const blocks = await page.locator('#ipam .block').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
  expect(blocks).toHaveLength(3);
  for (const b of blocks) expect(b).toMatch(/^192\.168\.\d+\.\d+\/26.*1 \/ 64on node[123]$/);
}, 90_000);

it('answers an unknown node with a 404 and a JSON error', async () => {
  const r = await page.evaluate(async () => {
    const res = await fetch('/api/v1/nodes/nosuch');
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as { error: { code: number; reason: string; message: string } } };
  });
  expect(r.status).toBe(404);
  expect(r.type).toMatch(/^application\/json/);
  expect(r.body.error).toMatchObject({ code: 404, reason: 'NotFound' });
  expect(r.body.error.message).toContain('nosuch');
}, 60_000);

it('previews a pasted manifest: the sessions each node would gain, and a bad manifest\'s error', async () => {
  const peer = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: edge-router
spec:
  peerIP: 127.0.0.50
  asNumber: 65001
`;
  await page.fill('#preview-text', peer);
  await page.click('#preview-form button[type="submit"]');
  await eventually('the preview', () => page.locator('#preview-out .preview-nodes').count().then((n) => n > 0), 30_000, 200);
  const nodes = await page.locator('#preview-out .preview-nodes > li').evaluateAll((els) => els.map((e) => [(e as HTMLElement).dataset.node ?? '', [...e.querySelectorAll('li.added')].map((a) => a.textContent ?? '')]));
  expect(nodes.map(([n]) => n).sort()).toEqual(['node1', 'node2', 'node3']);
  for (const [, added] of nodes) expect(added).toEqual([expect.stringMatching(/^\+ 127\.0\.0\.50\b.*\(global\)$/)]);
  // Nothing was written: the graph still has no external peer.
  expect(await page.evaluate(() => window.__tabby.cluster?.peers.length)).toBe(0);
  await page.fill('#preview-text', 'kind: [unclosed');
  await page.click('#preview-form button[type="submit"]');
  const error = await eventually('the preview error', () => page.locator('#preview-error').textContent({ timeout: 500 }).catch(() => undefined), 30_000, 200);
  expect(error).toMatch(/\S/);
  expect(error).not.toMatch(/unreachable|not JSON/);
}, 90_000);

it("turns a stopped agent's sessions to a down state without a reload", async () => {
  await page.evaluate(() => ((window as unknown as { __sameLoad: boolean }).__sameLoad = true));
  await cluster.agents.get('node3')!.process.stop();
  const rows = await eventually(
    "node3's sessions to leave Established on the page",
    async () => {
      const r = await sessionRows();
      return r['node1~node3'] !== 'Established' && r['node2~node3'] !== 'Established' ? r : undefined;
    },
    90_000,
    250,
  );
  expect(rows['node1~node2']).toBe('Established');
  expect(await page.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad)).toBe(true);
  const states = await page.evaluate(() => window.__tabby.cy.edges().map((e) => [e.id(), String(e.data('state'))]));
  for (const [id, state] of states) expect(state === 'Established').toBe(pairOf(id) === 'node1~node2');
}, 120_000);

it('names a stopped store in a banner and clears it by itself when the store is back', async () => {
  await cluster.store.process.stop();
  const text = await eventually(
    'the store-unreachable banner',
    async () => {
      const t = (await page.locator('#banner [data-backend="store"]').textContent({ timeout: 500 }).catch(() => '')) ?? '';
      return t.startsWith('store unreachable: ') ? t : undefined;
    },
    60_000,
    250,
  );
  expect(text).toMatch(/^store unreachable: \S/);
  // The page still shows the last graph it read: no blank screen.
  expect(await page.locator('#sessions tbody tr').count()).toBe(3);
  // Same port and data dir. Started by hand rather than with startService for a longer wait
  // on its listening line: on a loaded machine a restart beside a running cluster is slow.
  const restarted = group.start('tabby-store', process.execPath, [serviceBin('store'), ...cluster.storeArgs]);
  await restarted.waitForLine(/"msg":"gRPC listening"/, 120_000);
  await eventually('the banner to clear', () => page.locator('#banner').isHidden(), 90_000, 250);
  expect(await page.locator('#banner [data-backend]').count()).toBe(0);
}, 300_000);

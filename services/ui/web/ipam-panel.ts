/**
 * IP use: a bar per pool (used / total, as `tabbyctl ipam show` counts them), disabled
 * pools marked, a drained pool's progress, and a small bar per block with its node and the
 * addresses other nodes borrowed from it.
 */
import type { BlockUse, IpamView, PoolUse } from '../src/view.js';
import { bar, h } from './dom.js';

function block(b: BlockUse): HTMLElement {
  return h(
    'li',
    { class: 'block', 'data-block': b.cidr },
    h('code', {}, b.cidr),
    bar(b.fraction, 'bar small'),
    h('span', { class: 'use' }, `${b.used} / ${b.total}`),
    h('span', { class: 'muted' }, b.node ? `on ${b.node}` : 'no affinity'),
    b.borrowed > 0 ? h('span', { class: 'badge borrowed' }, `${b.borrowed} borrowed`) : null,
  );
}

function migration(p: PoolUse): HTMLElement | null {
  const m = p.migration;
  if (!m) return null;
  const text = `draining: ${m.remainingWorkloads} workload${m.remainingWorkloads === 1 ? '' : 's'} left`;
  const done = m.startedWith ? (m.startedWith - m.remainingWorkloads) / m.startedWith : undefined;
  return h('div', { class: 'migration' }, done === undefined ? null : bar(done, 'bar small drain'), h('span', {}, text));
}

function pool(p: PoolUse): HTMLElement {
  return h(
    'section',
    { class: `pool${p.disabled ? ' disabled' : ''}`, 'data-pool': p.name, 'data-cidr': p.cidr },
    h('div', { class: 'pool-head' }, h('strong', {}, p.name), h('code', {}, p.cidr), p.disabled ? h('span', { class: 'badge off' }, 'disabled') : null),
    bar(p.fraction),
    h('div', { class: 'pool-use' }, `${p.used} / ${p.total}`),
    migration(p),
    p.blocks.length > 0 ? h('ul', { class: 'blocks' }, ...p.blocks.map(block)) : h('p', { class: 'muted' }, 'No blocks claimed yet.'),
  );
}

export function renderIpam(el: HTMLElement, v: IpamView): void {
  el.replaceChildren(...(v.pools.length === 0 ? [h('p', { class: 'muted' }, 'No IP pools.')] : v.pools.map(pool)));
}

/**
 * One node's detail: the health line and session tables `tabbyctl node status` prints
 * (PEER ADDRESS, PEER TYPE, STATE, SINCE, INFO), then its routes.
 */
import type { NodeView, RoutesView, SessionRow } from '../src/view.js';
import { ApiFailure, api } from './api.js';
import { h, table } from './dom.js';

const SESSION_COLUMNS = ['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'] as const;

function sessionTable(title: string, rows: readonly SessionRow[]): HTMLElement {
  if (rows.length === 0) return h('div', {}, h('h4', {}, title), h('p', { class: 'muted' }, `No ${title.startsWith('IPv6') ? 'IPv6' : 'IPv4'} peers found.`));
  return h(
    'div',
    {},
    h('h4', {}, title),
    table(
      SESSION_COLUMNS,
      rows.map((r) => [r.peerAddress, r.peerType, h('span', { class: `state state-${r.state === 'up' ? 'up' : r.state === 'start' ? 'start' : 'down'}` }, r.state), r.since, r.info]),
      (i) => ({ 'data-peer': rows[i].peerAddress, 'data-state': rows[i].state }),
    ),
  );
}

function routesTable(v: RoutesView): HTMLElement {
  if (v.routes.length === 0) return h('p', { class: 'muted' }, 'No routes.');
  return table(
    ['PREFIX', 'VIA', 'FROM', 'AS PATH', 'BEST'],
    v.routes.map((r) => [h('code', {}, r.prefix), r.nextHop || '-', r.local ? 'local' : r.from, r.asPath || '-', r.best ? '*' : '']),
  );
}

const failure = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Loads and shows NAME; a later call wins over a slower earlier one. */
export class NodePanel {
  private seq = 0;
  current = '';

  constructor(private readonly el: HTMLElement) {}

  async show(name: string): Promise<void> {
    this.current = name;
    const seq = ++this.seq;
    const [node, routes] = await Promise.allSettled([api<NodeView>(`/api/v1/nodes/${encodeURIComponent(name)}`), api<RoutesView>(`/api/v1/nodes/${encodeURIComponent(name)}/routes`)]);
    if (seq !== this.seq) return;
    const parts: HTMLElement[] = [h('h3', {}, name)];
    if (node.status === 'fulfilled') {
      const v = node.value;
      parts.push(
        h('p', { class: `health ${v.running ? 'ok' : 'bad'}`, id: 'node-health' }, v.health),
        sessionTable('IPv4 BGP status', v.ipv4),
        sessionTable('IPv6 BGP status', v.ipv6),
      );
    } else {
      parts.push(h('p', { class: 'error' }, failure(node.reason)));
    }
    parts.push(h('h4', {}, 'Routes'));
    if (routes.status === 'fulfilled') parts.push(routesTable(routes.value));
    else parts.push(h('p', { class: routes.reason instanceof ApiFailure && routes.reason.status === 0 ? 'error' : 'muted' }, `routes unavailable: ${failure(routes.reason)}`));
    this.el.replaceChildren(...parts);
  }
}

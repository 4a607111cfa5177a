/**
 * The visible session list beside the graph: one row per session with its id, state and
 * age, so what the canvas shows is also readable text (and what the browser test reads).
 */
import type { ClusterView, GraphSession } from '../src/view.js';
import { h, table } from './dom.js';
import { age, stateClass } from './format.js';
import { sessionTitle } from './graph.js';

const dot = (s: GraphSession): HTMLElement => h('span', { class: `state state-${stateClass(s.state)}` }, s.state);

export function renderSessions(el: HTMLElement, view: ClusterView): void {
  const now = Date.now();
  const rows = [...view.sessions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const summary = h('p', { class: 'muted' }, rows.length === 0 ? 'No BGP sessions: no nodes, or nodes with no peers.' : `${rows.filter((s) => s.state === 'Established').length} of ${rows.length} Established`);
  const t = table(
    ['SESSION', 'TYPE', 'STATE', 'FOR'],
    rows.map((s) => [h('code', {}, s.id), s.type, dot(s), h('span', { class: 'age', 'data-since': s.since }, age(s.since, now))]),
    (i) => ({ 'data-session': rows[i].id, 'data-state': rows[i].state, title: sessionTitle(rows[i], now), class: rows[i].viable ? '' : 'nonviable' }),
  );
  t.id = 'sessions';
  el.replaceChildren(summary, t);
}

/** Ages move on without a refetch: every few seconds the FOR cells are recomputed. */
export function tickAges(root: ParentNode): void {
  const now = Date.now();
  for (const cell of root.querySelectorAll<HTMLElement>('.age[data-since]')) cell.textContent = age(cell.dataset.since ?? '', now);
}

/** Small DOM helpers: the page builds its panels from these, no framework. */

type Child = Node | string | null | undefined | false;

/** An element with attributes (`class`, `data-*`, `title`, …) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** The element with this id; the page's markup is fixed, so a missing one is a bug. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no #${id} in index.html`);
  return el as T;
}

/** A table with a header row and text cells; `rowAttrs` tags rows for tests and styles. */
export function table(headers: readonly string[], rows: readonly (readonly Child[])[], rowAttrs: (i: number) => Record<string, string> = () => ({})): HTMLTableElement {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows.map((cells, i) => h('tr', rowAttrs(i), ...cells.map((c) => h('td', {}, c))))),
  );
}

/** A used/total bar; `fraction` is clamped to 0..1. */
export function bar(fraction: number, cls = 'bar'): HTMLElement {
  const pct = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0)) * 100;
  return h('div', { class: cls, role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': pct.toFixed(1) }, h('span', { style: `width:${pct.toFixed(2)}%` }));
}

/**
 * Preview: a pasted manifest goes to topology's dry run (POST /api/v1/preview); the page
 * shows the sessions each node would gain and lose and the safety warnings. Applying stays
 * in the CLI: this page is read-only.
 */
import type { PreviewView, PreviewWarning } from '../src/view.js';
import { api } from './api.js';
import { h } from './dom.js';

const SEVERITY_ORDER: Record<PreviewWarning['severity'], number> = { error: 0, warning: 1, info: 2 };

function warnings(title: string, ws: readonly PreviewWarning[]): HTMLElement | null {
  if (ws.length === 0) return null;
  const sorted = [...ws].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
  return h('div', {}, h('h4', {}, title), h('ul', { class: 'warnings' }, ...sorted.map((w) => h('li', { class: `sev-${w.severity}` }, h('span', { class: 'badge' }, w.severity), ` ${w.message}`))));
}

export function renderPreview(el: HTMLElement, v: PreviewView): void {
  const nodes = v.nodes.filter((n) => n.added.length + n.removed.length > 0);
  const parts = [
    nodes.length === 0
      ? h('p', { class: 'muted' }, 'No session would change.')
      : h(
          'ul',
          { class: 'preview-nodes' },
          ...nodes.map((n) =>
            h('li', { 'data-node': n.node }, h('strong', {}, n.node), h('ul', {}, ...n.added.map((a) => h('li', { class: 'added' }, `+ ${a}`)), ...n.removed.map((r) => h('li', { class: 'removed' }, `− ${r}`)))),
          ),
        ),
    warnings('Warnings', v.warnings),
    warnings('Resolved by this change', v.resolved),
    v.ignored.length > 0 ? h('p', { class: 'muted' }, `Ignored (not about peering): ${v.ignored.join(', ')}`) : null,
    h('p', { class: 'muted' }, 'Nothing was written. Apply with tabbyctl apply -f FILE.'),
  ];
  el.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
}

export function wirePreview(form: HTMLFormElement, text: HTMLTextAreaElement, out: HTMLElement): void {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    out.replaceChildren(h('p', { class: 'muted' }, 'Previewing…'));
    api<PreviewView>('/api/v1/preview', text.value).then(
      (v) => renderPreview(out, v),
      (err: unknown) => out.replaceChildren(h('p', { class: 'error', id: 'preview-error' }, err instanceof Error ? err.message : String(err))),
    );
  });
}

/**
 * The banner under the header: what the page cannot read right now. A backend tabby-ui
 * cannot reach ("store unreachable: …"), or tabby-ui itself; empty when all is well, so a
 * down backend never leaves a blank page without a word.
 */
import type { BackendState } from '../src/view.js';
import { h } from './dom.js';
import { age } from './format.js';

export class Banner {
  private backends: readonly BackendState[] = [];
  private uiDown = '';

  constructor(private readonly el: HTMLElement) {}

  setBackends(b: readonly BackendState[]): void {
    this.backends = b;
    this.render();
  }

  /** '' when tabby-ui answers again. */
  setUiDown(reason: string): void {
    this.uiDown = reason;
    this.render();
  }

  private render(): void {
    const lines: HTMLElement[] = [];
    if (this.uiDown) lines.push(h('div', { class: 'alert', 'data-backend': 'ui', title: this.uiDown }, 'tabby-ui unreachable, retrying…'));
    for (const b of this.backends.filter((x) => !x.reachable)) {
      const since = age(b.since);
      lines.push(h('div', { class: 'alert', 'data-backend': b.name, title: `${b.address}${since ? `, for ${since}` : ''}` }, `${b.name} unreachable: ${b.error ?? 'no answer'}`, h('span', { class: 'muted' }, ` (${b.address}; the view shows what was last read, and recovers by itself)`)));
    }
    this.el.replaceChildren(...lines);
    this.el.hidden = lines.length === 0;
  }
}

/** services/ui/README.md documents every flag of tabby-ui and every API route of view.ts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commonOptions, optionTable } from '@tabby/runtime';
import { uiOptions } from '../src/options.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const contract = readFileSync(new URL('../src/view.ts', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every flag with its environment variable and default', () => {
    for (const row of optionTable({ ...commonOptions, ...uiOptions })) {
      const line = readme.split('\n').find((l) => l.startsWith(`| \`${row.flag}`));
      expect(line, `README row for ${row.flag}`).toBeDefined();
      expect(line).toContain(`\`${row.env}\``);
      if (row.default !== '') expect(line).toContain(`\`${row.default}\``);
    }
  });

  it('documents every route view.ts lists', () => {
    const routes = [...contract.matchAll(/^ \* {3}((?:POST )?\/\S*)/gm)].map((m) => m[1]);
    expect(routes.length).toBeGreaterThanOrEqual(8);
    for (const r of routes) expect(readme, r).toContain(`| \`${r}\` |`);
  });
});

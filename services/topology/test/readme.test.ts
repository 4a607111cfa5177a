import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commonOptions, optionTable } from '@tabby/runtime';
import { WARNING_CODES } from '../src/compile/analyze.js';
import { topologyOptions } from '../src/options.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('documents every flag with its environment variable and default', () => {
    for (const row of optionTable({ ...commonOptions, ...topologyOptions })) {
      const line = readme.split('\n').find((l) => l.startsWith(`| \`${row.flag}`));
      expect(line, `README row for ${row.flag}`).toBeDefined();
      expect(line).toContain(`\`${row.env}\``);
      if (row.default !== '') expect(line).toContain(`\`${row.default}\``);
    }
  });

  it('documents every warning code', () => {
    for (const code of WARNING_CODES) expect(readme, code).toContain(`| \`${code}\``);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { commonOptions, optionTable } from '@tabby/runtime';
import { agentOptions } from '../src/options.js';

describe('README', () => {
  it('documents every flag with its environment variable and default', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const row of optionTable({ ...commonOptions, ...agentOptions })) {
      const line = readme.split('\n').find((l) => l.startsWith(`| \`${row.flag}`));
      expect(line, `README row for ${row.flag}`).toBeDefined();
      expect(line).toContain(`\`${row.env}\``);
      if (row.default !== '') expect(line).toContain(`\`${row.default}\``);
    }
  });
});

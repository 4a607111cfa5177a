import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@tabby/harness';
import { describe, expect, it } from 'vitest';

// A user has only the repository. A README or comment that sends them to a file outside it (the
// notes the project was started from, a developer's checkout) is a dead end: what they need
// belongs in docs/. The patterns are written as regexes so this file does not match itself.
const OUTSIDE = [
  { what: 'an absolute path into the development machine', re: /\/work\// },
  { what: 'the project notes', re: /shared\/reference/ },
  { what: 'a folder beside the repository', re: /\.\.\/shared\// },
];

function trackedTextFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(path.join(REPO_ROOT, f)));
}

describe('tracked files', () => {
  it('name no path outside the repository', () => {
    const hits: string[] = [];
    for (const file of trackedTextFiles()) {
      const bytes = readFileSync(path.join(REPO_ROOT, file));
      if (bytes.includes(0)) continue; // binary
      bytes
        .toString('utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const { what, re } of OUTSIDE) if (re.test(line)) hits.push(`${file}:${i + 1}: ${what}: ${line.trim()}`);
        });
    }
    expect(hits, `move what these need into docs/ and point there:\n${hits.join('\n')}`).toEqual([]);
  });
});

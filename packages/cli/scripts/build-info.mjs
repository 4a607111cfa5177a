// Records the git commit the CLI was built from (tabbyctl version prints it). A container
// build has no .git: deploy/Dockerfile passes the commit as TABBY_GIT_COMMIT.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // not a git checkout (a tarball): "unknown"
    return 'unknown';
  }
}

const commit = process.env.TABBY_GIT_COMMIT || gitCommit();
mkdirSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true });
writeFileSync(fileURLToPath(new URL('../dist/build-info.json', import.meta.url)), `${JSON.stringify({ commit })}\n`);

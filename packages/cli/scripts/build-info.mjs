// Records the git commit the CLI was built from (tabbyctl version prints it).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
} catch {
  // not a git checkout (a tarball, a container build): keep "unknown"
}
mkdirSync(fileURLToPath(new URL('../dist', import.meta.url)), { recursive: true });
writeFileSync(fileURLToPath(new URL('../dist/build-info.json', import.meta.url)), `${JSON.stringify({ commit })}\n`);

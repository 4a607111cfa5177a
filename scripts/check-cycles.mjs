// Fails when any package or service has a circular import (run by `npm run lint` and `npm test`).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dirs = ['packages', 'services', 'test']
  .flatMap((d) => (existsSync(path.join(root, d)) ? readdirSync(path.join(root, d)).map((n) => path.join(d, n, 'src')) : []))
  .filter((d) => existsSync(path.join(root, d)) && !d.startsWith('packages/proto'));
const madge = path.join(root, 'node_modules/.bin/madge');
try {
  execFileSync(madge, ['--circular', '--extensions', 'ts', '--ts-config', 'tsconfig.json', '--no-spinner', ...dirs], { cwd: root, stdio: 'inherit' });
} catch {
  process.stderr.write('circular imports found (see above)\n');
  process.exit(1);
}

#!/usr/bin/env node
// The `tabby-ui` command. This file is tracked in git (dist/ is not), so `npm install` links it
// into node_modules/.bin on the very first install; it runs the built program in dist/.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('tabby-ui is not built yet: run `npm run build` in the repository root (npm install does it too)\n');
  process.exit(1);
}
await import(main.href);

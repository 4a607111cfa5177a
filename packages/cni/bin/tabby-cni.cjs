#!/usr/bin/env node
// The `tabby-cni` command. This file is tracked in git (dist/ is not), so `npm install` links it
// into node_modules/.bin on the very first install; it runs the bundle in dist/, which is what
// a container runtime executes (copied to /opt/cni/bin/tabby-cni).
const { existsSync } = require('node:fs');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'dist', 'tabby-cni');
if (!existsSync(bundle)) {
  process.stderr.write('tabby-cni is not built yet: run `npm run build` in the repository root (npm install does it too)\n');
  process.exit(1);
}
require(bundle);

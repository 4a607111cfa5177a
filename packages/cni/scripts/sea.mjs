// Makes dist/sea/tabby-cni: a Node.js single executable application (SEA) — this Node.js
// binary with dist/tabby-cni (the bundle) and its V8 code cache injected — so a node needs no
// Node.js of its own: the one file is what `tabby-cni install` copies to /opt/cni/bin. Runs
// after scripts/bundle.mjs, offline (`node --experimental-sea-config` and postject, a
// devDependency). The executable is as portable as the Node.js binary it is made from (the
// image's: Debian bookworm's glibc 2.36, or later, is needed on the node).
import { copyFileSync, chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { inject } = require('postject');

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = `${root}dist/tabby-cni`;
const dir = `${root}dist/sea`;
const blob = `${dir}/tabby-cni.blob`;
const config = `${dir}/sea-config.json`;
const out = `${dir}/tabby-cni`;
const partial = `${out}.partial`;
// The sentinel every Node.js binary built with SEA support carries (Node's documentation).
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const fail = (message) => {
  console.error(`sea: ${message}`);
  process.exit(1);
};

if (!statSync(bundle, { throwIfNoEntry: false })) fail(`${bundle} is missing: scripts/bundle.mjs runs first`);
const node = process.execPath;
if (!readFileSync(node).includes(FUSE)) {
  fail(`${node} (Node.js ${process.version}) was built without single-executable support; build with an official Node.js 20 binary`);
}

mkdirSync(dir, { recursive: true });
// The bundle starts with a shebang line, which a SEA main script must not: the blob gets the same
// code without it.
const main = `${dir}/main.cjs`;
writeFileSync(main, readFileSync(bundle, 'utf8').replace(/^#![^\n]*\n/, ''));
writeFileSync(config, `${JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false }, null, 2)}\n`);
const prep = spawnSync(node, ['--experimental-sea-config', config], { encoding: 'utf8' });
if (prep.status !== 0) fail(`node --experimental-sea-config failed: ${prep.stderr || prep.stdout}`);

rmSync(partial, { force: true });
copyFileSync(node, partial);
// postject's wasm build of LIEF prints "Can't find string offset for section name" for Node's
// note sections: harmless, and not ours to print.
const warn = console.warn;
console.warn = () => {};
try {
  await inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE });
} finally {
  console.warn = warn;
}
chmodSync(partial, 0o755);
renameSync(partial, out);
rmSync(blob, { force: true });
rmSync(main, { force: true });
rmSync(config, { force: true });

// It must run here, or nothing should claim it was built.
const version = spawnSync(out, [], { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
if (version.status !== 0 || !version.stdout.includes('supportedVersions')) {
  fail(`the executable does not answer VERSION: ${version.stderr || version.stdout}`);
}
console.log(`dist/sea/tabby-cni: ${(statSync(out).size / 1048576).toFixed(0)} MiB (Node.js ${process.version} and the bundle)`);

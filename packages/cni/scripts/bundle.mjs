// Bundles src/main.ts and everything it imports (the @tabby packages' built JS, grpc-js,
// pino) into one CommonJS file, dist/tabby-cni: a node script with a shebang that a
// runtime executes from /opt/cni/bin with nothing else beside it. Runs offline (esbuild is
// a devDependency with its binary installed by npm ci). `node scripts/bundle.mjs --meta`
// also writes dist/tabby-cni.meta.json (esbuild's metafile: what went in, and its size).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/tabby-cni`;
mkdirSync(`${root}dist`, { recursive: true });
/**
 * @tabby/runtime loads its server-side libraries on first use through `lazy(id)` (a require
 * made from import.meta.url, which a bundle does not have and esbuild cannot follow). Here
 * lazy.js is replaced by the same function over literal requires, so esbuild bundles what
 * tabby-cni uses (pino) and nothing else; asking for anything else says so.
 */
const runtimeLazy = {
  name: 'runtime-lazy',
  setup(b) {
    b.onLoad({ filter: /[\\/]runtime[\\/]dist[\\/]lazy\.js$/ }, () => ({
      loader: 'js',
      resolveDir: root,
      contents: `const load = { pino: () => require('pino') };
export function lazy(id) {
  let mod;
  return () => {
    if (mod === undefined) {
      if (!load[id]) throw new Error(id + ' is not part of tabby-cni');
      mod = load[id]();
    }
    return mod;
  };
}
`,
    }));
  },
};
const result = await build({
  plugins: [runtimeLazy],
  entryPoints: [`${root}src/main.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  // grpc-js loads these only for channelz and for loading .proto files at run time, which tabby-cni never does.
  external: ['@grpc/proto-loader'],
  minify: true,
  keepNames: true,
  legalComments: 'none',
  sourcemap: false,
  metafile: true,
  // Warnings are checked below instead of printed: modules that read import.meta (the gRPC
  // server, the proto descriptor) are parsed but left out, and only those that stay matter.
  logLevel: 'error',
});
const output = Object.values(result.metafile.outputs)[0];
const kept = (file) => (output?.inputs[file]?.bytesInOutput ?? 0) > 0;
const problems = result.warnings.filter((w) => !w.location || kept(w.location.file));
if (problems.length > 0) {
  for (const w of problems) console.error(`${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.text}`);
  throw new Error(`the bundle has ${problems.length} warning(s) in code it keeps`);
}
chmodSync(outfile, 0o755);
// The package is "type": "module"; the bundle is CommonJS and has no extension.
writeFileSync(`${root}dist/package.json`, '{ "type": "commonjs" }\n');
if (process.argv.includes('--meta')) writeFileSync(`${outfile}.meta.json`, JSON.stringify(result.metafile, null, 1));
const bytes = output?.bytes ?? 0;
console.log(`dist/tabby-cni: ${(bytes / 1024).toFixed(0)} KiB`);

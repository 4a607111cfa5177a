// Generates TypeScript from ../../proto with buf and the local ts-proto plugin, and a
// binary FileDescriptorSet (with imports) for gRPC server reflection. No network needed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const out = path.join(root, 'packages/proto/src/gen');
const buf = path.join(root, 'node_modules/.bin/buf');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const run = (args) => execFileSync(buf, args, { cwd: root, stdio: 'inherit' });
run(['lint']);
run(['generate', '--template', 'buf.gen.yaml']);
run(['build', '-o', path.join(out, 'tabby.binpb')]);

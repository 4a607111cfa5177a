// tsc does not copy non-TS files: put the descriptor set beside the compiled code.
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
mkdirSync(here('../dist/gen'), { recursive: true });
copyFileSync(here('../src/gen/tabby.binpb'), here('../dist/gen/tabby.binpb'));

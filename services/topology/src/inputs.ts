/** The compiler's inputs as messages: what the followers deliver, and what the analysis worker's mirror is fed. */
import type { KindName } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import type { BlockInput, TopologyCompiler } from './compile/compiler.js';

/** One change of the compiler's inputs (structured-clonable: it crosses to the analysis worker). */
export type CompilerInput =
  | { readonly op: 'apply'; readonly resource: Resource }
  | { readonly op: 'delete'; readonly kind: KindName; readonly name: string }
  | { readonly op: 'set-block'; readonly block: BlockInput }
  | { readonly op: 'delete-block'; readonly cidr: string };

export function applyInput(c: TopologyCompiler, input: CompilerInput): void {
  switch (input.op) {
    case 'apply':
      c.apply(input.resource);
      return;
    case 'delete':
      c.delete(input.kind, input.name);
      return;
    case 'set-block':
      c.setBlock(input.block);
      return;
    case 'delete-block':
      c.deleteBlock(input.cidr);
      return;
  }
}

/** The inputs that rebuild the compiler's state from nothing: every resource, then every block. */
export function snapshotInputs(c: TopologyCompiler): CompilerInput[] {
  return [
    ...c.resources().map((resource): CompilerInput => ({ op: 'apply', resource })),
    ...c.blockList().map((b): CompilerInput => ({ op: 'set-block', block: { cidr: b.cidr, node: b.node, pool: b.pool } })),
  ];
}

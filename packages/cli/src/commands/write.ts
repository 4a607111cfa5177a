import { status } from '@grpc/grpc-js';
import { cloneResource, metaOf } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import type { CommandContext } from '../context.js';
import { readInput, type InputResource } from '../input.js';
import { settleNamespace } from '../namespace.js';
import { progressBar } from '../progress.js';
import { report, type Outcome } from '../results.js';
import { isStoreCallError } from '../store-client.js';
import { warnReservedInUse } from './ipam-config.js';

export interface WriteOptions {
  readonly filename: string;
  readonly recursive?: boolean;
  readonly skipEmpty?: boolean;
  readonly skipExists?: boolean;
  readonly namespace?: string;
  /** apply: a progress bar on stderr even when it is not a terminal. */
  readonly progress?: boolean;
}

/** Resources per ApplyBatch call: one large transaction each, and one step of the progress bar. */
const APPLY_CHUNK = 1000;

function where(r: InputResource): string {
  return `${r.source}: document ${r.document}, line ${r.position.line}`;
}

/**
 * create, apply and replace: read the resources of `-f`, write each in order, then print
 * calicoctl's summary. Returns the exit code.
 */
export async function writeCommand(verb: 'create' | 'apply' | 'replace', opts: WriteOptions, ctx: CommandContext): Promise<number> {
  const inputs = await readInput(opts.filename, ctx.io, { recursive: opts.recursive === true, skipEmpty: opts.skipEmpty === true });
  if (verb === 'apply' && inputs.length > 1) return applyMany(inputs, opts, ctx);
  const store = ctx.store();
  const outcomes: Outcome[] = [];
  for (const input of inputs) {
    const resource = cloneResource(input.resource);
    const nsError = settleNamespace(input.kind, resource, { namespace: opts.namespace });
    if (nsError) {
      outcomes.push({ kind: input.kind, where: where(input), error: nsError });
      continue;
    }
    try {
      if (verb === 'create') {
        // calicoctl create keeps only name, namespace, resourceVersion, labels and annotations of the metadata.
        const m = metaOf(resource);
        m.uid = '';
        m.creationTimestamp = undefined;
        await store.create(resource);
      } else if (verb === 'apply') {
        await store.apply(resource);
      } else {
        await store.update(resource);
      }
      outcomes.push({ kind: input.kind, where: where(input) });
      // An IPReservation over addresses in use is accepted; say which ones stay allocated.
      if (input.kind.kind === 'IPReservation') await warnReservedInUse(resource, ctx);
    } catch (err) {
      if (isStoreCallError(err)) {
        if (verb === 'create' && opts.skipExists && err.code === status.ALREADY_EXISTS) {
          outcomes.push({ kind: input.kind, where: where(input) });
          continue;
        }
        outcomes.push({ kind: input.kind, where: where(input), error: err.message });
        continue;
      }
      throw err;
    }
  }
  return report(verb, outcomes, ctx.io) ? 0 : 1;
}

/**
 * apply of several documents: the same outcome as applying each in order (each on its own, a
 * failure stops nothing, later documents see earlier ones), sent as ApplyBatch calls of
 * {@link APPLY_CHUNK} so the store commits them in large transactions. A store without
 * ApplyBatch gets one Apply per resource, as before.
 */
async function applyMany(inputs: readonly InputResource[], opts: WriteOptions, ctx: CommandContext): Promise<number> {
  const outcomes: Outcome[] = inputs.map((input) => ({ kind: input.kind, where: where(input) }));
  const pending: { index: number; resource: Resource }[] = [];
  inputs.forEach((input, index) => {
    // Not copied (as the one-by-one path does): nothing reads the parsed input after this.
    const resource = input.resource;
    const nsError = settleNamespace(input.kind, resource, { namespace: opts.namespace });
    if (nsError) outcomes[index] = { ...outcomes[index], error: nsError };
    else pending.push({ index, resource });
  });
  const progress = progressBar(ctx.io, pending.length, 'resources applied', opts.progress === true);
  let batches = true;
  try {
    for (let start = 0; start < pending.length; start += APPLY_CHUNK) {
      const chunk = pending.slice(start, start + APPLY_CHUNK);
      const errors = batches ? await applyChunk(chunk.map((p) => p.resource), ctx) : undefined;
      if (errors === 'unimplemented') batches = false;
      const chunkErrors = Array.isArray(errors) ? errors : await applyOneByOne(chunk.map((p) => p.resource), ctx);
      chunk.forEach((p, j) => {
        if (chunkErrors[j] !== undefined) outcomes[p.index] = { ...outcomes[p.index], error: chunkErrors[j] };
      });
      progress.update(start + chunk.length);
    }
  } finally {
    progress.finish();
  }
  // An IPReservation over addresses in use is accepted; say which ones stay allocated.
  for (const p of pending) if (outcomes[p.index].error === undefined && inputs[p.index].kind.kind === 'IPReservation') await warnReservedInUse(p.resource, ctx);
  return report('apply', outcomes, ctx.io) ? 0 : 1;
}

/** One ApplyBatch call: each resource's error (undefined when applied), or 'unimplemented' from an older store. */
async function applyChunk(resources: Resource[], ctx: CommandContext): Promise<(string | undefined)[] | 'unimplemented'> {
  try {
    const results = await ctx.store().applyBatch(resources);
    return results.map((r) => (r.error === '' && r.code === 0 ? undefined : r.error));
  } catch (err) {
    if (!isStoreCallError(err)) throw err;
    if (err.code === status.UNIMPLEMENTED) return 'unimplemented';
    // The whole call was refused (e.g. the datastore is locked): each resource's Apply would have been.
    return resources.map(() => err.message);
  }
}

async function applyOneByOne(resources: Resource[], ctx: CommandContext): Promise<(string | undefined)[]> {
  const errors: (string | undefined)[] = [];
  for (const r of resources) {
    try {
      await ctx.store().apply(r);
      errors.push(undefined);
    } catch (err) {
      if (!isStoreCallError(err)) throw err;
      errors.push(err.message);
    }
  }
  return errors;
}

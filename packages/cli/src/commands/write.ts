import { status } from '@grpc/grpc-js';
import { cloneResource, metaOf } from '@tabby/api';
import type { CommandContext } from '../context.js';
import { readInput, type InputResource } from '../input.js';
import { settleNamespace } from '../namespace.js';
import { report, type Outcome } from '../results.js';
import { isStoreCallError } from '../store-client.js';
import { warnReservedInUse } from './ipam-config.js';

export interface WriteOptions {
  readonly filename: string;
  readonly recursive?: boolean;
  readonly skipEmpty?: boolean;
  readonly skipExists?: boolean;
  readonly namespace?: string;
}

function where(r: InputResource): string {
  return `${r.source}: document ${r.document}, line ${r.position.line}`;
}

/**
 * create, apply and replace: read the resources of `-f`, write each in order, then print
 * calicoctl's summary. Returns the exit code.
 */
export async function writeCommand(verb: 'create' | 'apply' | 'replace', opts: WriteOptions, ctx: CommandContext): Promise<number> {
  const inputs = await readInput(opts.filename, ctx.io, { recursive: opts.recursive === true, skipEmpty: opts.skipEmpty === true });
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

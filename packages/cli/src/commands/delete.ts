import { status } from '@grpc/grpc-js';
import { metaOf, mustFindKind, type KindInfo } from '@tabby/api';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { readInput } from '../input.js';
import { checkKindScope, settleNamespace } from '../namespace.js';
import { report, type Outcome } from '../results.js';
import { isStoreCallError } from '../store-client.js';

export interface DeleteOptions {
  readonly filename?: string;
  readonly recursive?: boolean;
  readonly skipEmpty?: boolean;
  readonly skipNotExists?: boolean;
  /** Delete an IPPool that still holds addresses (the store refuses it otherwise). */
  readonly force?: boolean;
  readonly namespace?: string;
}

/** `delete KIND NAME...` or `delete -f FILE`: deletes each, then prints the summary. */
export async function deleteCommand(args: readonly string[], opts: DeleteOptions, ctx: CommandContext): Promise<number> {
  const targets: { kind: KindInfo; namespace: string; name: string; resourceVersion: string; where?: string }[] = [];
  const outcomes: Outcome[] = [];
  if (opts.filename !== undefined) {
    if (args.length > 0) throw new CliError('give either KIND NAME... or -f FILE, not both');
    for (const input of await readInput(opts.filename, ctx.io, { recursive: opts.recursive === true, skipEmpty: opts.skipEmpty === true })) {
      const where = `${input.source}: document ${input.document}, line ${input.position.line}`;
      const nsError = settleNamespace(input.kind, input.resource, { namespace: opts.namespace });
      if (nsError) outcomes.push({ kind: input.kind, where, error: nsError });
      else {
        const m = metaOf(input.resource);
        targets.push({ kind: input.kind, namespace: m.namespace, name: m.name, resourceVersion: m.resourceVersion, where });
      }
    }
  } else {
    const [kindName, ...names] = args;
    if (!kindName) throw new CliError('delete needs KIND NAME... or -f FILE (see tabbyctl delete --help)');
    const kind = mustFindKind(kindName);
    checkKindScope(kind, { namespace: opts.namespace });
    if (names.length === 0) throw new CliError('resource name may not be empty');
    for (const name of names) {
      if (name === '') throw new CliError('resource name may not be empty');
      targets.push({ kind, namespace: kind.namespaced ? (opts.namespace ?? 'default') : '', name, resourceVersion: '' });
    }
  }
  const store = ctx.store();
  for (const t of targets) {
    try {
      await store.delete(t.kind.kind, t.namespace, t.name, t.resourceVersion, opts.force === true);
      outcomes.push({ kind: t.kind, where: t.where });
    } catch (err) {
      if (!isStoreCallError(err)) throw err;
      if (opts.skipNotExists && err.code === status.NOT_FOUND) outcomes.push({ kind: t.kind, where: t.where });
      else outcomes.push({ kind: t.kind, where: t.where, error: err.message });
    }
  }
  return report('delete', outcomes, ctx.io) ? 0 : 1;
}

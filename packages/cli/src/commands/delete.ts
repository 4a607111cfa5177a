import { status } from '@grpc/grpc-js';
import { IPAM_ALLOCATIONS_FINALIZER, idOf, metaOf, mustFindKind, type KindInfo } from '@tabby/api';
import type { PoolUsageResponse } from '@tabby/proto';
import { plural } from '../command-kit.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { readInput } from '../input.js';
import { isIpamCallError } from '../ipam-client.js';
import { checkKindScope, settleNamespace } from '../namespace.js';
import { report, type Outcome } from '../results.js';
import { isStoreCallError } from '../store-client.js';

export interface DeleteOptions {
  readonly filename?: string;
  readonly recursive?: boolean;
  readonly skipEmpty?: boolean;
  readonly skipNotExists?: boolean;
  /**
   * Delete despite finalizers, e.g. an IPPool in which tabby-ipam still holds addresses (the
   * store refuses it otherwise); says first what that orphans.
   */
  readonly force?: boolean;
  readonly namespace?: string;
}

/** `3 addresses of 2 workloads (a, b)`; at most five names. */
function usageText(u: PoolUsageResponse): string {
  const names = u.workloads.slice(0, 5).join(', ') + (u.workloadCount > 5 ? `, and ${u.workloadCount - 5} more` : '');
  return `${plural(u.allocations, 'address', 'addresses')} of ${plural(u.workloadCount, 'workload')}${names ? ` (${names})` : ''}`;
}

/** What tabby-ipam holds in a pool; `unknown` says why it could not tell (not known to ipam: nothing). */
async function askPoolUsage(ctx: CommandContext, name: string): Promise<{ usage?: PoolUsageResponse; unknown?: string }> {
  try {
    return { usage: await ctx.ipam().poolUsage(name) };
  } catch (err) {
    if (isIpamCallError(err) && err.code === status.NOT_FOUND) return {};
    if (err instanceof Error) return { unknown: err.message };
    throw err;
  }
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
  const force = opts.force === true;
  for (const t of targets) {
    const isPool = t.kind.kind === 'IPPool';
    if (force && isPool) {
      // Asked before: once deleted, ipam no longer knows the pool by name.
      const u = await askPoolUsage(ctx, t.name);
      if (u.usage && u.usage.allocations > 0) ctx.io.stderr(`Warning: deleting IPPool ${t.name} orphans ${usageText(u.usage)}\n`);
      else if (u.unknown) ctx.io.stderr(`Warning: could not tell what deleting IPPool ${t.name} orphans: ${u.unknown}\n`);
    }
    try {
      const r = await store.deleteReporting(t.kind.kind, t.namespace, t.name, t.resourceVersion, force);
      if (r.overriddenFinalizers.length > 0) {
        const n = r.overriddenFinalizers.length;
        ctx.io.stderr(`Warning: ${idOf(t.kind, t.namespace, t.name)} deleted despite its finalizer${n === 1 ? '' : 's'} ${r.overriddenFinalizers.join(', ')}\n`);
      }
      outcomes.push({ kind: t.kind, where: t.where });
    } catch (err) {
      if (!isStoreCallError(err)) throw err;
      if (opts.skipNotExists && err.code === status.NOT_FOUND) outcomes.push({ kind: t.kind, where: t.where });
      else {
        let error = err.message;
        if (isPool && err.code === status.FAILED_PRECONDITION && error.includes(IPAM_ALLOCATIONS_FINALIZER)) {
          const u = await askPoolUsage(ctx, t.name);
          if (u.usage && u.usage.allocations > 0) error += ` In it now: ${usageText(u.usage)}.`;
        }
        outcomes.push({ kind: t.kind, where: t.where, error });
      }
    }
  }
  return report('delete', outcomes, ctx.io) ? 0 : 1;
}

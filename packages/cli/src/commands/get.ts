import { status } from '@grpc/grpc-js';
import { findKind, metaOf, objectOf, type KindInfo } from '@tabby/api';
import type { BGPConfiguration, ReadFreshness, Resource } from '@tabby/proto';
import type { CellContext } from '../columns.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { stalest, staleWarning } from '../freshness.js';
import { readInput } from '../input.js';
import { checkKindScope, checkNamespaceFlags, settleNamespace } from '../namespace.js';
import { parseOutputFormat, render } from '../printers.js';
import { isStoreCallError, type StoreClient } from '../store-client.js';

export interface GetOptions {
  readonly output?: string;
  readonly export?: boolean;
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
  readonly selector?: string;
  readonly filename?: string;
  readonly recursive?: boolean;
  readonly skipEmpty?: boolean;
}

const DEFAULT_AS = 64512;

/** The cluster AS that Node rows show in parentheses when a node has none of its own. */
async function globalAS(store: StoreClient): Promise<number | undefined> {
  try {
    const cfg = objectOf(await store.get('BGPConfiguration', '', 'default')) as BGPConfiguration;
    return cfg.spec?.asNumber ?? DEFAULT_AS;
  } catch (err) {
    if (isStoreCallError(err) && err.code === status.NOT_FOUND) return DEFAULT_AS;
    return undefined;
  }
}

/**
 * `get KIND [NAME...]` or `get -f FILE`: prints what it found (table, wide, yaml, json or
 * name), then every error on stderr, one per line; exit 1 if there was any.
 */
export async function getCommand(args: readonly string[], opts: GetOptions, ctx: CommandContext): Promise<number> {
  const format = parseOutputFormat(opts.output);
  checkNamespaceFlags(opts);
  const store = ctx.store();
  const errors: string[] = [];
  let kind: KindInfo;
  let found: Resource[] = [];
  let listQuery = false;
  let revision: string | undefined;
  // Set when the store answered from a stale copy (etcd unreachable): a warning on stderr.
  let freshness: ReadFreshness | undefined;

  if (opts.filename !== undefined) {
    if (args.length > 0) throw new CliError('give either KIND [NAME...] or -f FILE, not both');
    const inputs = await readInput(opts.filename, ctx.io, { recursive: opts.recursive === true, skipEmpty: opts.skipEmpty === true });
    if (inputs.length === 0) return 0;
    kind = inputs[0].kind;
    for (const input of inputs) {
      const nsError = settleNamespace(input.kind, input.resource, opts);
      if (nsError) {
        errors.push(nsError);
        continue;
      }
      const m = metaOf(input.resource);
      try {
        const r = await store.getRead(input.kind.kind, m.namespace, m.name);
        found.push(r.resource);
        freshness = stalest(freshness, r.freshness);
      } catch (err) {
        if (!isStoreCallError(err)) throw err;
        errors.push(err.message);
      }
    }
  } else {
    const [kindName, ...names] = args;
    if (!kindName) throw new CliError('get needs KIND [NAME...] or -f FILE (see tabbyctl get --help)');
    const k = findKind(kindName);
    if (!k) throw new CliError(`failed to get resources: resource type '${kindName}' is not supported`);
    kind = k;
    checkKindScope(kind, opts);
    if (names.length > 0) {
      if (opts.allNamespaces) throw new CliError('cannot use --all-namespace flag for getting a single resource');
      if (opts.selector) throw new CliError('cannot use -l/--selector when getting resources by name');
      const namespace = kind.namespaced ? (opts.namespace ?? 'default') : '';
      for (const name of names) {
        if (name === '') throw new CliError('resource name may not be empty');
        try {
          const r = await store.getRead(kind.kind, namespace, name);
          found.push(r.resource);
          freshness = stalest(freshness, r.freshness);
        } catch (err) {
          if (!isStoreCallError(err)) throw err;
          errors.push(err.message);
        }
      }
    } else {
      listQuery = true;
      const namespace = kind.namespaced && !opts.allNamespaces ? (opts.namespace ?? 'default') : '';
      try {
        const r = await store.list(kind.kind, namespace, opts.selector ?? '');
        found = r.items;
        revision = String(r.revision);
        freshness = r.freshness;
      } catch (err) {
        if (!isStoreCallError(err)) throw err;
        throw new CliError(`failed to get resources: ${err.message}`);
      }
    }
  }

  const ctxCells: CellContext = kind.kind === 'Node' && format === 'wide' ? { globalAS: await globalAS(store) } : {};
  if (found.length > 0 || listQuery) {
    ctx.io.stdout(
      render({
        format,
        kind,
        resources: found,
        listQuery,
        revision,
        export: opts.export === true,
        namespaceColumn: kind.namespaced && (opts.allNamespaces === true || opts.namespace !== undefined),
        ctx: ctxCells,
      }),
    );
  }
  const warning = staleWarning(freshness);
  if (warning) ctx.io.stderr(warning);
  for (const e of errors) ctx.io.stderr(`${e}\n`);
  return errors.length > 0 ? 1 : 0;
}

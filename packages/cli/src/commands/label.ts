import { status } from '@grpc/grpc-js';
import { labelValueProblems, metaOf, mustFindKind, qualifiedNameProblems } from '@tabby/api';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { checkKindScope } from '../namespace.js';
import { isStoreCallError } from '../store-client.js';

export interface LabelOptions {
  readonly overwrite?: boolean;
  readonly remove?: boolean;
  readonly namespace?: string;
}

const ATTEMPTS = 5;

/** `label KIND NAME key=value [--overwrite]` or `label KIND NAME key --remove`, with calicoctl's messages. */
export async function labelCommand(kindArg: string, name: string, labelArg: string, opts: LabelOptions, ctx: CommandContext): Promise<number> {
  const kind = mustFindKind(kindArg);
  checkKindScope(kind, opts);
  let key: string;
  let value: string | undefined;
  if (opts.remove) {
    key = labelArg;
    if (labelArg.includes('=')) throw new CliError(`invalid label ${labelArg}`);
  } else {
    const eq = labelArg.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid label ${labelArg}`);
    key = labelArg.slice(0, eq);
    value = labelArg.slice(eq + 1);
    if (labelValueProblems(value).length > 0) throw new CliError(`invalid label ${labelArg}: ${labelValueProblems(value)[0]}`);
  }
  if (qualifiedNameProblems(key).length > 0) throw new CliError(`invalid label ${labelArg}: ${qualifiedNameProblems(key)[0]}`);
  const store = ctx.store();
  const namespace = kind.namespaced ? (opts.namespace ?? 'default') : '';
  for (let attempt = 1; ; attempt++) {
    let resource;
    try {
      resource = await store.get(kind.kind, namespace, name);
    } catch (err) {
      if (isStoreCallError(err) && err.code === status.NOT_FOUND) throw new CliError(`${kindArg} ${name} not found`);
      throw err;
    }
    const m = metaOf(resource);
    let message: string;
    if (opts.remove) {
      if (!(key in m.labels)) throw new CliError(`cannot remove label of ${kindArg} ${name}, key ${key} does not exist`);
      delete m.labels[key];
      message = `Successfully removed label ${key} from ${kindArg} ${name}`;
    } else if (key in m.labels) {
      if (!opts.overwrite)
        throw new CliError(`failed to update label of ${kindArg} ${name}, key ${key} is already present. please use '--overwrite' to set a new value`);
      m.labels[key] = value as string;
      message = `Successfully updated label ${key} on ${kindArg} ${name}`;
    } else {
      m.labels[key] = value as string;
      message = `Successfully set label ${key} on ${kindArg} ${name}`;
    }
    try {
      await store.update(resource);
    } catch (err) {
      if (isStoreCallError(err) && err.code === status.FAILED_PRECONDITION && attempt < ATTEMPTS) continue;
      if (isStoreCallError(err)) throw new CliError(`failed to update ${kindArg} ${name}, label not changed: ${err.message}`);
      throw err;
    }
    ctx.io.stdout(`${message}\n`);
    return 0;
  }
}

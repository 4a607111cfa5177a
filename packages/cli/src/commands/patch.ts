import { status } from '@grpc/grpc-js';
import { metaOf, mustFindKind, parseManifest, toManifestObject } from '@tabby/api';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { checkKindScope } from '../namespace.js';
import { isStoreCallError } from '../store-client.js';

export interface PatchOptions {
  readonly patch: string;
  readonly type?: string;
  readonly namespace?: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** RFC 7386 merge patch (Kubernetes' strategic merge behaves the same on Calico's types). */
export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: { [k: string]: Json } = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k] ?? null, v);
  }
  return base;
}

const ATTEMPTS = 5;

/** `patch KIND NAME -p PATCH`: merges the patch into the stored object and updates it (retrying on conflicts). */
export async function patchCommand(kindName: string, name: string, opts: PatchOptions, ctx: CommandContext): Promise<number> {
  const kind = mustFindKind(kindName);
  checkKindScope(kind, opts);
  if (opts.type !== undefined && opts.type !== 'strategic' && opts.type !== 'merge')
    throw new CliError(`patch type '${opts.type}' is not supported (use strategic or merge)`);
  let patch: Json;
  try {
    patch = JSON.parse(opts.patch) as Json;
  } catch (err) {
    throw new CliError(`Failed to patch '${kind.kind}' resource: the patch is not JSON: ${(err as Error).message}`);
  }
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new CliError(`Failed to patch '${kind.kind}' resource: the patch must be a JSON object`);
  const store = ctx.store();
  const namespace = kind.namespaced ? (opts.namespace ?? 'default') : '';
  for (let attempt = 1; ; attempt++) {
    try {
      const current = await store.get(kind.kind, namespace, name);
      const merged = mergePatch(toManifestObject(current) as unknown as Json, patch);
      const parsed = parseManifest(JSON.stringify(merged), { source: 'patch' });
      if (parsed.errors.length > 0)
        throw new CliError(`Failed to patch '${kind.kind}' resource: ${parsed.errors.map((e) => `${e.path ? `${e.path}: ` : ''}${e.problem}`).join('; ')}`);
      const updated = parsed.resources[0].resource;
      const m = metaOf(updated);
      if (m.name !== name || m.namespace !== namespace) throw new CliError(`Failed to patch '${kind.kind}' resource: a patch cannot change the name or namespace`);
      m.resourceVersion = metaOf(current).resourceVersion;
      await store.update(updated);
      ctx.io.stdout(`Successfully patched 1 '${kind.kind}' resource\n`);
      return 0;
    } catch (err) {
      if (isStoreCallError(err) && err.code === status.FAILED_PRECONDITION && attempt < ATTEMPTS) continue;
      if (isStoreCallError(err)) throw new CliError(`Failed to patch '${kind.kind}' resource: ${err.code === status.NOT_FOUND ? err.message : `updating existing resource: ${err.message}`}`);
      throw err;
    }
  }
}

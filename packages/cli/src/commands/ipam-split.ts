/**
 * `tabbyctl ipam split <N> (--cidr=<CIDR> | --name=<pool>)`: calicoctl's pool split. The
 * datastores must be locked (tabbyctl datastore migrate lock), so nothing allocates meanwhile.
 * The pool is deleted without releasing anything (its IPAM finalizer overridden), then N pools
 * `<name>-split-<i>` with the N equal parts of its CIDR and its settings, labels and
 * annotations are created, under the lock. tabby-ipam moves the old pool's blocks to the new
 * pools containing them: affinities, addresses and workloads stay as they are.
 */
import { formatIP, metaOf, parseCIDR } from '@tabby/api';
import type { IPPool, Resource } from '@tabby/proto';
import type { CommandContext } from '../context.js';
import { DatastoreClient, datastoreFailure } from '../datastore-client.js';
import { CliError } from '../errors.js';
import { IPAM_TARGET } from '../ipam-client.js';
import { STORE_TARGET } from '../store-client.js';

export interface SplitOptions {
  readonly cidr?: string;
  readonly name?: string;
}

/** The `n` equal parts of a CIDR, in address order; an error text when it cannot be split so. */
export function splitCidr(cidr: string, n: number, blockSize: number): string[] {
  const c = parseCIDR(cidr);
  if (!c) throw new CliError(`invalid CIDR ${cidr}`);
  const bits = Math.log2(n);
  const prefix = c.prefix + bits;
  if (prefix > blockSize) throw new CliError(`the CIDR ${c.canonical} is not large enough to be split into ${n} parts`);
  const hostBits = (c.family === 4 ? 32 : 128) - prefix;
  return Array.from({ length: n }, (_, i) => `${formatIP(c.family, c.network + (BigInt(i) << BigInt(hostBits)))}/${prefix}`);
}

function poolOf(r: Resource): IPPool {
  if (r.kind?.$case !== 'ipPool') throw new Error('not an IPPool');
  return r.kind.value;
}

export async function ipamSplitCommand(count: string, opts: SplitOptions, ctx: CommandContext): Promise<number> {
  const n = /^\d+$/.test(count) ? Number(count) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || (n & (n - 1)) !== 0 || n > 2 ** 30) throw new CliError(`number to split CIDR into is not a valid power of 2: ${count}`);
  if ((opts.cidr === undefined) === (opts.name === undefined)) throw new CliError('give one of --cidr and --name (see tabbyctl ipam split --help)');
  if (n === 1) throw new CliError('splitting into 1 part leaves the pool as it is: give 2, 4, 8, ...');

  const store = ctx.store();
  const pools = (await store.list('IPPool', '', '')).items;
  const wanted = opts.cidr !== undefined ? parseCIDR(opts.cidr) : undefined;
  if (opts.cidr !== undefined && !wanted) throw new CliError(`invalid CIDR ${opts.cidr}`);
  const parent = pools.find((r) => (wanted ? parseCIDR(poolOf(r).spec?.cidr ?? '')?.canonical === wanted.canonical : metaOf(r).name === opts.name));
  if (!parent) throw new CliError(wanted ? `no IP pool has the CIDR ${wanted.canonical}` : `IP pool ${opts.name ?? ''} does not exist`);
  const meta = metaOf(parent);
  const spec = poolOf(parent).spec;
  if (!spec) throw new CliError(`IP pool ${meta.name} has no spec`);
  const cidr = parseCIDR(spec.cidr);
  if (!cidr) throw new CliError(`IP pool ${meta.name} has an invalid CIDR ${spec.cidr}`);
  const blockSize = spec.blockSize || (cidr.family === 4 ? 26 : 122);
  const parts = splitCidr(cidr.canonical, n, blockSize);
  const names = parts.map((_, i) => `${meta.name}-split-${i}`);
  const taken = names.filter((name) => pools.some((r) => metaOf(r).name === name));
  if (taken.length > 0) throw new CliError(`cannot split IP pool ${meta.name}: IP pools named ${taken.join(', ')} exist already`);

  // Both datastores locked: no address is handed out or released while the pool is replaced.
  for (const [target, address] of [[STORE_TARGET, ctx.config.store], [IPAM_TARGET, ctx.config.ipam]] as const) {
    const api = new DatastoreClient(address, target, ctx.config.tls);
    try {
      const s = await api.status().catch((err: unknown) => {
        throw datastoreFailure(api, err);
      });
      if (!s.locked) throw new CliError(`the datastore of ${s.service} is not locked: ipam split needs it locked (tabbyctl datastore migrate lock), so that nothing allocates while the pool is replaced`);
    } finally {
      api.close();
    }
  }

  const children: Resource[] = parts.map((part, i) => ({
    kind: {
      $case: 'ipPool',
      value: {
        metadata: { ...meta, name: names[i], labels: { ...meta.labels }, annotations: { ...meta.annotations }, resourceVersion: '', uid: '', creationTimestamp: undefined, finalizers: [] },
        spec: { ...spec, cidr: part, blockSize },
      },
    },
  }));
  // The pool goes first (pools may not overlap); its IPAM finalizer is overridden: nothing is released.
  await store.deleteWhileLocked('IPPool', meta.name, true);
  const created: string[] = [];
  for (const [i, child] of children.entries()) {
    try {
      await store.createWhileLocked(child);
      created.push(names[i]);
    } catch (err) {
      throw new CliError(
        `IP pool ${meta.name} (${cidr.canonical}) was deleted, but creating ${names[i]} (${parts[i]}) failed: ${err instanceof Error ? err.message : String(err)}. ` +
          `Created so far: ${created.length > 0 ? created.join(', ') : 'none'}. Create the remaining pools with the same settings before unlocking the datastore`,
      );
    }
  }
  let out = `IP Pool ${meta.name} was successfully split into ${n} smaller pools.\n`;
  for (const [i, part] of parts.entries()) out += `Created ${names[i]} with CIDR ${part}.\n`;
  ctx.io.stdout(out);
  return 0;
}

/**
 * `ipam migrate --from OLD --to NEW [--wait]`: the walkthrough's pool migration (add the
 * new pool, disable the old, recreate the workloads in it, delete it) done safely. Every
 * step leaves a consistent state: until the final delete, the worst an interruption
 * leaves is OLD disabled, which is what the procedure wants anyway; OLD is deleted only
 * once IPAM reports no address in it, and only if nobody re-enabled it meanwhile.
 */
import { status } from '@grpc/grpc-js';
import { metaOf, objectOf, parseCIDR, parseIP, cidrContains, type ParsedCIDR } from '@tabby/api';
import type { IPPool, Node, PoolUsageResponse, Resource, WorkloadEndpoint } from '@tabby/proto';
import { parseSelector } from '@tabby/selector';
import { plural } from '../command-kit.js';
import { CliError } from '../errors.js';
import type { IpamApi } from '../ipam-client.js';
import { isStoreCallError, type StoreClient } from '../store-client.js';
import { tabwrite } from '../tabwriter.js';

export interface MigrateOptions {
  readonly from: string;
  readonly to: string;
  readonly wait: boolean;
  /** Give up waiting after this long (undefined: wait until done or interrupted). */
  readonly timeoutMs?: number;
  /** How often to look at the old pool while waiting. */
  readonly intervalMs: number;
}

/** Tries to delete the emptied pool while its finalizer may still be on its way out (5 s). */
const DELETE_ATTEMPTS = 25;
const DELETE_RETRY_MS = 200;

/** What migrate needs; the real clients fit, tests give fakes. */
export interface MigrateDeps {
  readonly store: Pick<StoreClient, 'get' | 'update' | 'list' | 'delete'>;
  readonly ipam: Pick<IpamApi, 'poolUsage'>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  /** Resolves when the user interrupts (Ctrl-C); never resolves when absent. */
  readonly interrupted?: Promise<void>;
}

/** A workload that still has addresses in the old pool. */
export interface StrandedWorkload {
  /** `namespace/name` */
  readonly id: string;
  readonly node: string;
  readonly networks: readonly string[];
  /** False when IPAM holds addresses for it but the store has no endpoint (leaked). */
  readonly hasEndpoint: boolean;
}

/** What is left in the old pool. */
export interface PoolSurvey {
  readonly allocations: number;
  readonly workloads: readonly StrandedWorkload[];
  /** Workloads IPAM counts beyond the first 100 it names. */
  readonly unnamed: number;
}

const CONFLICT_RETRIES = 5;

function poolOf(r: Resource): IPPool {
  return objectOf(r) as IPPool;
}

async function getPool(store: MigrateDeps['store'], name: string, role: 'new' | 'old'): Promise<Resource> {
  try {
    return await store.get('IPPool', '', name);
  } catch (err) {
    if (isStoreCallError(err) && err.code === status.NOT_FOUND) {
      throw new CliError(
        role === 'new'
          ? `IP pool ${name} does not exist: create it first (tabbyctl create -f new-pool.yaml), then run the migration`
          : `IP pool ${name} does not exist (was it deleted already? tabbyctl get ippool lists the pools)`,
      );
    }
    throw err;
  }
}

function familyName(c: ParsedCIDR): string {
  return c.family === 4 ? 'IPv4' : 'IPv6';
}

/**
 * Which workloads still use the old pool: IPAM's count and names (from the allocations'
 * attributes) joined with the store's WorkloadEndpoints whose addresses lie in the pool
 * (which also finds endpoints written without IPAM).
 */
export async function surveyPool(deps: Pick<MigrateDeps, 'store' | 'ipam'>, name: string, cidr: ParsedCIDR): Promise<PoolSurvey> {
  let usage: PoolUsageResponse;
  try {
    usage = await deps.ipam.poolUsage(name, cidr.canonical);
  } catch (err) {
    throw err instanceof CliError ? err : new CliError(`cannot ask IPAM how ${name} is used: ${err instanceof Error ? err.message : String(err)}`);
  }
  const weps = (await deps.store.list('WorkloadEndpoint', '', '')).items;
  const byId = new Map<string, StrandedWorkload>();
  for (const r of weps) {
    const w = objectOf(r) as WorkloadEndpoint;
    const networks = (w.spec?.ipNetworks ?? []).filter((n) => {
      const ip = parseIP(n.replace(/\/\d+$/, ''));
      return ip !== undefined && cidrContains(cidr, ip);
    });
    if (networks.length === 0) continue;
    const id = `${metaOf(r).namespace}/${w.spec?.pod || w.spec?.workload || metaOf(r).name}`;
    const prev = byId.get(id);
    byId.set(id, { id, node: w.spec?.node ?? '', networks: [...(prev?.networks ?? []), ...networks], hasEndpoint: true });
  }
  for (const id of usage.workloads) if (!byId.has(id)) byId.set(id, { id, node: '', networks: [], hasEndpoint: false });
  const workloads = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { allocations: usage.allocations, workloads, unnamed: Math.max(0, usage.workloadCount - usage.workloads.length) };
}

function workloadTable(s: PoolSurvey): string {
  const rows = s.workloads.map((w) => {
    const slash = w.id.indexOf('/');
    return [w.id.slice(0, slash), w.id.slice(slash + 1), w.node || '-', w.hasEndpoint ? w.networks.join(',') : '(no WorkloadEndpoint: leaked addresses)'];
  });
  let out = tabwrite([['NAMESPACE', 'WORKLOAD', 'NODE', 'NETWORKS'], ...rows]);
  if (s.unnamed > 0) out += `... and ${plural(s.unnamed, 'more workload')}\n`;
  return out;
}

function leftCount(s: PoolSurvey): number {
  return s.workloads.length + s.unnamed;
}

function progressLine(s: PoolSurvey, pool: string): string {
  const n = leftCount(s);
  const line = `${plural(n, 'workload')} left in ${pool}`;
  return n === 0 && s.allocations > 0 ? `${line}, but ${plural(s.allocations, 'address', 'addresses')} still allocated in it (tabbyctl ipam check tells why)` : line;
}

/** Warns about nodes running stranded workloads that the new pool's nodeSelector does not select. */
async function checkNodeSelector(deps: MigrateDeps, name: string, newPool: IPPool, survey: PoolSurvey): Promise<void> {
  const text = newPool.spec?.nodeSelector ?? '';
  const parsed = parseSelector(text);
  if (!parsed.ok) return;
  const nodes = new Map<string, number>();
  for (const w of survey.workloads) if (w.node) nodes.set(w.node, (nodes.get(w.node) ?? 0) + 1);
  for (const [node, count] of [...nodes].sort()) {
    let labels: Record<string, string> = {};
    try {
      labels = (objectOf(await deps.store.get('Node', '', node)) as Node).metadata?.labels ?? {};
    } catch (err) {
      // A node the store does not know: IPAM will refuse it anyway, nothing to predict.
      if (isStoreCallError(err) && err.code === status.NOT_FOUND) continue;
      throw err;
    }
    if (!parsed.selector.matches(labels)) {
      deps.stderr(
        `warning: ${name}'s nodeSelector (${text}) does not select node ${node}, which runs ${count} of these workloads: ` +
          `recreated there, they get addresses from another enabled pool, or none\n`,
      );
    }
  }
}

/** Sets `disabled: true` with the pool's resourceVersion, re-reading it on a conflict. */
async function disablePool(deps: MigrateDeps, name: string, first: Resource): Promise<Resource> {
  let current = first;
  for (let attempt = 1; ; attempt++) {
    const pool = poolOf(current);
    if (pool.spec?.disabled) return current;
    pool.spec = { ...(pool.spec as NonNullable<IPPool['spec']>), disabled: true };
    try {
      return await deps.store.update(current);
    } catch (err) {
      const conflict = isStoreCallError(err) && (err.code === status.FAILED_PRECONDITION || err.code === status.ABORTED);
      if (!conflict || attempt >= CONFLICT_RETRIES) {
        throw new CliError(`cannot disable IP pool ${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      current = await getPool(deps.store, name, 'old');
    }
  }
}

function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Runs the migration; resolves with the exit code. */
export async function migratePool(opts: MigrateOptions, deps: MigrateDeps): Promise<number> {
  const { from, to } = opts;
  if (!from || !to) throw new CliError('ipam migrate needs --from OLD and --to NEW (see tabbyctl ipam migrate --help)');
  if (from === to) throw new CliError(`--from and --to both name ${from}: give the pool to leave and the pool to move to`);

  // 1. The new pool must exist, be enabled, of the same family, and take workloads.
  const newRes = await getPool(deps.store, to, 'new');
  const newPool = poolOf(newRes);
  const oldRes = await getPool(deps.store, from, 'old');
  const oldPool = poolOf(oldRes);
  const newCidr = parseCIDR(newPool.spec?.cidr ?? '');
  const oldCidr = parseCIDR(oldPool.spec?.cidr ?? '');
  if (!newCidr || !oldCidr) throw new CliError(`cannot read the CIDR of ${newCidr ? from : to} from the store`);
  if (newPool.spec?.disabled) {
    throw new CliError(`IP pool ${to} is disabled: workloads could not get addresses from it. Enable it first: tabbyctl patch ippool ${to} -p '{"spec":{"disabled":false}}'`);
  }
  if (newCidr.family !== oldCidr.family) {
    throw new CliError(
      `IP pools ${from} (${oldCidr.canonical}, ${familyName(oldCidr)}) and ${to} (${newCidr.canonical}, ${familyName(newCidr)}) are of different IP families: ` +
        `workloads leaving ${from} would get no ${familyName(oldCidr)} address from ${to}`,
    );
  }
  const uses = newPool.spec?.allowedUses ?? [];
  if (uses.length > 0 && !uses.includes('Workload')) throw new CliError(`IP pool ${to} does not allow Workload use (allowedUses: ${uses.join(', ')}): workloads cannot get addresses from it`);
  deps.stdout(`IP pool ${to} (${newCidr.canonical}) is enabled and takes ${familyName(newCidr)} workload addresses.\n`);
  if (newPool.spec?.assignmentMode === 'Manual') {
    deps.stderr(`warning: ${to} has assignmentMode Manual: only workloads that ask for it by name (tabbyctl workload add --pool ${to}) get addresses from it\n`);
  }

  // 2. Disable the old pool: no new addresses from it, the existing ones keep working.
  if (oldPool.spec?.disabled) deps.stdout(`IP pool ${from} (${oldCidr.canonical}) is already disabled.\n`);
  else {
    await disablePool(deps, from, oldRes);
    deps.stdout(`Disabled IP pool ${from} (${oldCidr.canonical}): it gives no new addresses; its workloads keep theirs until they are recreated.\n`);
  }

  // 3. The workloads that must be recreated.
  let survey = await surveyPool(deps, from, oldCidr);
  const left = leftCount(survey);
  if (left > 0) {
    deps.stdout(`${plural(left, 'workload')} still ${left === 1 ? 'has' : 'have'} addresses in ${from} and must be recreated to move to ${to}:\n`);
    deps.stdout(`${workloadTable(survey)}\n`);
    await checkNodeSelector(deps, to, newPool, survey);
  } else if (survey.allocations > 0) {
    deps.stdout(`No workload uses ${from}, but ${plural(survey.allocations, 'address', 'addresses')} are still allocated in it (tabbyctl ipam check tells why).\n`);
  }

  if (!opts.wait) {
    if (left === 0 && survey.allocations === 0) {
      deps.stdout(`Nothing uses ${from} any more. Delete it with:\n  tabbyctl delete ippool ${from}\nor run this command again with --wait to have it deleted.\n`);
      return 0;
    }
    deps.stdout(
      `Next: recreate each of these workloads so it gets an address from ${to} ` +
        `(Kubernetes: kubectl delete pod -n NAMESPACE WORKLOAD; without an orchestrator: tabbyctl workload delete NAMESPACE/WORKLOAD, ` +
        `then tabbyctl workload add NAMESPACE/WORKLOAD --node NODE). Then\n` +
        `  tabbyctl ipam migrate --from ${from} --to ${to} --wait\n` +
        `waits until nothing uses ${from} and deletes it. Until then ${from} stays disabled; its workloads keep working.\n`,
    );
    return 0;
  }

  // 4. Wait until IPAM reports no address in the old pool, one line per change.
  const started = deps.now();
  let interrupted = false;
  void deps.interrupted?.then(() => (interrupted = true));
  let last = '';
  let lastError = '';
  for (;;) {
    const line = progressLine(survey, from);
    if (line !== last) {
      deps.stdout(`${line}\n`);
      last = line;
    }
    if (survey.allocations === 0 && leftCount(survey) === 0) break;
    const keep = `${from} stays disabled and is not deleted; run this command again to keep waiting`;
    if (interrupted) throw new CliError(`interrupted with ${plural(leftCount(survey), 'workload')} left in ${from}: ${keep}`, 130);
    if (opts.timeoutMs !== undefined && deps.now() - started >= opts.timeoutMs) {
      throw new CliError(`timed out after ${formatDuration(opts.timeoutMs)} with ${plural(leftCount(survey), 'workload')} left in ${from}: ${keep}`);
    }
    await Promise.race([deps.sleep(opts.intervalMs), deps.interrupted ?? new Promise<void>(() => undefined)]);
    if (interrupted) continue;
    try {
      survey = await surveyPool(deps, from, oldCidr);
      lastError = '';
    } catch (err) {
      // A service restarting is no reason to stop waiting: say so (once) and look again.
      if (!(err instanceof CliError)) throw err;
      if (err.message !== lastError) deps.stderr(`${err.message}; still waiting\n`);
      lastError = err.message;
    }
  }

  // 5. Delete the old pool, unless someone re-enabled it meanwhile (then it is in use again).
  // tabby-ipam removes its finalizer from the pool right after the last address went (which
  // also changes the pool's version): a refusal in that moment is retried for a few seconds.
  for (let attempt = 1; ; attempt++) {
    const before = await getPool(deps.store, from, 'old');
    if (!poolOf(before).spec?.disabled) throw new CliError(`IP pool ${from} was enabled again while waiting: not deleting it`);
    try {
      await deps.store.delete('IPPool', '', from, metaOf(before).resourceVersion, false);
      break;
    } catch (err) {
      if (isStoreCallError(err) && err.code === status.FAILED_PRECONDITION && attempt < DELETE_ATTEMPTS) {
        await deps.sleep(DELETE_RETRY_MS);
        continue;
      }
      if (isStoreCallError(err)) {
        throw new CliError(`cannot delete IP pool ${from}: ${err.message}${err.code === status.FAILED_PRECONDITION ? ` (${from} stays disabled; run this command again)` : ''}`);
      }
      throw err;
    }
  }
  deps.stdout(`Deleted IP pool ${from}: migration to ${to} complete.\n`);
  return 0;
}

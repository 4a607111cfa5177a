/**
 * `datastore status` and `datastore migrate lock | unlock | export | import` (calicoctl's
 * `datastore migrate`): move everything tabby-store and tabby-ipam keep between a SQLite
 * file and etcd. The flow: lock the old datastores (writes are refused), export to a file,
 * start the services on the new datastores, import the file (they stay locked), check,
 * unlock.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DatastoreStatusResponse, type DatastoreRecord } from '@tabby/proto';
import type { CommandContext } from '../context.js';
import { DatastoreClient, datastoreFailure, type DatastoreApi } from '../datastore-client.js';
import { DatastoreFileError, decodeDatastoreFile, encodeDatastoreFile } from '../datastore-yaml.js';
import { CliError } from '../errors.js';
import { IPAM_TARGET } from '../ipam-client.js';
import { STORE_TARGET } from '../store-client.js';
import { tabwrite } from '../tabwriter.js';

/** The two services whose datastores move, store first. */
export interface DatastoreTargets {
  readonly store: DatastoreApi;
  readonly ipam: DatastoreApi;
}

type Act = <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) => (...args: A) => Promise<void>;

function targets(ctx: CommandContext): DatastoreTargets {
  const c = ctx.config;
  return { store: new DatastoreClient(c.store, STORE_TARGET, c.tls), ipam: new DatastoreClient(c.ipam, IPAM_TARGET, c.tls) };
}

async function on<T>(api: DatastoreApi, fn: (api: DatastoreApi) => Promise<T>): Promise<T> {
  try {
    return await fn(api);
  } catch (err) {
    throw datastoreFailure(api, err);
  }
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

/** The tables of `datastore status` (exact text; tests compare it). */
export function statusText(rows: readonly DatastoreStatusResponse[]): string {
  const out: string[] = [];
  out.push(
    tabwrite([
      ['SERVICE', 'DATASTORE', 'REVISION', 'LOCKED', 'LOCATION'],
      ...rows.map((s) => [s.service, s.datastore, String(s.revision), yesNo(s.locked) + (s.importPending > 0 ? ` (import stopped after ${s.importPending})` : ''), s.location]),
    ]),
  );
  const clusters = new Map<string, DatastoreStatusResponse>();
  for (const s of rows) if (s.datastore === 'etcd' && !clusters.has(s.etcdClusterId)) clusters.set(s.etcdClusterId, s);
  for (const [id, s] of clusters) {
    out.push(`\netcd cluster ${id}, revision ${s.etcdRevision}:\n`);
    out.push(
      tabwrite([
        ['MEMBER', 'ID', 'CLIENT URLS', 'PEER URLS', 'LEADER'],
        ...s.members.map((m) => [m.name || '(unstarted)', m.id, m.clientUrls.join(','), m.peerUrls.join(','), m.leader ? 'yes' : m.learner ? 'learner' : 'no']),
      ]),
    );
  }
  out.push('\n');
  out.push(tabwrite([['SERVICE', 'KIND', 'COUNT'], ...rows.flatMap((s) => s.counts.map((c) => [s.service, c.kind, String(c.count)]))]));
  return out.join('');
}

/** `datastore status [-o json|yaml]`: each service's datastore, revision, lock, etcd members and what it holds. */
export async function datastoreStatusCommand(opts: { output?: string }, ctx: CommandContext, t: DatastoreTargets = targets(ctx)): Promise<number> {
  const format = opts.output ?? 'table';
  if (!['table', 'json', 'yaml'].includes(format)) throw new CliError(`unrecognized output format '${format}' (use one of: table, json, yaml)`);
  const settled = await Promise.allSettled([on(t.store, (a) => a.status()), on(t.ipam, (a) => a.status())]);
  const rows = settled.filter((s): s is PromiseFulfilledResult<DatastoreStatusResponse> => s.status === 'fulfilled').map((s) => s.value);
  if (rows.length > 0) {
    if (format === 'table') ctx.io.stdout(statusText(rows));
    else {
      const json = rows.map((r) => DatastoreStatusResponse.toJSON(r));
      const { toJSON, toYAML } = await import('@tabby/api');
      ctx.io.stdout(format === 'json' ? toJSON(json) : toYAML(json));
    }
  }
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  for (const f of failed) ctx.io.stderr(`${f.reason instanceof Error ? f.reason.message : String(f.reason)}\n`);
  return failed.length > 0 ? 1 : 0;
}

/** `datastore migrate lock | unlock`: IPAM first on lock (no new workload starts half-way), the store first on unlock. */
export async function datastoreLockCommand(locked: boolean, ctx: CommandContext, t: DatastoreTargets = targets(ctx)): Promise<number> {
  const order = locked ? [t.ipam, t.store] : [t.store, t.ipam];
  for (const api of order) {
    const { wasLocked } = await on(api, (a) => a.setLock(locked));
    const name = `tabby-${api.what}`;
    ctx.io.stdout(
      locked
        ? `${name} at ${api.address}: datastore ${wasLocked ? 'was already locked' : 'locked'}; writes are refused\n`
        : `${name} at ${api.address}: datastore ${wasLocked ? 'unlocked' : 'was not locked'}; writes are accepted\n`,
    );
  }
  return 0;
}

/** `datastore migrate export`: every resource and IPAM record as YAML on stdout; only from locked datastores. */
export async function datastoreExportCommand(ctx: CommandContext, t: DatastoreTargets = targets(ctx), now: () => Date = () => new Date()): Promise<number> {
  const [store, ipam] = await Promise.all([on(t.store, (a) => a.status()), on(t.ipam, (a) => a.status())]);
  const unlocked = [store, ipam].filter((s) => !s.locked).map((s) => s.service);
  if (unlocked.length > 0)
    throw new CliError(`the datastore of ${unlocked.join(' and ')} is not locked: run tabbyctl datastore migrate lock first, so that nothing changes while it is exported`);
  const resources = await on(t.store, (a) => a.exportRecords());
  const records = await on(t.ipam, (a) => a.exportRecords());
  const header = [
    `tabbyctl datastore migrate export, ${now().toISOString()}`,
    `tabby-store: ${store.datastore} ${store.location}, revision ${store.revision}, ${resources.length} resources`,
    `tabby-ipam: ${ipam.datastore} ${ipam.location}, block revision ${ipam.revision}, ${records.length} IPAM records`,
    'Import with: tabbyctl datastore migrate import -f FILE (into empty datastores), then tabbyctl datastore migrate unlock',
  ];
  ctx.io.stdout(encodeDatastoreFile(header, [...resources, ...records]));
  return 0;
}

function countOf(s: DatastoreStatusResponse): number {
  return s.counts.filter((c) => c.kind !== 'Allocation').reduce((n, c) => n + c.count, 0);
}

/**
 * `datastore migrate import -f FILE`: checks the whole file first, and that both datastores
 * are empty, then imports the store's resources, then IPAM's records. Both stay locked.
 */
export async function datastoreImportCommand(opts: { filename: string }, ctx: CommandContext, t: DatastoreTargets = targets(ctx)): Promise<number> {
  let text: string;
  const source = opts.filename === '-' ? 'stdin' : opts.filename;
  if (opts.filename === '-') text = await ctx.io.readStdin();
  else {
    try {
      text = readFileSync(path.resolve(ctx.io.cwd, opts.filename), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CliError(`failed to read ${opts.filename}: ${code === 'ENOENT' ? 'no such file or directory' : String(err)}`);
    }
  }
  let file;
  try {
    file = decodeDatastoreFile(text, source);
  } catch (err) {
    if (err instanceof DatastoreFileError) throw new CliError(`failed to import: ${err.message}`);
    throw err;
  }
  if (file.resources.length === 0 && file.ipam.length === 0) throw new CliError(`no resources or IPAM records in ${source}`);
  const [store, ipam] = await Promise.all([on(t.store, (a) => a.status()), on(t.ipam, (a) => a.status())]);
  for (const s of [store, ipam]) {
    if (countOf(s) > 0 && s.importPending === 0)
      throw new CliError(
        `${s.service} at ${s.location} (${s.datastore}) is not empty (${s.counts.filter((c) => c.count > 0).map((c) => `${c.kind}: ${c.count}`).join(', ')}): import only into new, empty datastores`,
      );
  }
  // Both check their records first: a bad block is found before the store is written.
  if (file.resources.length > 0) await on(t.store, (a) => a.importRecords(file.resources, true));
  if (file.ipam.length > 0) await on(t.ipam, (a) => a.importRecords(file.ipam, true));
  const imported = async (api: DatastoreApi, records: readonly DatastoreRecord[], before: DatastoreStatusResponse): Promise<number> => {
    if (records.length === 0 || (countOf(before) > 0 && before.importPending === 0)) return 0;
    return (await on(api, (a) => a.importRecords(records))).imported;
  };
  const nStore = await imported(t.store, file.resources, store);
  let nIpam: number;
  try {
    nIpam = await imported(t.ipam, file.ipam, ipam);
  } catch (err) {
    throw new CliError(
      `${err instanceof Error ? err.message : String(err)}\n(the store's ${nStore} resources were imported; once IPAM is fixed, run the import into tabby-ipam again with a new empty store, or empty the store first)`,
    );
  }
  ctx.io.stdout(`Imported ${nStore} resources into tabby-store at ${t.store.address} (${store.datastore}) and ${nIpam} IPAM records into tabby-ipam at ${t.ipam.address} (${ipam.datastore}).\n`);
  ctx.io.stdout('Both datastores stay locked: check them (tabbyctl get, tabbyctl ipam check), then run tabbyctl datastore migrate unlock.\n');
  return 0;
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** Adds `datastore status` and `datastore migrate ...` to the program. */
export function registerDatastore(program: Command, ctx: CommandContext, act: Act): void {
  const ds = program
    .command('datastore')
    .description('Datastore status, and migration between SQLite and etcd (calicoctl datastore migrate)')
    .addHelpText('after', examples('tabbyctl datastore status', 'tabbyctl datastore migrate --help'));
  ds.command('status')
    .description('Show the datastore of tabby-store and tabby-ipam: backend, revision, lock, etcd members or SQLite file, and what it holds')
    .option('-o, --output <format>', 'table (default), json or yaml')
    .addHelpText('after', examples('tabbyctl datastore status', 'tabbyctl --store 10.0.0.5:50051 --ipam 10.0.0.5:50052 datastore status -o yaml'))
    .action(act((opts: { output?: string }) => datastoreStatusCommand(opts, ctx)));
  const migrate = ds
    .command('migrate')
    .description('Move everything between a SQLite datastore and etcd: lock, export, import, unlock')
    .addHelpText(
      'after',
      examples(
        'tabbyctl datastore migrate lock',
        'tabbyctl datastore migrate export > tabby-data.yaml',
        '# restart tabby-store and tabby-ipam with --datastore etcd --etcd-endpoints URL (empty etcd)',
        'tabbyctl datastore migrate import -f tabby-data.yaml',
        'tabbyctl datastore migrate unlock',
      ),
    );
  migrate
    .command('lock')
    .description('Lock the datastores of tabby-store and tabby-ipam: every write is refused until unlock')
    .addHelpText('after', examples('tabbyctl datastore migrate lock'))
    .action(act(() => datastoreLockCommand(true, ctx)));
  migrate
    .command('unlock')
    .description('Unlock the datastores: writes are accepted again')
    .addHelpText('after', examples('tabbyctl datastore migrate unlock'))
    .action(act(() => datastoreLockCommand(false, ctx)));
  migrate
    .command('export')
    .description('Print every resource and IPAM record (blocks, affinities, handles, config) as YAML; the datastores must be locked')
    .addHelpText('after', examples('tabbyctl datastore migrate export > tabby-data.yaml'))
    .action(act(() => datastoreExportCommand(ctx)));
  migrate
    .command('import')
    .description('Import an export file into empty datastores (all of it, or on SQLite nothing); they stay locked until unlock')
    .requiredOption('-f, --filename <file>', 'the file of datastore migrate export, or - (stdin)')
    .addHelpText('after', examples('tabbyctl datastore migrate import -f tabby-data.yaml', 'tabbyctl datastore migrate unlock'))
    .action(act((opts: { filename: string }) => datastoreImportCommand(opts, ctx)));
}

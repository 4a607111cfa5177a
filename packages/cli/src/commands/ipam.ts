/**
 * `tabbyctl ipam show|check|release|migrate`: calicoctl's IPAM commands against tabby-ipam,
 * plus the pool migration of the walkthrough done safely.
 */
import { status } from '@grpc/grpc-js';
import { formatIP, metaOf, objectOf, parseDuration, parseIP } from '@tabby/api';
import type { CheckProblem, CheckResponse, IpamAllocation, WorkloadEndpoint } from '@tabby/proto';
import type { Command } from 'commander';
import { examples, plural, type Act } from '../command-kit.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { staleWarning } from '../freshness.js';
import { isIpamCallError, type IpamApi } from '../ipam-client.js';
import { allocationText, borrowedTable, utilizationTable, type BorrowedAddress } from '../ipam-tables.js';
import { isStoreCallError, type StoreClient } from '../store-client.js';
import { ipamConfigureCommand, ipamShowConfigurationCommand } from './ipam-config.js';
import { migratePool } from './ipam-migrate.js';
import { buildReport, releaseFromReportCommand, writeReport } from './ipam-report.js';
import { ipamSplitCommand, type SplitOptions } from './ipam-split.js';

/** The address of `--ip`, canonical (`fd00::5`, not `fd00:0::5`); calicoctl's error otherwise. */
export function parseIPArg(text: string): string {
  const ip = parseIP(text);
  if (!ip) throw new CliError(`Error executing command: invalid IP address specified: ${text}`);
  return ip.text;
}

export interface ShowOptions {
  readonly ip?: string;
  readonly showBlocks?: boolean;
  readonly showBorrowed?: boolean;
  readonly showConfiguration?: boolean;
}

/** Addresses borrowed from other nodes' blocks (or allocated in blocks with no node), block by block. */
async function borrowedAddresses(ipam: IpamApi): Promise<{ rows: BorrowedAddress[]; unclassified: number }> {
  const rows: BorrowedAddress[] = [];
  let unclassified = 0;
  for (const b of (await ipam.listBlocks()).blocks) {
    if (b.borrowed === 0) continue;
    const cidr = parseIP(b.cidr.slice(0, b.cidr.indexOf('/')));
    if (!cidr) continue;
    for (let i = 0n; i < BigInt(b.size); i++) {
      const address = formatIP(cidr.family, cidr.value + i);
      const a = await ipam.getAllocation(address);
      if (!a.allocated) continue;
      const node = a.attributes.node;
      if (node === undefined || node === '') unclassified++;
      else if (node !== b.node) rows.push({ address: a.address || address, borrowingNode: node, block: b.cidr, blockOwner: b.node, attributes: a.attributes });
    }
  }
  return { rows, unclassified };
}

/** `ipam show [--ip ADDR | --show-blocks | --show-borrowed]`. */
export async function ipamShowCommand(opts: ShowOptions, ctx: CommandContext): Promise<number> {
  const chosen = [opts.ip !== undefined, opts.showBlocks === true, opts.showBorrowed === true, opts.showConfiguration === true].filter(Boolean).length;
  if (chosen > 1) throw new CliError('give only one of --ip, --show-blocks, --show-borrowed and --show-configuration');
  if (opts.showConfiguration) return ipamShowConfigurationCommand(ctx);
  const ipam = ctx.ipam();
  if (opts.ip !== undefined) {
    const ip = parseIPArg(opts.ip);
    const a = await ipamCall(ipam.getAllocation(ip));
    ctx.io.stdout(allocationText(ip, a));
    warnIfStale(ctx, a.freshness);
    return 0;
  }
  if (opts.showBorrowed) {
    const { rows, unclassified } = await ipamCall(borrowedAddresses(ipam));
    ctx.io.stdout(borrowedTable(rows, unclassified));
    return 0;
  }
  const u = await ipamCall(ipam.utilization(opts.showBlocks === true));
  ctx.io.stdout(utilizationTable(u, opts.showBlocks === true));
  warnIfStale(ctx, u.freshness);
  return 0;
}

/** The warning on stderr when ipam answered from a stale copy (its etcd unreachable). */
function warnIfStale(ctx: CommandContext, freshness: Parameters<typeof staleWarning>[0]): void {
  const warning = staleWarning(freshness);
  if (warning) ctx.io.stderr(warning);
}

/** Turns an error a service answered with into the one-line message tabbyctl prints. */
async function ipamCall<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isIpamCallError(err) || isStoreCallError(err)) throw new CliError(err.message, 1, { cause: err });
    throw err;
  }
}

/** Summary lines of `ipam check`, one per kind of problem, in the order printed. */
const CHECK_KINDS: readonly { kind: string; found: (n: number) => string }[] = [
  { kind: 'leaked-address', found: (n) => `Found ${n} IPs that are allocated in IPAM but not actually in use.` },
  { kind: 'missing-allocation', found: (n) => `Found ${n} in-use IPs that have no corresponding IPAM allocation.` },
  { kind: 'outside-pool', found: (n) => `Found ${n} allocated IPs that are in no IP pool.` },
  { kind: 'block-missing-node', found: (n) => `Found ${n} IPAM blocks affine to nodes that do not exist.` },
  { kind: 'pending-workload', found: (n) => `Found ${n} workload adds or deletes that were interrupted.` },
];

/** How many instances of one kind of problem `ipam check` lists without --show-problem-ips. */
export const CHECK_LISTED = 20;

export interface CheckTextOptions {
  /** List every instance of every problem (default: the first {@link CHECK_LISTED} of each kind). */
  readonly showProblemIps?: boolean;
  /** Every allocated address with its handle, node and problem, after the summary of what was checked. */
  readonly allocations?: readonly IpamAllocation[];
}

/** `--show-all-ips`: one line per allocated address, its problems flagged. */
function allAddressesText(r: CheckResponse, allocations: readonly IpamAllocation[]): string {
  const problemsOf = new Map<string, string[]>();
  for (const p of r.problems) if (p.address) problemsOf.set(p.address, [...(problemsOf.get(p.address) ?? []), p.kind]);
  let out = `IPs allocated in IPAM: ${allocations.length}\n`;
  for (const a of allocations) {
    const to = a.attributes.namespace && a.attributes.pod ? `${a.attributes.namespace}/${a.attributes.pod}` : (a.attributes.type ?? '');
    const problems = problemsOf.get(a.address);
    out += `  ${a.address} handle ${a.handle} node ${a.node || '-'}${to ? ` allocated to ${to}` : ''}${problems ? `: ${problems.join(', ')}` : ''}\n`;
  }
  return `${out}\n`;
}

/** The text of `ipam check`: what was checked, each kind of problem with its instances, the total. */
export function checkReport(r: CheckResponse, repair: boolean, opts: CheckTextOptions = {}): string {
  let out = 'Checking IPAM for inconsistencies...\n\n';
  out += `Checked ${plural(r.blocksChecked, 'IPAM block')}, ${plural(r.allocationsChecked, 'allocation')} and ${plural(r.workloadsChecked, 'workload endpoint')}.\n\n`;
  if (opts.allocations) out += allAddressesText(r, opts.allocations);
  const line = (p: CheckProblem): string => `  ${p.detail}${p.repaired ? ' (repaired)' : ''}\n`;
  const lines = (ps: readonly CheckProblem[]): string => {
    if (opts.showProblemIps || ps.length <= CHECK_LISTED) return ps.map(line).join('');
    return ps.slice(0, CHECK_LISTED).map(line).join('') + `  ... and ${ps.length - CHECK_LISTED} more (--show-problem-ips lists them all)\n`;
  };
  const known = new Set(CHECK_KINDS.map((k) => k.kind));
  for (const k of CHECK_KINDS) {
    const ps = r.problems.filter((p) => p.kind === k.kind);
    out += `${k.found(ps.length)}\n${lines(ps)}`;
  }
  const others = r.problems.filter((p) => !known.has(p.kind));
  for (const kind of [...new Set(others.map((p) => p.kind))].sort()) {
    const ps = others.filter((p) => p.kind === kind);
    out += `Found ${ps.length} problems of kind ${kind}.\n${lines(ps)}`;
  }
  out += '\n';
  if (repair) {
    const fixed = r.problems.filter((p) => p.repaired).length;
    out += `Repaired ${fixed} of ${plural(r.problems.length, 'problem')}${fixed < r.problems.length ? `; ${r.problems.length - fixed} need a look` : ''}.\n`;
  }
  out += `Check complete; found ${r.problems.length} problems.\n`;
  return out;
}

export interface CheckOptions {
  readonly repair?: boolean;
  readonly output?: string;
  readonly showAllIps?: boolean;
  readonly showProblemIps?: boolean;
}

/** Seconds between `still checking` lines on stderr while a long check runs. */
const CHECK_PROGRESS_S = 5;

/**
 * `ipam check [--repair] [--show-all-ips] [--show-problem-ips] [-o FILE]`. A check that takes
 * longer than a few seconds says so on stderr, every few seconds, until it answers.
 */
export async function ipamCheckCommand(opts: CheckOptions, ctx: CommandContext): Promise<number> {
  const repair = opts.repair === true;
  // The cluster and revision before the check: a report is never newer than what it says.
  const cluster = opts.output !== undefined ? await ipamCall(ctx.store().info()) : undefined;
  const now = new Date();
  const started = Date.now();
  const progress = setInterval(() => ctx.io.stderr(`ipam check: still checking after ${Math.round((Date.now() - started) / 1000)}s...\n`), CHECK_PROGRESS_S * 1000);
  let r: CheckResponse;
  let allocations: IpamAllocation[] | undefined;
  try {
    r = await ipamCall(ctx.ipam().check(repair));
    if (opts.showAllIps) allocations = (await ipamCall(ctx.ipam().listAllocations())).allocations.sort((a, b) => compareAddresses(a.address, b.address));
  } finally {
    clearInterval(progress);
  }
  ctx.io.stdout(checkReport(r, repair, { showProblemIps: opts.showProblemIps === true || opts.showAllIps === true, allocations }));
  warnIfStale(ctx, r.freshness);
  if (opts.output !== undefined && cluster) writeReport(ctx, opts.output, buildReport(r, cluster, repair, now));
  return 0;
}

/** Addresses in numeric order (IPv4 before IPv6). */
function compareAddresses(a: string, b: string): number {
  const x = parseIP(a);
  const y = parseIP(b);
  if (!x || !y) return a < b ? -1 : a > b ? 1 : 0;
  if (x.family !== y.family) return x.family - y.family;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

/** The endpoint (namespace/name) that uses `ip`, if any. */
async function endpointUsing(store: StoreClient, namespace: string, ip: string): Promise<string | undefined> {
  const list = await store.list('WorkloadEndpoint', namespace, '');
  for (const r of list.items) {
    const nets = (objectOf(r) as WorkloadEndpoint).spec?.ipNetworks ?? [];
    if (nets.some((n) => parseIP(n.replace(/\/\d+$/, ''))?.text === ip)) return `${metaOf(r).namespace}/${metaOf(r).name}`;
  }
  return undefined;
}

/**
 * `ipam release --ip ADDR`: `Successfully released IP address <ip>`, or `IP address <ip> is
 * not assigned`. Unlike calicoctl, an address a WorkloadEndpoint still uses is not
 * released without --force: it would be handed out a second time.
 */
export async function ipamReleaseCommand(opts: { ip?: string; fromReport?: string; force?: boolean }, ctx: CommandContext): Promise<number> {
  if (opts.ip !== undefined && opts.fromReport !== undefined) throw new CliError('give only one of --ip and --from-report');
  if (opts.fromReport !== undefined) return ipamCall(releaseFromReportCommand(opts.fromReport, opts.force === true, ctx));
  if (opts.ip === undefined) throw new CliError('ipam release needs --ip ADDR or --from-report FILE (see tabbyctl ipam release --help)');
  const ip = parseIPArg(opts.ip);
  const ipam = ctx.ipam();
  if (!opts.force) {
    const a = await ipamCall(ipam.getAllocation(ip));
    if (!a.allocated) throw new CliError(`IP address ${ip} is not assigned`);
    const namespace = a.attributes.namespace;
    if (namespace) {
      let user: string | undefined;
      try {
        user = await endpointUsing(ctx.store(), namespace, ip);
      } catch (err) {
        if (!isStoreCallError(err) || err.code !== status.NOT_FOUND) throw err;
      }
      if (user) {
        throw new CliError(
          `IP address ${ip} is in use by WorkloadEndpoint ${user}: releasing it would let IPAM hand it out twice. ` +
            `Delete the workload instead (tabbyctl workload delete ${namespace}/${a.attributes.pod ?? '<name>'}), or release with --force`,
        );
      }
    }
  }
  const r = await ipamCall(ipam.releaseIPs([ip]));
  if (!r.released.some((x) => parseIP(x.replace(/\/\d+$/, ''))?.text === ip)) throw new CliError(`IP address ${ip} is not assigned`);
  ctx.io.stdout(`Successfully released IP address ${ip}\n`);
  return 0;
}

/** Reads `--timeout`/`--interval` (Go durations: 30s, 10m, 1h30m). */
function durationArg(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) throw new CliError(`invalid ${flag} "${text}": use a duration such as 500ms, 30s, 10m or 1h`);
  return ms;
}

/** `ipam migrate --from OLD --to NEW [--wait] [--timeout D] [--interval D]`. */
export async function ipamMigrateCommand(opts: { from?: string; to?: string; wait?: boolean; timeout?: string; interval?: string }, ctx: CommandContext): Promise<number> {
  const timeoutMs = durationArg('--timeout', opts.timeout);
  const intervalMs = durationArg('--interval', opts.interval) ?? 1000;
  if (timeoutMs !== undefined && !opts.wait) throw new CliError('--timeout only makes sense with --wait');
  // Only a waiting migration catches Ctrl-C (to stop between two looks, saying where it stands).
  let stop: (() => void) | undefined;
  const onInterrupt = opts.wait ? ctx.io.onInterrupt : undefined;
  const interrupted = new Promise<void>((resolve) => {
    stop = onInterrupt?.(() => resolve());
  });
  try {
    return await ipamCall(
      migratePool(
        { from: opts.from ?? '', to: opts.to ?? '', wait: opts.wait === true, timeoutMs: timeoutMs === 0 ? undefined : timeoutMs, intervalMs: Math.max(intervalMs, 10) },
        {
          store: ctx.store(),
          ipam: ctx.ipam(),
          stdout: ctx.io.stdout,
          stderr: ctx.io.stderr,
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          now: () => Date.now(),
          interrupted: onInterrupt ? interrupted : undefined,
        },
      ),
    );
  } finally {
    stop?.();
  }
}

/** Registers `ipam` and its sub-commands on the program. */
export function registerIpam(program: Command, ctx: CommandContext, act: Act): void {
  const ipam = program
    .command('ipam')
    .description('IP address management: pool use, one address, checks, releases, pool migration')
    .usage('<command> [options]')
    .addHelpText(
      'after',
      examples(
        'tabbyctl ipam show',
        'tabbyctl ipam show --show-blocks',
        'tabbyctl ipam show --ip 192.168.52.130',
        'tabbyctl ipam show --show-configuration',
        'tabbyctl ipam configure --strictaffinity=true',
        'tabbyctl ipam check',
        'tabbyctl ipam release --ip 192.168.52.130',
        'tabbyctl ipam migrate --from default-ipv4-ippool --to new-pool --wait',
      ) +
        '\nThe ipam address comes from --ipam, TABBY_IPAM_ADDR or the config file key ipam,\nand is 127.0.0.1:50052 otherwise.\n',
    );

  ipam
    .command('show')
    .description('Show the addresses in use per IP pool (and block), or who holds one address')
    .option('--ip <address>', 'report whether this address is in use, and its attributes')
    .option('--show-blocks', 'add a row per allocation block after each pool, then blocks no pool contains')
    .option('--show-borrowed', 'list addresses borrowed from another node\'s block')
    .option('--show-configuration', 'show the IPAM configuration (StrictAffinity, AutoAllocateBlocks, MaxBlocksPerHost)')
    .addHelpText(
      'after',
      examples('tabbyctl ipam show', 'tabbyctl ipam show --show-blocks', 'tabbyctl ipam show --ip 10.0.24.8', 'tabbyctl ipam show --show-borrowed', 'tabbyctl ipam show --show-configuration'),
    )
    .action(act((opts: ShowOptions) => ipamShowCommand(opts, ctx)));

  ipam
    .command('check')
    .description('Cross-check IPAM allocations against workload endpoints, nodes and pools')
    .option('--show-all-ips', 'list every allocated address with its handle, node and problems (and every problem)')
    .option('--show-problem-ips', `list every problem address (without it, the first ${CHECK_LISTED} of each kind)`)
    .option('--repair', 'fix what can be fixed: release leaked addresses, allocate addresses endpoints use, free blocks of deleted nodes')
    .option('-o, --output <file>', 'also write the findings as a JSON report, for ipam release --from-report')
    .addHelpText(
      'after',
      examples('tabbyctl ipam check', 'tabbyctl ipam check --show-problem-ips', 'tabbyctl ipam check -o report.json', 'tabbyctl ipam check --repair') +
        '\nThe report names the cluster, the store revision and the time of the check, and each\nleaked allocation (address, handle, node, attributes, when it was allocated).\n',
    )
    .action(act((opts: CheckOptions) => ipamCheckCommand(opts, ctx)));

  ipam
    .command('release')
    .description('Release an allocated IP address, or the leaked addresses an ipam check report names')
    .option('--ip <address>', 'the address to release')
    .option('--from-report <file>', 'release the leaked addresses of this ipam check -o report (the datastore must be locked)')
    .option('--force', 'with --ip: release it even if a WorkloadEndpoint still uses it; with --from-report: without the datastore lock')
    .addHelpText(
      'after',
      examples(
        'tabbyctl ipam release --ip 192.168.52.130',
        'tabbyctl ipam check -o report.json',
        'tabbyctl datastore migrate lock',
        'tabbyctl ipam release --from-report report.json',
        'tabbyctl datastore migrate unlock',
      ) +
        '\nA report is refused, nothing released, when it is malformed, from another cluster, or\n' +
        'older than the data: an address it names was released, allocated again (another handle\n' +
        'or allocation time) or is used by a WorkloadEndpoint since the check.\n',
    )
    .action(act((opts: { ip?: string; fromReport?: string; force?: boolean }) => ipamReleaseCommand(opts, ctx)));

  ipam
    .command('split')
    .description('Split an IP pool into N (a power of 2) equal pools with its settings, without moving workloads')
    .argument('<N>', 'how many pools: 2, 4, 8, ...')
    .option('--cidr <cidr>', 'the pool to split, by CIDR')
    .option('--name <pool>', 'the pool to split, by name')
    .addHelpText(
      'after',
      examples('tabbyctl datastore migrate lock', 'tabbyctl ipam split 4 --name default-ipv4-ippool', 'tabbyctl datastore migrate unlock') +
        '\nThe datastores must be locked. The new pools are named <pool>-split-<i>; the old pool is\n' +
        'deleted without releasing anything: blocks, affinities and addresses move to the new pools.\n',
    )
    .action(act((count: string, opts: SplitOptions) => ipamCall(ipamSplitCommand(count, opts, ctx))));

  ipam
    .command('configure')
    .description('Change the IPAM configuration (the IPAMConfiguration "default" in the store)')
    .option('--strictaffinity <true|false>', 'never borrow addresses from another node\'s block when true')
    .option('--max-blocks-per-host <number>', 'blocks one node may hold per address family (0 = the built-in limit of 20)')
    .addHelpText('after', examples('tabbyctl ipam configure --strictaffinity=true', 'tabbyctl ipam configure --strictaffinity=false --max-blocks-per-host=4'))
    .action(act((opts: { strictaffinity?: string; maxBlocksPerHost?: string }) => ipamConfigureCommand(opts, ctx)));

  ipam
    .command('migrate')
    .description('Move workloads off an IP pool safely: check the new pool, disable the old, list what to recreate, delete the old when empty')
    .option('--from <pool>', 'the IP pool to leave (it is disabled, then deleted once empty)')
    .option('--to <pool>', 'the IP pool workloads move to (must exist and be enabled)')
    .option('--wait', 'wait until no address is left in the old pool, showing progress, then delete it')
    .option('--timeout <duration>', 'with --wait: give up after this long (e.g. 10m); the old pool stays disabled')
    .option('--interval <duration>', 'with --wait: how often to look (default 1s)')
    .addHelpText(
      'after',
      examples(
        'tabbyctl create -f new-pool.yaml',
        'tabbyctl ipam migrate --from default-ipv4-ippool --to new-pool',
        '# recreate the listed workloads, then',
        'tabbyctl ipam migrate --from default-ipv4-ippool --to new-pool --wait --timeout 30m',
      ) + '\nInterrupting --wait (Ctrl-C) leaves the old pool disabled and nothing deleted;\nrun the command again to continue.\n',
    )
    .action(act((opts: { from?: string; to?: string; wait?: boolean; timeout?: string; interval?: string }) => ipamMigrateCommand(opts, ctx)));
}

/**
 * `tabbyctl workload add|delete`: the CNI ADD/DEL path by hand, so users and tests can run
 * workloads without an orchestrator. tabby-ipam assigns the addresses and writes the
 * WorkloadEndpoint (or releases them and deletes it) as one all-or-nothing change.
 */
import { status } from '@grpc/grpc-js';
import { objectOf, parseCIDR, parseIP } from '@tabby/api';
import type { IPPool, WorkloadAddResponse } from '@tabby/proto';
import type { Command } from 'commander';
import { collect, examples, type Act } from '../command-kit.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { isIpamCallError } from '../ipam-client.js';
import { isStoreCallError } from '../store-client.js';

/** `NAMESPACE/NAME` (or `NAME`, in namespace default). */
export function parseWorkloadRef(text: string): { namespace: string; name: string } {
  const parts = text.split('/');
  if (parts.length === 1 && parts[0] !== '') return { namespace: 'default', name: parts[0] };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { namespace: parts[0], name: parts[1] };
  throw new CliError(`invalid workload "${text}": give NAMESPACE/NAME, e.g. kube-system/kube-dns-6f4fd4bdf-8q7zp`);
}

/** `-l key=value` options as a label map; calicoctl's `invalid label <arg>` otherwise. */
export function parseLabels(args: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid label ${a}`);
    labels[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return labels;
}

export interface WorkloadAddOptions {
  readonly node?: string;
  readonly label?: string[];
  readonly ipv4?: boolean;
  readonly ipv6?: boolean;
  readonly pool?: string[];
  readonly ip?: string[];
  readonly namespaceLabel?: string[];
}

async function serviceCall<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (isIpamCallError(err) || isStoreCallError(err)) throw new CliError(err.message, 1, { cause: err });
    throw err;
  }
}

/** `--ip` values: IP addresses (a /32 or /128 suffix allowed), at most one per family (Calico's ipAddrs). */
export function parseFixedAddresses(args: readonly string[]): { ipAddrs: string[]; v4: boolean; v6: boolean } {
  let v4 = false;
  let v6 = false;
  for (const a of args) {
    const ip = parseIP(a.replace(/\/(32|128)$/, ''));
    if (!ip) throw new CliError(`invalid --ip ${a}: not an IP address`);
    if ((ip.family === 4 && v4) || (ip.family === 6 && v6)) throw new CliError(`--ip takes at most one IPv${ip.family} address`);
    if (ip.family === 4) v4 = true;
    else v6 = true;
  }
  return { ipAddrs: [...args], v4, v6 };
}

/** `workload add NAMESPACE/NAME --node NODE [-l k=v]... [--ipv6] [--no-ipv4] [--pool NAME]... [--ip ADDR]... [--namespace-label k=v]...`. */
export async function workloadAddCommand(ref: string, opts: WorkloadAddOptions, ctx: CommandContext): Promise<number> {
  const { namespace, name } = parseWorkloadRef(ref);
  if (!opts.node) throw new CliError('workload add needs --node NODE: the node the workload runs on');
  const labels = parseLabels(opts.label ?? []);
  const namespaceLabels = parseLabels(opts.namespaceLabel ?? []);
  const fixed = parseFixedAddresses(opts.ip ?? []);
  if (fixed.ipAddrs.length > 0) {
    if ((opts.pool ?? []).length > 0) throw new CliError('--ip and --pool cannot be used together: a fixed address names its pool');
    if (opts.ipv6 || opts.ipv4 === false) throw new CliError('--ip gives the addresses: leave out --ipv6 and --no-ipv4');
    const r = await serviceCall(ctx.ipam().workloadAdd({ namespace, name, node: opts.node, labels, numIpv4: fixed.v4 ? 1 : 0, numIpv6: fixed.v6 ? 1 : 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: fixed.ipAddrs, namespaceLabels }));
    printAdded(ctx, namespace, name, opts.node, r);
    return 0;
  }
  const ipv4Pools: string[] = [];
  const ipv6Pools: string[] = [];
  for (const poolName of opts.pool ?? []) {
    let cidr;
    try {
      cidr = parseCIDR((objectOf(await ctx.store().get('IPPool', '', poolName)) as IPPool).spec?.cidr ?? '');
    } catch (err) {
      if (isStoreCallError(err) && err.code === status.NOT_FOUND) throw new CliError(`IP pool ${poolName} does not exist`);
      throw err;
    }
    if (!cidr) throw new CliError(`IP pool ${poolName} has no valid CIDR`);
    (cidr.family === 4 ? ipv4Pools : ipv6Pools).push(poolName);
  }
  const numIpv4 = opts.ipv4 === false ? 0 : 1;
  const numIpv6 = opts.ipv6 || ipv6Pools.length > 0 ? 1 : 0;
  if (numIpv4 === 0 && numIpv6 === 0) throw new CliError('nothing to assign: --no-ipv4 needs --ipv6 (or an IPv6 --pool)');
  if (numIpv4 === 0 && ipv4Pools.length > 0) throw new CliError(`--no-ipv4 contradicts the IPv4 pool ${ipv4Pools[0]}`);
  const r = await serviceCall(ctx.ipam().workloadAdd({ namespace, name, node: opts.node, labels, numIpv4, numIpv6, ipv4Pools, ipv6Pools, ipAddrs: [], namespaceLabels }));
  printAdded(ctx, namespace, name, opts.node, r);
  return 0;
}

function printAdded(ctx: CommandContext, namespace: string, name: string, node: string, r: WorkloadAddResponse): void {
  ctx.io.stdout(
    `Workload ${namespace}/${name} ${r.existing ? 'already exists' : 'added'} on node ${node}:\n` +
      `  endpoint:  ${r.endpointName}\n` +
      `  interface: ${r.interfaceName}\n` +
      `  addresses: ${r.ipNetworks.join(', ')}\n`,
  );
}

/** `workload delete NAMESPACE/NAME [-s]`: releases the addresses and deletes the endpoint. */
export async function workloadDeleteCommand(ref: string, opts: { skipNotExists?: boolean }, ctx: CommandContext): Promise<number> {
  const { namespace, name } = parseWorkloadRef(ref);
  const r = await serviceCall(ctx.ipam().workloadDelete(namespace, name));
  if (!r.found) {
    if (opts.skipNotExists) {
      ctx.io.stdout(`Workload ${namespace}/${name} does not exist\n`);
      return 0;
    }
    throw new CliError(`workload ${namespace}/${name} does not exist`);
  }
  ctx.io.stdout(`Workload ${namespace}/${name} deleted; released ${r.released.length > 0 ? r.released.join(', ') : 'no addresses'}\n`);
  return 0;
}

/** Registers `workload add|delete` on the program. */
export function registerWorkload(program: Command, ctx: CommandContext, act: Act): void {
  const workload = program
    .command('workload')
    .description('Add or delete a workload as the CNI plugin would: addresses from IPAM and a WorkloadEndpoint')
    .usage('<command> [options]')
    .addHelpText(
      'after',
      examples('tabbyctl workload add kube-system/kube-dns-6f4fd4bdf-8q7zp --node vagrant', 'tabbyctl workload delete kube-system/kube-dns-6f4fd4bdf-8q7zp'),
    );

  workload
    .command('add')
    .description('Assign addresses to a workload and write its WorkloadEndpoint (all or nothing)')
    .argument('<workload>', 'NAMESPACE/NAME')
    .option('--node <node>', 'the node the workload runs on (its blocks are used first)')
    .option('-l, --label <key=value>', 'a label of the workload (repeatable)', collect)
    .option('--ipv6', 'also assign an IPv6 address')
    .option('--no-ipv4', 'assign no IPv4 address (with --ipv6)')
    .option('--pool <name>', 'take the address from this enabled IP pool, ignoring nodeSelector and assignmentMode (repeatable)', collect)
    .option('--ip <address>', 'this fixed address, as Calico\'s cni.projectcalico.org/ipAddrs: in an enabled pool and free (repeatable, one per family)', collect)
    .option('--namespace-label <key=value>', 'a label of the workload\'s namespace, matched by the pools\' namespaceSelector (repeatable)', collect)
    .addHelpText(
      'after',
      examples(
        'tabbyctl workload add kube-system/kube-dns-6f4fd4bdf-8q7zp --node vagrant',
        'tabbyctl workload add default/web-1 --node node1 -l app=web -l tier=front --ipv6',
        'tabbyctl workload add default/web-2 --node node1 --pool new-pool',
        'tabbyctl workload add default/db-0 --node node1 --ip 192.168.10.5',
        'tabbyctl workload add payments/api-1 --node node1 --namespace-label team=blue',
      ),
    )
    .action(act((ref: string, opts: WorkloadAddOptions) => workloadAddCommand(ref, opts, ctx)));

  workload
    .command('delete')
    .description('Release a workload\'s addresses and delete its WorkloadEndpoint')
    .argument('<workload>', 'NAMESPACE/NAME')
    .option('-s, --skip-not-exists', 'succeed when there is no such workload')
    .addHelpText('after', examples('tabbyctl workload delete kube-system/kube-dns-6f4fd4bdf-8q7zp'))
    .action(act((ref: string, opts: { skipNotExists?: boolean }) => workloadDeleteCommand(ref, opts, ctx)));
}

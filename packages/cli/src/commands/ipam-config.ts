/**
 * `tabbyctl ipam configure` and `ipam show --show-configuration` (Calico's IPAMConfiguration
 * `default` in the store), and the warning after writing an IPReservation that covers
 * addresses in use.
 */
import { status } from '@grpc/grpc-js';
import { IPAM_CONFIGURATION_NAME, cidrContains, metaOf, parseIP, parseIPOrCIDR, wrap, type ParsedCIDR, type ParsedIP } from '@tabby/api';
import { IPAMConfiguration, ObjectMeta, type IPAMConfigurationSpec, type Resource } from '@tabby/proto';
import { borderTable } from '../border-table.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { isIpamCallError } from '../ipam-client.js';
import { isStoreCallError } from '../store-client.js';

/** Calico's IPAMConfig when none is stored. */
const DEFAULT_SPEC: IPAMConfigurationSpec = { strictAffinity: false, maxBlocksPerHost: 0, autoAllocateBlocks: true };

/** The stored IPAMConfiguration `default`, or undefined when there is none. */
async function storedConfig(ctx: CommandContext): Promise<Resource | undefined> {
  try {
    return await ctx.store().get('IPAMConfiguration', '', IPAM_CONFIGURATION_NAME);
  } catch (err) {
    if (isStoreCallError(err) && err.code === status.NOT_FOUND) return undefined;
    if (isStoreCallError(err)) throw new CliError(err.message, 1, { cause: err });
    throw err;
  }
}

function specOf(r: Resource | undefined): IPAMConfigurationSpec {
  return r?.kind?.$case === 'ipamConfiguration' ? { ...DEFAULT_SPEC, ...r.kind.value.spec } : { ...DEFAULT_SPEC };
}

/** calicoctl's `--show-configuration` table: PROPERTY | VALUE, rows StrictAffinity, AutoAllocateBlocks, MaxBlocksPerHost. */
export function configurationTable(spec: IPAMConfigurationSpec): string {
  return borderTable(
    ['PROPERTY', 'VALUE'],
    [
      ['StrictAffinity', String(spec.strictAffinity)],
      ['AutoAllocateBlocks', String(spec.autoAllocateBlocks ?? true)],
      ['MaxBlocksPerHost', String(spec.maxBlocksPerHost)],
    ],
  );
}

/** `ipam show --show-configuration`. */
export async function ipamShowConfigurationCommand(ctx: CommandContext): Promise<number> {
  const stored = await storedConfig(ctx);
  ctx.io.stdout(configurationTable(specOf(stored)));
  if (!stored) {
    ctx.io.stderr(
      `No IPAMConfiguration "${IPAM_CONFIGURATION_NAME}" in the store: these are Calico's defaults; tabby-ipam runs with its --strict-affinity and --max-blocks-per-host flags until one is written (tabbyctl ipam configure).\n`,
    );
  }
  return 0;
}

function boolArg(flag: string, text: string): boolean {
  if (/^(true|t|1)$/i.test(text)) return true;
  if (/^(false|f|0)$/i.test(text)) return false;
  throw new CliError(`invalid value for ${flag}: "${text}" (use true or false)`);
}

function maxBlocksArg(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 2147483647) throw new CliError(`invalid value for --max-blocks-per-host: "${text}" (use a number from 0 to 2147483647; 0 means the built-in limit of 20)`);
  return Number(text);
}

/**
 * `ipam configure --strictaffinity=<true|false> [--max-blocks-per-host=<n>]`: writes the
 * IPAMConfiguration `default` (created with Calico's defaults when missing; other fields
 * kept), then prints calicoctl's lines.
 */
export async function ipamConfigureCommand(opts: { strictaffinity?: string; maxBlocksPerHost?: string }, ctx: CommandContext): Promise<number> {
  if (opts.strictaffinity === undefined) throw new CliError('ipam configure needs --strictaffinity=<true|false> (see tabbyctl ipam configure --help)');
  const strict = boolArg('--strictaffinity', opts.strictaffinity);
  const maxBlocks = opts.maxBlocksPerHost === undefined ? undefined : maxBlocksArg(opts.maxBlocksPerHost);
  const store = ctx.store();
  // A concurrent writer makes the update conflict: read again and retry a few times.
  for (let attempt = 1; ; attempt++) {
    const stored = await storedConfig(ctx);
    const spec = specOf(stored);
    spec.strictAffinity = strict;
    if (maxBlocks !== undefined) spec.maxBlocksPerHost = maxBlocks;
    const metadata = stored ? metaOf(stored) : ObjectMeta.fromPartial({ name: IPAM_CONFIGURATION_NAME });
    const resource = wrap('IPAMConfiguration', IPAMConfiguration.fromPartial({ metadata, spec }));
    try {
      if (stored) await store.update(resource);
      else await store.create(resource);
      break;
    } catch (err) {
      const raced = isStoreCallError(err) && (err.code === status.ABORTED || err.code === status.ALREADY_EXISTS || err.code === status.FAILED_PRECONDITION);
      if (raced && attempt < 3) continue;
      if (isStoreCallError(err)) throw new CliError(err.message, 1, { cause: err });
      throw err;
    }
  }
  ctx.io.stdout(`Successfully set StrictAffinity to: ${String(strict)}\n`);
  if (maxBlocks !== undefined) ctx.io.stdout(`Successfully set MaxBlocksPerHost to: ${maxBlocks}\n`);
  return 0;
}

/**
 * After an IPReservation is written: the addresses tabby-ipam has allocated inside it. They
 * stay allocated (Calico reserves from then on), so tabbyctl warns, naming them. When ipam
 * cannot be asked, the warning says so instead.
 */
export async function warnReservedInUse(resource: Resource, ctx: CommandContext): Promise<void> {
  if (resource.kind?.$case !== 'ipReservation') return;
  const name = metaOf(resource).name;
  const cidrs = (resource.kind.value.spec?.reservedCIDRs ?? []).map((t) => parseIPOrCIDR(t)).filter((c): c is ParsedCIDR => c !== undefined);
  if (cidrs.length === 0) return;
  let inUse: string[];
  try {
    const all = (await ctx.ipam().listAllocations()).allocations;
    const held: ParsedIP[] = [];
    const handles = new Map<string, string>();
    for (const a of all) {
      const ip = parseIP(a.address.replace(/\/\d+$/, ''));
      if (!ip || !cidrs.some((c) => cidrContains(c, ip))) continue;
      held.push(ip);
      handles.set(ip.text, a.handle);
    }
    held.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    inUse = held.map((ip) => `${ip.text} (${handles.get(ip.text) ?? ''})`);
  } catch (err) {
    if (!isIpamCallError(err)) throw err;
    ctx.io.stderr(`Warning: IPReservation(${name}): could not check for addresses in use: ${err.message}\n`);
    return;
  }
  if (inUse.length === 0) return;
  const count = inUse.length === 1 ? '1 address' : `${inUse.length} addresses`;
  ctx.io.stderr(`Warning: IPReservation(${name}) covers ${count} in use; they stay allocated, and once released are not handed out again: ${inUse.join(', ')}\n`);
}

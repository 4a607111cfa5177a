/**
 * The `ipam check -o FILE` report and `ipam release --from-report FILE`: calicoctl's way of
 * releasing leaked addresses only after a person has looked at what a check found.
 *
 * A report names the cluster (the store's cluster GUID), the store revision and the time of
 * the check, and each leaked allocation: address, handle, node, block, attributes and when it
 * was allocated. A release from it is refused, nothing released, when
 * - the file is not a report (not JSON, a field missing or of the wrong type: the error names
 *   the field, e.g. `leakedIPs[2].ip`),
 * - it comes from another cluster (cluster GUID),
 * - it is older than the data: any address it names is no longer the allocation it recorded
 *   (released, held by another handle, or allocated again: another allocation time), or a
 *   WorkloadEndpoint uses it now (tabby-ipam checks this, all addresses before releasing any),
 * - the datastore is not locked (tabbyctl datastore migrate lock) and --force is not given.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseIP } from '@tabby/api';
import type { CheckResponse, LeakedAllocation } from '@tabby/proto';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { CLI_VERSION } from './version.js';

export const REPORT_KIND = 'IPAMCheckReport';

/** One leaked allocation as a report records it. */
export interface ReportedLeak {
  readonly ip: string;
  readonly handle: string;
  readonly node: string;
  readonly block: string;
  readonly workload: string;
  readonly attributes: Record<string, string>;
  /** ms since the epoch: with the handle, which allocation of the address this was. */
  readonly allocatedAt: number;
}

export interface CheckReportFile {
  readonly kind: typeof REPORT_KIND;
  readonly version: string;
  readonly clusterGUID: string;
  /** The store's revision when the check began. */
  readonly storeRevision: number;
  /** When the check ran (RFC 3339, UTC). */
  readonly time: string;
  readonly repaired: boolean;
  /** Allocated, not in use, not repaired: what `release --from-report` releases. */
  readonly leakedIPs: ReportedLeak[];
  readonly blocksChecked: number;
  readonly allocationsChecked: number;
  readonly workloadsChecked: number;
  readonly problems: CheckResponse['problems'];
}

/** The report of a check (the cluster and revision read just before it). */
export function buildReport(r: CheckResponse, cluster: { clusterGuid: string; revision: number }, repaired: boolean, now: Date): CheckReportFile {
  const leakedIPs = r.problems
    .filter((p) => p.kind === 'leaked-address' && p.usedBy === '' && !p.repaired)
    .map((p) => ({ ip: p.address, handle: p.handle, node: p.node, block: p.block, workload: p.workload, attributes: { ...p.attributes }, allocatedAt: p.allocatedAtMs }));
  return {
    kind: REPORT_KIND,
    version: CLI_VERSION,
    clusterGUID: cluster.clusterGuid,
    storeRevision: cluster.revision,
    time: now.toISOString(),
    repaired,
    leakedIPs,
    blocksChecked: r.blocksChecked,
    allocationsChecked: r.allocationsChecked,
    workloadsChecked: r.workloadsChecked,
    problems: r.problems,
  };
}

export function writeReport(ctx: CommandContext, file: string, report: CheckReportFile): void {
  try {
    writeFileSync(path.resolve(ctx.io.cwd, file), `${JSON.stringify(report, null, 2)}\n`);
  } catch (err) {
    throw new CliError(`cannot write the report to ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Reads and validates a report: every problem found is named with its field
 * (`leakedIPs[1].handle: missing`), all of them at once.
 */
export function parseReport(text: string, file: string): CheckReportFile {
  let v: Json;
  try {
    v = JSON.parse(text) as Json;
  } catch (err) {
    throw new CliError(`${file} is not an ipam check report: not JSON (${err instanceof Error ? err.message : String(err)}); nothing was released`);
  }
  const errors: string[] = [];
  const isObject = (x: Json | undefined): x is { [k: string]: Json } => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObject(v)) throw new CliError(`${file} is not an ipam check report: it holds no JSON object; nothing was released`);
  const str = (o: { [k: string]: Json }, key: string, where: string, nonEmpty = true): string => {
    const x = o[key];
    if (x === undefined) errors.push(`${where}${key}: missing`);
    else if (typeof x !== 'string') errors.push(`${where}${key}: must be a string, not ${JSON.stringify(x)}`);
    else if (nonEmpty && x === '') errors.push(`${where}${key}: must not be empty`);
    else return x;
    return '';
  };
  const num = (o: { [k: string]: Json }, key: string, where: string): number => {
    const x = o[key];
    if (x === undefined) errors.push(`${where}${key}: missing`);
    else if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) errors.push(`${where}${key}: must be a non-negative integer, not ${JSON.stringify(x)}`);
    else return x;
    return 0;
  };
  if (v.kind !== REPORT_KIND) errors.push(`kind: must be ${JSON.stringify(REPORT_KIND)}, not ${JSON.stringify(v.kind ?? null)}`);
  const clusterGUID = str(v, 'clusterGUID', '');
  const storeRevision = num(v, 'storeRevision', '');
  const time = str(v, 'time', '');
  if (time && Number.isNaN(Date.parse(time))) errors.push(`time: ${JSON.stringify(time)} is not a time`);
  const leakedIPs: ReportedLeak[] = [];
  const list = v.leakedIPs;
  if (!Array.isArray(list)) errors.push(list === undefined ? 'leakedIPs: missing' : 'leakedIPs: must be a list');
  else {
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      const where = `leakedIPs[${i}].`;
      if (!isObject(item)) {
        errors.push(`leakedIPs[${i}]: must be an object`);
        return;
      }
      const ipText = str(item, 'ip', where);
      const ip = ipText ? parseIP(ipText) : undefined;
      if (ipText && !ip) errors.push(`${where}ip: ${JSON.stringify(ipText)} is not an IP address`);
      if (ip) {
        const before = seen.get(ip.text);
        if (before !== undefined) errors.push(`${where}ip: ${ip.text} is also leakedIPs[${before}]`);
        seen.set(ip.text, i);
      }
      const handle = str(item, 'handle', where);
      const node = item.node === undefined ? '' : str(item, 'node', where, false);
      const allocatedAt = num(item, 'allocatedAt', where);
      const attrs = item.attributes ?? {};
      const attributes: Record<string, string> = {};
      if (!isObject(attrs)) errors.push(`${where}attributes: must be an object`);
      else for (const [k, a] of Object.entries(attrs)) {
        if (typeof a === 'string') attributes[k] = a;
        else errors.push(`${where}attributes.${k}: must be a string`);
      }
      leakedIPs.push({ ip: ip?.text ?? ipText, handle, node, block: typeof item.block === 'string' ? item.block : '', workload: typeof item.workload === 'string' ? item.workload : '', attributes, allocatedAt });
    });
  }
  if (errors.length > 0) {
    const shown = errors.slice(0, 10).map((e) => `  ${e}\n`).join('');
    const more = errors.length > 10 ? `  ... and ${errors.length - 10} more\n` : '';
    throw new CliError(`${file} is not a valid ipam check report (nothing was released):\n${shown}${more}`.trimEnd());
  }
  return {
    kind: REPORT_KIND,
    version: typeof v.version === 'string' ? v.version : '',
    clusterGUID,
    storeRevision,
    time,
    repaired: v.repaired === true,
    leakedIPs,
    blocksChecked: 0,
    allocationsChecked: 0,
    workloadsChecked: 0,
    problems: [],
  };
}

/** `ipam release --from-report FILE [--force]`. */
export async function releaseFromReportCommand(file: string, force: boolean, ctx: CommandContext): Promise<number> {
  let text: string;
  try {
    text = readFileSync(path.resolve(ctx.io.cwd, file), 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the report ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const report = parseReport(text, file);
  const info = await ctx.store().info();
  if (info.clusterGuid !== report.clusterGUID) {
    throw new CliError(`${file} is a report of another cluster (cluster GUID ${report.clusterGUID}; this cluster's is ${info.clusterGuid}); nothing was released`);
  }
  if (report.storeRevision > info.revision) {
    throw new CliError(`${file} was made at store revision ${report.storeRevision}, after this store's revision ${info.revision} (a restored or replaced store?); nothing was released`);
  }
  const leaks: LeakedAllocation[] = report.leakedIPs.map((l) => ({ address: l.ip, handle: l.handle, allocatedAtMs: l.allocatedAt }));
  if (leaks.length === 0) {
    ctx.io.stdout(`${file} names no leaked IP addresses: nothing to release.\nYou may now unlock the data store.\n`);
    return 0;
  }
  const r = await ctx.ipam().releaseLeaked(leaks, force);
  let out = `Releasing ${leaks.length} leaked IP addresses found by the check of ${report.time}.\n`;
  for (const ip of r.released) out += `Successfully released IP address ${ip}\n`;
  out += 'You may now unlock the data store.\n';
  ctx.io.stdout(out);
  return 0;
}

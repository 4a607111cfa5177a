import { status } from '@grpc/grpc-js';
import { checkHealth, isGrpcError } from '@tabby/runtime';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { cliCredentials, connectionFailure } from '../service-call.js';

export interface HealthOptions {
  readonly service?: string;
  readonly timeout?: string;
}

const TARGET = { what: 'service', bin: 'the service', flag: 'the address argument', env: 'TABBY_TLS_*' } as const;

function timeoutMs(raw: string | undefined): number {
  if (raw === undefined) return 5000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) throw new CliError(`invalid --timeout "${raw}": a number of seconds greater than 0`);
  return s * 1000;
}

/**
 * `health ADDR [--service NAME]`: asks a Tabby service (or any gRPC server) for its
 * `grpc.health.v1` status, as container HEALTHCHECKs and scripts do. Prints the status and
 * exits 0 only for SERVING; 1 for NOT_SERVING, an unknown service or an unreachable server.
 */
export async function healthCommand(address: string, opts: HealthOptions, ctx: CommandContext): Promise<number> {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(address)) throw new CliError(`invalid address "${address}": expected HOST:PORT (IPv6 as [ADDR]:PORT)`);
  const ms = timeoutMs(opts.timeout);
  const service = opts.service ?? '';
  try {
    const s = await checkHealth(address, cliCredentials(ctx.config.tls), { service, timeoutMs: ms });
    ctx.io.stdout(`${s}\n`);
    return s === 'SERVING' ? 0 : 1;
  } catch (err) {
    if (!isGrpcError(err)) throw err;
    if (err.code === status.NOT_FOUND) throw new CliError(`${address} does not know the service "${service}" (SERVICE_UNKNOWN)`);
    if (err.code === status.UNIMPLEMENTED) throw new CliError(`${address} does not serve grpc.health.v1`);
    if (/ECONNREFUSED/.test(err.details)) throw new CliError(`cannot reach ${address} (connection refused: nothing listens there)`);
    throw connectionFailure(err, address, TARGET, ms) ?? new CliError(`${address}: ${err.details}`);
  }
}

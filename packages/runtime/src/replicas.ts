import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from './config.js';

/**
 * Channel options for a service that runs as several replicas: grpc-js's built-in
 * `round_robin` balancer, which spreads calls over every address the target resolves to
 * (each replica of an address list, or each address a DNS name answers with) and sends
 * them only to replicas that are up, so a replica that dies costs a caller one failed call
 * at most (a stream breaks; the caller's retry lands on a live replica).
 */
export const REPLICA_CHANNEL_OPTIONS = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
} as const;

/** The entries of an address list: comma-separated, blanks ignored. */
export function addressList(raw: string): string[] {
  return raw
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
}

/**
 * The grpc-js target for `HOST:PORT` or a comma-separated list of replica addresses
 * (`127.0.0.1:50053,127.0.0.2:50053`). One address is returned as it is (a DNS name
 * resolving to several addresses is a list too). A list becomes grpc-js's static
 * resolver target (`ipv4:A:P,B:P` or `ipv6:[A]:P,[B]:P`), so its entries must be IP
 * addresses of one family with a port; anything else is a {@link ConfigError} naming
 * `what` (the flag) and the entry. With TLS every replica's certificate must name the
 * first address of the list (grpc-js checks each connection against it).
 */
export function grpcTarget(raw: string, what: string): string {
  const list = addressList(raw);
  if (list.length === 0) throw new ConfigError(`${what}: no address given`);
  if (list.length === 1) return list[0];
  let family: 'ipv4' | 'ipv6' | undefined;
  const entries: string[] = [];
  for (const entry of list) {
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(entry) ?? /^([0-9.]+):(\d+)$/.exec(entry);
    const host = m?.[1];
    const port = Number(m?.[2]);
    const f = host === undefined ? undefined : isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : undefined;
    if (!m || f === undefined)
      throw new ConfigError(
        `${what}: "${entry}" in the list "${raw}" is not IP:PORT ([IPv6]:PORT); a list takes IP addresses (a host name goes alone: the addresses it resolves to are the replicas)`,
      );
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${what}: port ${m[2]} of "${entry}" is out of range 1-65535`);
    if (family !== undefined && f !== family) throw new ConfigError(`${what}: the list "${raw}" mixes IPv4 and IPv6 addresses; give replicas of one family`);
    family = f;
    entries.push(f === 'ipv6' ? `[${host}]:${port}` : `${host}:${port}`);
  }
  return `${family}:${entries.join(',')}`;
}

import { createHash } from 'node:crypto';

/**
 * Calico's router id for a node without an IPv4 address (confd `hashToIPv4`): the first
 * four bytes of SHA-256 of the node name as a dotted quad, the first byte moved out of the
 * multicast and reserved range (above 223 it loses 32).
 */
export function hashToIPv4(nodeName: string): string {
  const b = createHash('sha256').update(nodeName).digest();
  const first = b[0] > 223 ? b[0] - 32 : b[0];
  return `${first}.${b[1]}.${b[2]}.${b[3]}`;
}

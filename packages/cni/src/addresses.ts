import { parseIP } from '@tabby/api';

/** An address in canonical text (IPv6 compressed, lower case); the input when it is not an address. */
export function canonicalIp(text: string): string {
  return parseIP(text)?.text ?? text;
}

/** A single-address CIDR in canonical text (`10.0.0.5/32`); the input when it is not one. */
export function canonicalHostCidr(cidr: string): string {
  const [addr, len] = cidr.split('/');
  return len === undefined ? canonicalIp(cidr) : `${canonicalIp(addr)}/${len}`;
}

import { isIP } from 'node:net';

/** The two unicast address families the test peers speak. */
export type IpFamily = 'ipv4' | 'ipv6';

/** The family of an address or prefix (`10.0.0.0/24` → ipv4, `fd42::/48` → ipv6). */
export function familyOf(addressOrPrefix: string): IpFamily {
  const address = addressOrPrefix.split('/')[0];
  const v = isIP(address);
  if (v === 0) throw new Error(`not an IP address or prefix: "${addressOrPrefix}"`);
  return v === 4 ? 'ipv4' : 'ipv6';
}

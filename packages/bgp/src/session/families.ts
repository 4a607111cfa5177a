import { AFI_IPV4, AFI_IPV6, SAFI_UNICAST, type Afi, type Family } from '../types.js';

/** The families the speaker carries, in the order status and logs list them. */
export const FAMILIES: readonly Family[] = ['ipv4-unicast', 'ipv6-unicast'];

export const AFI_OF: Readonly<Record<Family, Afi>> = { 'ipv4-unicast': AFI_IPV4, 'ipv6-unicast': AFI_IPV6 };

/** The family of an AFI/SAFI pair (unicast only; the SAFI defaults to unicast), or undefined. */
export function familyOf(afi: number, safi: number = SAFI_UNICAST): Family | undefined {
  if (safi !== SAFI_UNICAST) return undefined;
  return afi === AFI_IPV4 ? 'ipv4-unicast' : afi === AFI_IPV6 ? 'ipv6-unicast' : undefined;
}

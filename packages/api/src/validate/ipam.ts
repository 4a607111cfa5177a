import type { IPAMConfiguration, IPReservation, ObjectMeta } from '@tabby/proto';
import { parseIPOrCIDR } from '../net.js';
import type { Problems } from './problems.js';

/** The one name an IPAMConfiguration may have (Calico's GlobalIPAMConfigName). */
export const IPAM_CONFIGURATION_NAME = 'default';
/** What `maxBlocksPerHost: 0` stands for: Calico's built-in per-host block limit. */
export const DEFAULT_MAX_BLOCKS_PER_HOST = 20;

/**
 * Calico's IPReservation rules (the `cidrs` tag of spec.reservedCIDRs): each entry is an IP
 * address or a CIDR of either family; host bits may be set (`10.0.0.7/24` reserves
 * 10.0.0.0/24), so entries are kept as written.
 */
export function validateIPReservation(p: Problems, obj: IPReservation): void {
  const list = obj.spec?.reservedCIDRs ?? [];
  list.forEach((text, i) => {
    const field = `IPReservation.Spec.ReservedCIDRs[${i}]`;
    const path = `spec.reservedCIDRs[${i}]`;
    if (text === '') p.add(field, path, undefined, 'must be an IP address or a CIDR');
    else if (!parseIPOrCIDR(text)) p.add(field, path, text, 'must be an IP address or a CIDR');
  });
}

/** Fills Calico's IPAMConfiguration default: autoAllocateBlocks true. */
export function defaultIPAMConfiguration(obj: IPAMConfiguration): void {
  if (obj.spec && obj.spec.autoAllocateBlocks === undefined) obj.spec.autoAllocateBlocks = true;
}

/**
 * Calico's IPAMConfiguration rules: a singleton named `default` (clientv3's message), and
 * maxBlocksPerHost from 0 (the built-in limit of 20) to max(int32).
 */
export function validateIPAMConfiguration(p: Problems, obj: IPAMConfiguration, meta: ObjectMeta): void {
  if (meta.name !== '' && meta.name !== IPAM_CONFIGURATION_NAME)
    p.add('Metadata.Name', 'metadata.name', meta.name, `Cannot create an IPAMConfiguration resource with a name other than "${IPAM_CONFIGURATION_NAME}"`);
  const max = obj.spec?.maxBlocksPerHost ?? 0;
  if (max < 0) p.add('IPAMConfiguration.Spec.MaxBlocksPerHost', 'spec.maxBlocksPerHost', max, 'must be from 0 (the built-in limit of 20) to 2147483647');
}

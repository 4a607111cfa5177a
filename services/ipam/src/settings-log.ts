import { cidrContains, metaOf, parseIP } from '@tabby/api';
import type { StoreFollower } from '@tabby/client';
import type { Logger } from '@tabby/runtime';
import { blockLimit, flagSettings, reservedCidrsOf, type IpamFlagSettings } from './ipam-settings.js';
import type { ClusterView } from './pools.js';
import type { IpamStorage } from './storage.js';

/** At most this many addresses are named in one warning. */
const MAX_LISTED = 50;

/**
 * Logs what IPAM now runs with when IPReservations or the IPAMConfiguration change in the
 * store (the latter with where the settings come from: the resource or the flags), and warns
 * when a reservation written covers addresses in use: they stay allocated, as in Calico.
 */
export function logSettingsChanges(follower: StoreFollower, view: ClusterView, storage: IpamStorage, flags: IpamFlagSettings, log: Logger): void {
  follower.onChange((events, info) => {
    if (info.kind === 'IPAMConfiguration') logConfiguration(view, flags, log, 'IPAM configuration changed');
    if (info.kind !== 'IPReservation') return;
    log.info({ reservations: follower.list('IPReservation').map((r) => metaOf(r).name), resync: info.resync }, 'IP reservations changed');
    for (const e of events) {
      if (e.type === 'deleted') continue;
      const cidrs = reservedCidrsOf(e.object);
      if (cidrs.length === 0) continue;
      const held = storage.allocations().filter((a) => {
        const ip = parseIP(a.address);
        return ip !== undefined && cidrs.some((c) => cidrContains(c, ip));
      });
      if (held.length === 0) continue;
      log.warn(
        { reservation: metaOf(e.object).name, inUse: held.length, addresses: held.slice(0, MAX_LISTED).map((a) => a.address) },
        'IP reservation covers addresses in use: they stay allocated, and are not handed out again once released',
      );
    }
  });
}

/** Logs the settings IPAM assigns with now. */
export function logConfiguration(view: ClusterView, flags: IpamFlagSettings, log: Logger, msg = 'IPAM configuration'): void {
  const live = view.ipamConfig();
  const s = live ?? flagSettings(flags);
  log.info({ source: live ? 'IPAMConfiguration' : 'flags', ...s, blockLimit: blockLimit(s) }, msg);
}

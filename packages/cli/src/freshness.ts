/**
 * The warning tabbyctl prints on stderr when a service answered a read from a copy it keeps
 * because its datastore (etcd) is unreachable: the data still goes to stdout, exit 0.
 */
import type { ReadFreshness } from '@tabby/proto';
import { humanAge } from './bird-time.js';

/** The one-line warning for a stale read (newline included); undefined for a current one. */
export function staleWarning(f: ReadFreshness | undefined): string | undefined {
  if (!f?.stale) return undefined;
  const reason = f.reason.replace(/\s+/g, ' ').trim() || 'no reason given';
  return `Warning: the datastore is unreachable (${reason}); showing revision ${f.revision} as last seen ${humanAge(f.ageMs)} ago\n`;
}

/** The stalest of several answers' freshness (the oldest copy), for one warning per command. */
export function stalest(a: ReadFreshness | undefined, b: ReadFreshness | undefined): ReadFreshness | undefined {
  if (!b?.stale) return a;
  if (!a?.stale) return b;
  return b.ageMs > a.ageMs ? b : a;
}

import type { Family, Prefix } from '../types.js';
import type { Path } from './best-path.js';

/**
 * A per-prefix export decision on top of the fixed export rules ({@link ExportPolicy}): true
 * announces the prefix's best path to the peer `toPeer` (its key as `peerKey()` gives it),
 * false keeps it from that peer (withdrawn when it was announced). It sees only the best
 * path: a rejected best path is not replaced by another candidate. It must be a pure function
 * of its arguments and of inputs whose changes the caller announces (`Speaker.reexportAll`);
 * a throw counts as false.
 */
export type ExportFilter = (family: Family, prefix: Prefix, path: Path, toPeer: string) => boolean;

/** RFC 4724 decisions as pure functions: our capability (§3), retention (§4.2) and flushing on return (§4.2). */
import { describe, expect, it } from 'vitest';
import {
  familiesToRetain,
  gracefulRestartOf,
  ourGracefulRestartCapability,
  staleFamiliesToFlush,
  type GracefulRestartCapability,
} from '../../../src/session/graceful-restart.js';
import type { Family, OpenMessage } from '../../../src/types.js';

const BOTH: Family[] = ['ipv4-unicast', 'ipv6-unicast'];

function cap(families: [afi: number, f: boolean][], restartTime = 120, safi = 1): GracefulRestartCapability {
  return { code: 64, restarting: true, restartTime, families: families.map(([afi, forwardingPreserved]) => ({ afi, safi, forwardingPreserved })) };
}

describe('our Graceful Restart capability', () => {
  it.each([
    ['helper only', { restarting: false, forwardingPreserved: false }],
    ['restarting, forwarding kept', { restarting: true, forwardingPreserved: true }],
    ['restarting, forwarding lost', { restarting: true, forwardingPreserved: false }],
  ])('%s: R and F as configured, one entry per family', (_name, local) => {
    expect(ourGracefulRestartCapability(BOTH, 120, local)).toEqual({
      code: 64,
      restarting: local.restarting,
      restartTime: 120,
      families: [
        { afi: 1, safi: 1, forwardingPreserved: local.forwardingPreserved },
        { afi: 2, safi: 1, forwardingPreserved: local.forwardingPreserved },
      ],
    });
  });

  it('is not sent with a restart time of 0, and caps the time at 12 bits', () => {
    expect(ourGracefulRestartCapability(BOTH, 0, { restarting: true, forwardingPreserved: true })).toBeUndefined();
    expect(ourGracefulRestartCapability(['ipv4-unicast'], 99999, { restarting: false, forwardingPreserved: false })?.restartTime).toBe(4095);
  });

  it('is found in an OPEN', () => {
    const open: OpenMessage = { type: 'open', version: 4, myAs: 1, holdTime: 9, bgpId: '1.1.1.1', capabilities: [{ code: 2 }, cap([[1, true]])] };
    expect(gracefulRestartOf(open)?.families).toHaveLength(1);
    expect(gracefulRestartOf({ ...open, capabilities: [] })).toBeUndefined();
    expect(gracefulRestartOf(undefined)).toBeUndefined();
  });
});

describe('helper: retention when the session fails (RFC 4724 §4.2)', () => {
  it.each<[string, GracefulRestartCapability | undefined, Family[], Family[]]>([
    ['no capability: nothing kept', undefined, BOTH, []],
    ['restart time 0: nothing kept', cap([[1, true], [2, true]], 0), BOTH, []],
    ['both families listed (F does not matter yet)', cap([[1, false], [2, true]]), BOTH, BOTH],
    ['only IPv4 listed', cap([[1, true]]), BOTH, ['ipv4-unicast']],
    ['listed but not negotiated', cap([[1, true], [2, true]]), ['ipv6-unicast'], ['ipv6-unicast']],
    ['a non-unicast SAFI does not count', cap([[1, true]], 120, 128), BOTH, []],
  ])('%s', (_name, previous, negotiated, kept) => {
    expect(familiesToRetain(previous, negotiated)).toEqual(kept);
  });
});

describe('helper: stale routes flushed when the peer is back (RFC 4724 §4.2)', () => {
  it.each<[string, GracefulRestartCapability | undefined, Family[], Family[]]>([
    ['no capability in the new OPEN: every family', undefined, BOTH, BOTH],
    ['F=1 for both: none (they wait for End-of-RIB)', cap([[1, true], [2, true]]), BOTH, []],
    ['F=0 for IPv4', cap([[1, false], [2, true]]), BOTH, ['ipv4-unicast']],
    ['IPv6 not listed', cap([[1, true]]), BOTH, ['ipv6-unicast']],
    ['IPv6 no longer negotiated', cap([[1, true], [2, true]]), ['ipv4-unicast'], ['ipv6-unicast']],
  ])('%s', (_name, current, negotiated, flushed) => {
    expect(staleFamiliesToFlush(current, negotiated)).toEqual(flushed);
  });
});

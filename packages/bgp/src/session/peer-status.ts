import type { FsmState } from '../fsm/index.js';
import type { Family } from '../types.js';

/** Per-family route counters of a peer. */
export interface FamilyCounters {
  /** Prefixes in the peer's Adj-RIB-In (accepted after loop checks). */
  received: number;
  /** Prefixes the peer sent that were rejected (loops) or treated as withdrawn (RFC 7606). */
  rejected: number;
  /** Prefixes we currently announce to it. */
  advertised: number;
  /** Prefixes it sent that its import rules rejected (kept aside, not in the RIB). */
  filtered?: number;
}

/** What the speaker reports about one peer. */
export interface PeerStatus {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly remoteAs: number;
  readonly localAs: number;
  readonly description: string;
  readonly state: FsmState;
  /** When the state last changed (ms since the epoch). */
  readonly since: number;
  /** Time Established so far, ms (0 when not Established). */
  readonly uptimeMs: number;
  /** The last error, as BIRD words it: `Socket: Connection refused`, `Received: Hold Timer Expired`, `BGP Error: Bad peer AS`. */
  readonly lastError: string;
  /** The peer's BGP Identifier once known. */
  readonly remoteRouterId: string;
  readonly families: readonly Family[];
  readonly holdTimeS: number;
  readonly keepaliveTimeS: number;
  readonly counters: Readonly<Record<Family, Readonly<FamilyCounters>>>;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly updatesIn: number;
  readonly updatesOut: number;
  /** Times the session left Established. */
  readonly flaps: number;
  /** Routes kept from a restarting peer (RFC 4724 helper). */
  readonly staleRoutes: number;
  /**
   * Families whose End-of-RIB (RFC 4724 §2) the peer sent in the current session: its initial
   * table of that family is complete. Empty until then and whenever the session is down.
   * Peers that do not send End-of-RIB never fill it.
   */
  readonly endOfRibReceived: readonly Family[];
  /**
   * The peer advertised the Graceful Restart capability in the current session. A restarting
   * speaker waits for End-of-RIB only from such peers (RFC 4724 §4.1): others may never send one.
   */
  readonly peerGracefulRestart: boolean;
}

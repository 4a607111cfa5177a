import { encodeEndOfRib, encodeUpdates, endOfRibFamily, ipv4KeyText, type CodecOptions, type Ipv4Key } from '../codec/index.js';
import type { BgpLogger, Clock, TimerHandle } from '../platform.js';
import { AdjRibOut, type ExportRules } from '../rib/adj-rib-out.js';
import type { ExportPolicy } from '../rib/export-policy.js';
import type { ExportFilter } from '../rib/export-filter.js';
import type { KeyedChanges, LocRib } from '../rib/loc-rib.js';
import { evaluatePolicy, policyRules } from '../rib/route-policy.js';
import type { PathSource } from '../rib/source.js';
import type { Family, OpenMessage, PathAttributes, Prefix, UpdateMessage } from '../types.js';
import { AFI_OF, FAMILIES, familyOf } from './families.js';
import { STALE_ROUTES_LIMIT_S, familiesToRetain, gracefulRestartOf, staleFamiliesToFlush } from './graceful-restart.js';
import type { PeerConfig } from './peer-config.js';
import type { FamilyCounters } from './peer-status.js';

/** What a peer's routes need from the speaker (its SessionHost provides it). */
export interface PeerRibHost {
  readonly rib: LocRib;
  readonly clock: Clock;
  /** The speaker's export filter, applied per prefix after the export policy; may change at run time. */
  readonly exportFilter?: ExportFilter;
  /** The interface of a route the speaker originates (for export rules' `interface` matches). */
  interfaceOf(family: Family, prefix: Prefix): string | undefined;
  /** The RIB changed: the speaker hands the changes to every session. */
  ribChanged(): void;
  statusChanged(key: string): void;
}

function zeroCounters(): Record<Family, FamilyCounters> {
  return { 'ipv4-unicast': { received: 0, rejected: 0, advertised: 0, filtered: 0 }, 'ipv6-unicast': { received: 0, rejected: 0, advertised: 0, filtered: 0 } };
}

function emptyFiltered(): Record<Family, Map<Prefix, PathAttributes>> {
  return { 'ipv4-unicast': new Map(), 'ipv6-unicast': new Map() };
}

/** What a session that just reached Established tells its routes. */
export interface PeerUp {
  readonly source: PathSource;
  /** The families both sides negotiated. */
  readonly families: readonly Family[];
  readonly policy: ExportPolicy;
  readonly open: OpenMessage;
}

/** The UPDATE bytes {@link PeerRib.output} has for the wire, at most one batch. */
export interface PeerOutput {
  readonly frames: Uint8Array[];
  readonly bytes: number;
  /** UPDATEs with routes among the frames. */
  readonly updates: number;
  /** End-of-RIB markers among the frames (they come last). */
  readonly endOfRibs: number;
  /** Routes still wait to be sent. */
  readonly more: boolean;
}

/**
 * The route side of one peer: what it sent us (into the Loc-RIB, or kept aside when its import
 * rules reject it), what we send it (its Adj-RIB-Out, encoded in bounded batches), its counters,
 * and the routes kept while it restarts (RFC 4724 helper). The session ({@link PeerSession})
 * owns the FSM and the socket and hands this the decoded UPDATEs and the moments the session
 * comes up and goes down; nothing here touches a socket.
 */
export class PeerRib {
  private sourceOf: PathSource | undefined;
  private out: AdjRibOut | undefined;
  private negotiated: Family[] = [];
  private readonly eorSent = new Set<Family>();
  /** Families whose End-of-RIB the peer sent in the current session. */
  private readonly eorReceived = new Set<Family>();
  private readonly counters = zeroCounters();
  /**
   * Routes of this peer the import rules rejected, with their attributes (soft
   * reconfiguration inbound: the accepted ones are in the RIB, so the whole Adj-RIB-In is
   * kept and a rule change re-evaluates it without asking the peer).
   */
  private filtered = emptyFiltered();

  // graceful restart helper (RFC 4724 §4.2)
  /** Runs while the peer is away: its Restart Time. */
  private restartTimer: TimerHandle | undefined;
  /** Runs once it is back: how long its stale routes may wait for End-of-RIB. */
  private staleTimer: TimerHandle | undefined;
  private stale: Record<Family, Set<Prefix>> | undefined;

  constructor(
    private readonly key: string,
    private readonly host: PeerRibHost,
    private readonly log: BgpLogger,
    /** The peer's configuration as it is now (import and export rules change at run time). */
    private readonly config: () => PeerConfig,
  ) {}

  /** The peer as a source of paths while Established (and after, while its routes are kept). */
  get source(): PathSource | undefined {
    return this.sourceOf;
  }

  /** The negotiated families of the current (or last) session. */
  get families(): readonly Family[] {
    return this.negotiated;
  }

  /** Whether routes are being sent (the session is Established). */
  get sending(): boolean {
    return this.out !== undefined;
  }

  /** The session is Established: a fresh Adj-RIB-Out with every prefix to send. */
  up(u: PeerUp): void {
    this.negotiated = [...u.families];
    this.sourceOf = u.source;
    this.out = new AdjRibOut(this.host.rib, u.policy, new Set(u.families), this.host.exportFilter, this.exportRules());
    this.filtered = emptyFiltered();
    this.eorSent.clear();
    this.eorReceived.clear();
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    if (this.stale) this.peerBack(u.open);
    this.out.markAll();
  }

  /**
   * The session ended. RFC 4724 §4.2: only a session that ended without a NOTIFICATION
   * (`tcpFailed`, and not stopped by us) keeps the families the peer listed in its Graceful
   * Restart capability (`open` is its last OPEN); everything else it sent leaves the RIB now.
   */
  down(tcpFailed: boolean, open: OpenMessage | undefined): void {
    this.out = undefined;
    this.eorReceived.clear();
    this.filtered = emptyFiltered();
    const source = this.sourceOf;
    if (!source) return;
    this.staleTimer?.cancel();
    this.staleTimer = undefined;
    const previous = gracefulRestartOf(open);
    const retain = tcpFailed ? familiesToRetain(previous, this.negotiated) : [];
    if (!previous || retain.length === 0) {
      this.cancelGracefulRestartTimers();
      this.stale = undefined;
      this.host.rib.dropSource(source);
      for (const f of FAMILIES) this.counters[f] = { received: 0, rejected: 0, advertised: 0, filtered: 0 };
      this.host.ribChanged();
      return;
    }
    // Consecutive restarts: what is still stale from the previous one is deleted (§4.2).
    if (this.stale) this.dropStale('the peer went down again before its End-of-RIB');
    const rib = this.host.rib;
    const stale: Record<Family, Set<Prefix>> = { 'ipv4-unicast': new Set(), 'ipv6-unicast': new Set() };
    for (const f of FAMILIES) {
      const prefixes = rib.prefixesOf(source.id, f);
      if (retain.includes(f)) {
        for (const p of prefixes) stale[f].add(p);
        continue;
      }
      for (const p of prefixes) rib.withdraw(source, f, p);
      this.counters[f] = { received: 0, rejected: 0, advertised: 0, filtered: 0 };
    }
    this.stale = stale;
    if (this.staleCount() === 0) this.stale = undefined;
    this.host.ribChanged();
    if (!this.stale) return;
    this.log.info({ restartTimeS: previous.restartTime, stale: this.staleCount(), families: retain }, 'peer may be restarting: keeping its routes');
    this.restartTimer?.cancel();
    this.restartTimer = this.host.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.out) this.dropStale('restart time expired');
    }, previous.restartTime * 1000);
  }

  /** The peer was stopped or removed: routes kept for its restart go now. */
  stop(): void {
    this.cancelGracefulRestartTimers();
    if (this.stale && this.sourceOf) this.host.rib.dropSource(this.sourceOf);
    this.stale = undefined;
  }

  /** As a crash would: timers stop, the RIB is left as it is. */
  abort(): void {
    this.cancelGracefulRestartTimers();
    this.out = undefined;
  }

  /**
   * A peer whose routes we keep is Established again (RFC 4724 §4.2): the families its new
   * OPEN does not cover with the Forwarding State bit lose their stale routes at once; the
   * others keep them until the family's End-of-RIB, at most {@link STALE_ROUTES_LIMIT_S}.
   */
  private peerBack(open: OpenMessage): void {
    const gr = gracefulRestartOf(open);
    for (const f of staleFamiliesToFlush(gr, this.negotiated)) {
      if (!this.stale || this.stale[f].size === 0) continue;
      this.dropStale(!gr ? 'the peer no longer advertises graceful restart' : !this.negotiated.includes(f) ? 'family no longer negotiated' : 'forwarding state not preserved (F=0 or family not listed)', f);
    }
    if (!this.stale) return;
    this.log.info({ stale: this.staleCount(), peerRestarting: gr?.restarting ?? false }, 'peer restarted: its stale routes wait for End-of-RIB');
    this.staleTimer?.cancel();
    this.staleTimer = this.host.clock.setTimeout(() => {
      this.staleTimer = undefined;
      this.dropStale('no End-of-RIB within the stale-routes limit');
    }, STALE_ROUTES_LIMIT_S * 1000);
  }

  private cancelGracefulRestartTimers(): void {
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    this.staleTimer?.cancel();
    this.staleTimer = undefined;
  }

  /** Routes kept from the peer's previous session, waiting for its End-of-RIB. */
  staleCount(): number {
    return (this.stale?.['ipv4-unicast'].size ?? 0) + (this.stale?.['ipv6-unicast'].size ?? 0);
  }

  /** Withdraws the routes still stale (of one family, or all); forgets the stale state once none is left. */
  private dropStale(why: string, family?: Family): void {
    if (!this.stale || !this.sourceOf) return;
    let n = 0;
    for (const f of family ? [family] : FAMILIES) {
      for (const prefix of this.stale[f]) {
        this.host.rib.withdraw(this.sourceOf, f, prefix);
        n++;
      }
      this.stale[f].clear();
    }
    if (this.staleCount() === 0) {
      this.stale = undefined;
      this.cancelGracefulRestartTimers();
    }
    if (n === 0) return;
    this.log.info({ withdrawn: n, family: family ?? 'all', why }, 'stale routes removed');
    this.refreshCounters();
    this.host.ribChanged();
    this.host.statusChanged(this.key);
  }

  // ---- input ----

  /**
   * One UPDATE of the Established session, with its RFC 7606 outcome; true when the RIB changed.
   * With `ipv4` (decoded with `ipv4Keys`) the IPv4 fields come as keys and `endOfRib` is the
   * codec's reading of the wire; the message's own `withdrawn` and `nlri` are then empty.
   */
  apply(msg: UpdateMessage, treatAsWithdraw: boolean, disableFamily: boolean, ipv4?: { readonly withdrawn: readonly Ipv4Key[]; readonly nlri: readonly Ipv4Key[] }, endOfRib?: { readonly afi: number; readonly safi: number }): boolean {
    const source = this.sourceOf;
    if (!source) return false;
    const rib = this.host.rib;
    let touched = false;
    const withdraw = (f: Family, prefixes: readonly Prefix[]): void => {
      const filtered = this.filtered[f];
      for (const p of prefixes) {
        rib.withdraw(source, f, p);
        this.stale?.[f].delete(p);
        if (filtered.size > 0) filtered.delete(p);
        touched = true;
      }
    };
    const withdrawKeys = (keys: readonly Ipv4Key[]): void => {
      const filtered = this.filtered['ipv4-unicast'];
      const stale = this.stale?.['ipv4-unicast'];
      for (const k of keys) {
        rib.withdrawIpv4(source, k);
        if (filtered.size > 0 || (stale && stale.size > 0)) {
          const p = ipv4KeyText(k);
          stale?.delete(p);
          filtered.delete(p);
        }
        touched = true;
      }
    };
    const eor = ipv4 ? endOfRib : endOfRibFamily(msg);
    if (eor) {
      const f = familyOf(eor.afi, eor.safi);
      if (!f) return false;
      // RFC 4724 §4.2: what is still stale in the family after its End-of-RIB is gone.
      if (this.stale) this.dropStale('End-of-RIB', f);
      if (this.negotiated.includes(f) && !this.eorReceived.has(f)) {
        this.eorReceived.add(f);
        this.log.info({ family: f }, 'End-of-RIB received');
        this.host.statusChanged(this.key);
      }
      return true;
    }
    if (ipv4) withdrawKeys(ipv4.withdrawn);
    else withdraw('ipv4-unicast', msg.withdrawn);
    if (msg.mpUnreach) {
      const f = familyOf(msg.mpUnreach.afi);
      if (f) withdraw(f, msg.mpUnreach.withdrawn);
    }
    const v4Count = ipv4 ? ipv4.nlri.length : msg.nlri.length;
    const mp = msg.mpReach;
    const mpFamily = mp ? familyOf(mp.afi) : undefined;
    if (treatAsWithdraw || disableFamily || !msg.attributes) {
      if (ipv4) withdrawKeys(ipv4.nlri);
      else withdraw('ipv4-unicast', msg.nlri);
      if (mp && mpFamily) withdraw(mpFamily, mp.nlri);
      if (treatAsWithdraw || disableFamily) {
        this.counters['ipv4-unicast'].rejected += v4Count;
        if (mpFamily) this.counters[mpFamily].rejected += mp?.nlri.length ?? 0;
      }
      this.refreshCounters();
      return touched;
    }
    const attrs = msg.attributes;
    if (v4Count > 0 && this.negotiated.includes('ipv4-unicast')) {
      touched = (ipv4 ? this.acceptIpv4(source, ipv4.nlri, attrs) : this.accept(source, 'ipv4-unicast', msg.nlri, attrs)) || touched;
    }
    if (mp && mpFamily && mp.nlri.length > 0 && this.negotiated.includes(mpFamily)) {
      touched = this.accept(source, mpFamily, mp.nlri, withNextHop(attrs, mp.nextHops[0])) || touched;
    }
    this.refreshCounters();
    return touched;
  }

  /** IPv4 routes as keys: straight into the RIB, unless import rules or kept routes need their text. */
  private acceptIpv4(source: PathSource, keys: readonly Ipv4Key[], attrs: PathAttributes): boolean {
    const stale = this.stale?.['ipv4-unicast'];
    if (policyRules(this.config().importPolicy, 'ipv4-unicast').length > 0 || this.filtered['ipv4-unicast'].size > 0 || (stale && stale.size > 0)) {
      return this.accept(source, 'ipv4-unicast', keys.map(ipv4KeyText), attrs);
    }
    if (this.host.rib.updateManyIpv4(source, keys, attrs) !== undefined) this.counters['ipv4-unicast'].rejected += keys.length;
    return true;
  }

  private accept(source: PathSource, family: Family, prefixes: readonly Prefix[], attrs: PathAttributes): boolean {
    const rib = this.host.rib;
    const filtered = this.filtered[family];
    const rules = policyRules(this.config().importPolicy, family);
    let accepted = prefixes;
    if (rules.length > 0) {
      // Import rules (Calico BGPFilter importV4/V6): the first matching rule decides, no match
      // accepts. A rejected route leaves the RIB (it may replace an accepted one) and is kept aside.
      const kept: Prefix[] = [];
      for (const p of prefixes) {
        if (evaluatePolicy(rules, { prefix: p, fromPeer: true })?.action === 'reject') {
          rib.withdraw(source, family, p);
          filtered.set(p, attrs);
        } else {
          kept.push(p);
          if (filtered.size > 0) filtered.delete(p);
        }
      }
      accepted = kept;
    } else if (filtered.size > 0) {
      for (const p of prefixes) filtered.delete(p);
    }
    if (accepted.length > 0 && rib.updateMany(source, family, accepted, attrs) !== undefined) this.counters[family].rejected += accepted.length;
    const stale = this.stale?.[family];
    if (stale) for (const p of prefixes) stale.delete(p);
    return true;
  }

  private refreshCounters(): void {
    if (!this.sourceOf) return;
    for (const f of FAMILIES) {
      this.counters[f].received = this.host.rib.countFrom(this.sourceOf.id, f);
      this.counters[f].filtered = this.filtered[f].size;
    }
  }

  /**
   * The import rules changed: every route this peer sent is evaluated again, from the RIB (the
   * accepted ones) and from the routes kept aside (the filtered ones); the RIB gets the
   * differences. The peer is not asked for anything.
   */
  reimport(): void {
    const source = this.sourceOf;
    if (!source) return;
    const rib = this.host.rib;
    let moved = 0;
    for (const f of FAMILIES) {
      const rules = policyRules(this.config().importPolicy, f);
      const filtered = this.filtered[f];
      const keptAside = [...filtered];
      if (rules.length > 0) {
        for (const [prefix, path] of rib.adjRibIn(source.id, f)) {
          if (evaluatePolicy(rules, { prefix, fromPeer: true })?.action !== 'reject') continue;
          rib.withdraw(source, f, prefix);
          this.stale?.[f].delete(prefix);
          filtered.set(prefix, path.attrs);
          moved++;
        }
      }
      for (const [prefix, attrs] of keptAside) {
        if (rules.length > 0 && evaluatePolicy(rules, { prefix, fromPeer: true })?.action === 'reject') continue;
        filtered.delete(prefix);
        if (rib.update(source, f, prefix, attrs) !== undefined) this.counters[f].rejected++;
        moved++;
      }
    }
    this.log.info({ moved }, 'import rules changed: routes re-evaluated');
    this.refreshCounters();
    this.host.ribChanged();
    this.host.statusChanged(this.key);
  }

  // ---- output ----

  /** The export rules for the Adj-RIB-Out; undefined when the peer has none. */
  private exportRules(): ExportRules | undefined {
    const policy = this.config().exportPolicy;
    if (!policy || ((policy.v4?.length ?? 0) === 0 && (policy.v6?.length ?? 0) === 0)) return undefined;
    return { policy, interfaceOf: (family, prefix) => this.host.interfaceOf(family, prefix) };
  }

  /** The peer's export rules changed: re-evaluate what it is sent. False when nothing is being sent. */
  exportRulesChanged(): boolean {
    if (!this.out) return false;
    this.out.setRules(this.exportRules());
    return true;
  }

  /** The speaker's export filter changed, or its inputs did. False when nothing is being sent. */
  refilter(): boolean {
    if (!this.out) return false;
    this.out.setFilter(this.host.exportFilter);
    return true;
  }

  /** The peer's role or our cluster id changed: a new export policy. False when nothing is being sent. */
  setPolicy(policy: ExportPolicy): boolean {
    if (!this.out || !this.sourceOf) return false;
    this.out.setPolicy(policy);
    return true;
  }

  /** The Loc-RIB changed: mark what this peer must hear. False when nothing is being sent. */
  mark(changes: KeyedChanges): boolean {
    if (!this.out) return false;
    this.out.markKeyed(changes);
    return true;
  }

  /** The peer asked for a family again (ROUTE-REFRESH). False when nothing is being sent. */
  resend(family: Family): boolean {
    if (!this.out || !this.negotiated.includes(family)) return false;
    this.out.resend(family);
    return true;
  }

  /**
   * The next batch for the wire, at most `maxPrefixes` prefixes: UPDATEs grouped by attributes,
   * then withdrawals; once nothing waits, the End-of-RIB of each family not yet marked.
   */
  output(opts: CodecOptions, maxPrefixes: number): PeerOutput {
    const frames: Uint8Array[] = [];
    let bytes = 0;
    let updates = 0;
    const out = this.out;
    if (!out) return { frames, bytes, updates, endOfRibs: 0, more: false };
    const write = (batch: Parameters<typeof encodeUpdates>[0], count: number): void => {
      let encoded: Uint8Array[];
      try {
        encoded = encodeUpdates(batch, opts);
      } catch (err) {
        // Attributes that cannot be encoded (a bug upstream): skip them, keep the session.
        this.log.error({ err: (err as Error).message, prefixes: count }, 'cannot encode UPDATE; routes not sent');
        return;
      }
      for (const f of encoded) {
        frames.push(f);
        bytes += f.length;
        updates++;
      }
    };
    for (const batch of out.takeWireBatch(maxPrefixes)) {
      const afi = AFI_OF[batch.family];
      if ('keyed' in batch) {
        for (const [attributes, nlriKeys] of batch.announce) write({ attributes, afi, nlriKeys }, nlriKeys.length);
        if (batch.withdraw.length > 0) write({ afi, withdrawnKeys: batch.withdraw }, batch.withdraw.length);
        continue;
      }
      for (const [attributes, nlri] of batch.announce) {
        const nextHops = batch.family === 'ipv6-unicast' ? [attributes.nextHop as string] : undefined;
        write({ attributes, afi, nlri, nextHops }, nlri.length);
      }
      if (batch.withdraw.length > 0) write({ afi, withdrawn: batch.withdraw }, batch.withdraw.length);
    }
    const filterErrors = out.takeFilterErrors();
    if (filterErrors) {
      const { err, family, prefix } = filterErrors.first;
      this.log.error({ err: err instanceof Error ? err.message : String(err), family, prefix, count: filterErrors.count }, 'export filter threw: prefixes not announced to this peer');
    }
    for (const f of this.negotiated) this.counters[f].advertised = out.count(f);
    if (out.pending > 0) return { frames, bytes, updates, endOfRibs: 0, more: true };
    let endOfRibs = 0;
    for (const f of this.negotiated) {
      if (this.eorSent.has(f)) continue;
      this.eorSent.add(f);
      const eor = encodeEndOfRib(AFI_OF[f]);
      frames.push(eor);
      bytes += eor.length;
      endOfRibs++;
    }
    return { frames, bytes, updates, endOfRibs, more: false };
  }

  // ---- status ----

  /** The per-family counters (copies). */
  counterSnapshot(): Record<Family, FamilyCounters> {
    return { 'ipv4-unicast': { ...this.counters['ipv4-unicast'] }, 'ipv6-unicast': { ...this.counters['ipv6-unicast'] } };
  }

  /** Families whose End-of-RIB the peer sent in the current session. */
  endOfRibReceived(): Family[] {
    return FAMILIES.filter((f) => this.eorReceived.has(f));
  }

  /** What we announce to this peer. */
  advertised(family: Family): [Prefix, PathAttributes][] {
    return this.out ? [...this.out.entries(family)] : [];
  }

  /** What this peer sent that its import rules rejected (kept aside for a rule change). */
  filteredRoutes(family: Family): [Prefix, PathAttributes][] {
    return [...this.filtered[family]];
  }
}

const attrsWithNh = new WeakMap<PathAttributes, Map<string, PathAttributes>>();

/** The attributes with the MP_REACH next hop filled in, shared between equal inputs. */
function withNextHop(attrs: PathAttributes, nextHop: string | undefined): PathAttributes {
  if (nextHop === undefined || attrs.nextHop === nextHop) return attrs;
  let m = attrsWithNh.get(attrs);
  if (!m) {
    m = new Map();
    attrsWithNh.set(attrs, m);
  }
  let r = m.get(nextHop);
  if (!r) {
    r = { ...attrs, nextHop };
    m.set(nextHop, r);
  }
  return r;
}

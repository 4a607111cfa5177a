import { connect as tcpConnect, type Socket } from 'node:net';
import {
  CeaseSubcode,
  ErrorCode,
  MessageReader,
  OpenSubcode,
  checkPeerAs,
  decodeMessage,
  describeNotification,
  encodeMessage,
  peerAsOf,
  type CodecOptions,
} from '../codec/index.js';
import { BgpError, isBgpError, type NotificationSpec } from '../errors.js';
import {
  createSnapshot,
  formatTransition,
  resolveCollision,
  startCollisionCandidate,
  step,
  timerExpiredEvent,
  type FsmAction,
  type FsmEvent,
  type FsmSnapshot,
  type TimerName,
} from '../fsm/index.js';
import type { BgpLogger, Clock, TimerHandle } from '../platform.js';
import type { ExportFilter } from '../rib/export-filter.js';
import { ExportPolicy } from '../rib/export-policy.js';
import type { KeyedChanges, LocRib } from '../rib/loc-rib.js';
import { sameRoutePolicy } from '../rib/route-policy.js';
import type { PathSource } from '../rib/source.js';
import {
  CAP_FOUR_OCTET_AS,
  CAP_MULTIPROTOCOL,
  CAP_ROUTE_REFRESH,
  SAFI_UNICAST,
  type Capability,
  type Family,
  type OpenMessage,
  type PathAttributes,
  type Prefix,
} from '../types.js';
import { OUTPUT_HIGH_WATER, closeConnection, writeBytes, type Connection } from './connection.js';
import { AFI_OF, FAMILIES, familyOf } from './families.js';
import {
  gracefulRestartOf,
  ourGracefulRestartCapability,
  type LocalGracefulRestart,
} from './graceful-restart.js';
import { peerKey, type PeerConfig } from './peer-config.js';
import { PeerRib } from './peer-rib.js';
import type { PeerStatus } from './peer-status.js';
import { dialSecured, needsTcpSecurity, secureAccepted } from './secure-socket.js';
import { loadTcpSecurity, type TcpSecurity, type TcpSecurityLoader } from './tcp-security.js';

/** What a session needs from its speaker. */
export interface SessionHost {
  readonly asn: number;
  readonly routerId: string;
  /** Our cluster id while we are a route reflector; may change at run time. */
  clusterId?: string;
  readonly rib: LocRib;
  readonly clock: Clock;
  readonly logger: BgpLogger;
  readonly attributeCache: Map<string, PathAttributes>;
  /** The speaker's export filter, applied per prefix after the export policy; may change at run time. */
  exportFilter?: ExportFilter;
  /** Our graceful-restart bits for the OPENs we send; `restarting` may change at run time. */
  gracefulRestart: LocalGracefulRestart;
  /** The speaker's own address of a family, used as the default source and next hop. */
  defaultLocalAddress(v6: boolean): string | undefined;
  /** The interface of a route this speaker originates (for export rules' `interface` matches). */
  interfaceOf(family: Family, prefix: Prefix): string | undefined;
  /** The RIB changed: the speaker hands the changes to every session. */
  ribChanged(): void;
  statusChanged(key: string): void;
  /** TCP MD5 / GTSM socket options (loaded on first use); default libc through koffi. */
  readonly tcpSecurity?: TcpSecurityLoader;
}

/**
 * A timer of the FSM, armed lazily: restarting it (stop + start, as the FSM does for the hold
 * and keepalive timers on every message) only moves its deadline; the clock timer underneath
 * is re-armed when it fires early. A full table of UPDATEs then costs no timer churn.
 */
interface LazyTimer {
  handle: TimerHandle | undefined;
  /** When the clock timer underneath fires. */
  firesAt: number;
  deadline: number;
  running: boolean;
}

interface Instance {
  fsm: FsmSnapshot;
  conn?: Connection;
  reader: MessageReader;
  readonly timers: Map<TimerName, LazyTimer>;
  peerOpen?: OpenMessage;
  pumping: boolean;
  alive: boolean;
}

const PUMP_BUDGET_MS = 10;
const OUT_BATCH = 4000;

/**
 * One configured neighbour: drives the FSM from `../fsm` with real sockets and the injected
 * clock, validates OPENs, resolves connection collisions (RFC 4271 §6.8), decodes what the peer
 * sends (with the RFC 7606 outcome) and writes what it must be sent, in bounded chunks so
 * keepalives and reads keep flowing during a full table. The route work (Adj-RIB-In into the
 * Loc-RIB, import rules, the Adj-RIB-Out, graceful-restart retention) is its {@link PeerRib}.
 */
export class PeerSession {
  readonly key: string;
  private primary: Instance;
  private candidate: Instance | undefined;
  private connecting: Socket | undefined;
  /** The route side: Adj-RIB-In into the Loc-RIB, Adj-RIB-Out, counters, graceful-restart helper. */
  private readonly routes: PeerRib;
  private flushScheduled = false;
  private readonly log: BgpLogger;
  private stopped = false;
  /** Connections closing: each settles once its last bytes (a NOTIFICATION) are in the kernel. */
  private readonly closing = new Set<Promise<void>>();

  // status
  private since: number;
  private upSince = 0;
  private lastError = '';
  private remoteRouterId = '';
  private messagesIn = 0;
  private messagesOut = 0;
  private updatesIn = 0;
  private updatesOut = 0;
  private flaps = 0;
  private negotiated = { holdTimeS: 0, keepaliveTimeS: 0 };

  constructor(
    public config: PeerConfig,
    private readonly host: SessionHost,
  ) {
    this.key = peerKey(config.address, config.port ?? 179);
    this.log = host.logger.child({ component: 'bgp-session', peer: this.key });
    this.primary = this.newInstance(
      createSnapshot({
        passive: config.passive ?? false,
        connectRetryTimeMs: config.connectRetryTimeMs ?? 5000,
        holdTimeS: config.holdTimeS ?? 90,
        keepaliveTimeS: config.keepaliveTimeS,
        idleHold: { initialMs: config.idleHold?.initialMs ?? 1000, maxMs: config.idleHold?.maxMs ?? 60_000, resetAfterMs: config.idleHold?.resetAfterMs ?? 120_000 },
      }),
    );
    this.since = host.clock.now();
    this.routes = new PeerRib(this.key, host, this.log, () => this.config);
  }

  private newInstance(fsm: FsmSnapshot, conn?: Connection): Instance {
    return { fsm, conn, reader: new MessageReader(), timers: new Map(), pumping: false, alive: true };
  }

  private get localAs(): number {
    return this.config.localAs ?? this.host.asn;
  }

  private get configuredFamilies(): Family[] {
    return [...(this.config.families ?? FAMILIES)];
  }

  /** Closes a connection after what is queued on it, and remembers it until that is flushed. */
  private close(conn: Connection): void {
    const flushed = closeConnection(conn, this.host.clock);
    this.closing.add(flushed);
    void flushed.then(() => this.closing.delete(flushed));
  }

  /** Settles once every connection this session closed has flushed its last bytes (see {@link stop}). */
  async flushed(): Promise<void> {
    await Promise.all([...this.closing]);
  }

  /** Whether the session is Established and sending this peer routes (it must hear RIB changes). */
  get sending(): boolean {
    return this.routes.sending;
  }

  /** Starts the peer (ManualStart). */
  start(): void {
    this.stopped = false;
    // A peer that needs TCP MD5 / GTSM shows at once why it cannot run (passive ones too).
    if (needsTcpSecurity(this.config)) this.tcpSecurity();
    this.feed(this.primary, { type: 'ManualStart' });
  }

  /** Stops the peer: sends CEASE (Administrative Shutdown by default) when a session is up. */
  stop(notification?: NotificationSpec): void {
    this.stopped = true;
    if (this.candidate) this.discard(this.candidate, notification);
    this.feed(this.primary, { type: 'ManualStop', notification });
    this.cancelTimers(this.primary);
    this.abortConnecting();
    // A peer stopped or removed while we keep its routes (RFC 4724 helper): they go now.
    this.routes.stop();
    this.host.ribChanged();
  }

  /**
   * For tests: ends the session as a crash of this process would (kill -9): its sockets are
   * destroyed with nothing more written (no NOTIFICATION), its timers stop, the RIB is left as
   * it is. The session does nothing afterwards; it cannot be started again.
   */
  abort(): void {
    this.stopped = true;
    for (const inst of [this.primary, this.candidate]) {
      if (!inst) continue;
      inst.alive = false;
      this.cancelTimers(inst);
      const conn = inst.conn;
      inst.conn = undefined;
      if (conn) {
        conn.closed = true;
        conn.socket.destroy();
      }
    }
    this.candidate = undefined;
    this.abortConnecting();
    this.routes.abort();
  }

  /** Resets the session (CEASE Administrative Reset) and starts again at once. */
  reset(): void {
    this.feed(this.primary, { type: 'ManualStop', notification: { code: ErrorCode.CEASE, subcode: CeaseSubcode.ADMINISTRATIVE_RESET, data: new Uint8Array() } });
    this.feed(this.primary, { type: 'ManualStart' });
  }

  /** Asks the peer to send its routes again (RFC 2918), for each negotiated family. */
  private exportPolicy(conn: Connection, ibgp: boolean): ExportPolicy {
    const localAddr = conn.socket.localAddress ?? '';
    const localIsV6 = localAddr.includes(':');
    return new ExportPolicy({
      id: this.key,
      ibgp,
      rrClient: (this.config.rrClient ?? false) && ibgp,
      localAs: this.localAs,
      routerId: this.host.routerId,
      clusterId: this.host.clusterId,
      nextHopMode: this.config.nextHopMode ?? 'auto',
      nextHopIPv4: this.config.nextHopIPv4 ?? (localIsV6 ? undefined : localAddr.replace(/^::ffff:/, '')),
      nextHopIPv6: this.config.nextHopIPv6 ?? (localIsV6 ? localAddr : undefined),
    });
  }

  /**
   * Changes what the session only decides about routes, not about the wire: the peer's
   * route-reflector role, which side dials, its description. The session stays up; what it is sent is
   * re-evaluated (differences go out as UPDATEs) and the peer is asked for a ROUTE-REFRESH.
   */
  changeRole(config: PeerConfig): void {
    this.changePolicies(config);
    // Passive or active only matters for the next connection attempt.
    const passive = config.passive ?? false;
    for (const inst of [this.primary, this.candidate]) {
      if (inst && inst.fsm.config.passive !== passive) inst.fsm = { ...inst.fsm, config: { ...inst.fsm.config, passive } };
    }
    const source = this.routes.source;
    if (source && this.primary.fsm.state === 'Established') source.rrClient = (config.rrClient ?? false) && source.ibgp;
    this.reexport();
    this.requestRefresh();
  }

  /**
   * The speaker's export filter changed, or the inputs it decides on did: re-evaluate every
   * prefix for this peer; only the differences go out.
   */
  refilter(): void {
    if (this.routes.refilter()) this.scheduleFlush();
  }

  /**
   * Takes a configuration whose import or export rules may differ: changed import rules
   * re-evaluate what the peer sent (from the RIB and the routes kept aside), changed export
   * rules what it is sent; only differences go to the RIB and to the peer. The session stays up.
   */
  changePolicies(config: PeerConfig): void {
    const previous = this.config;
    this.config = config;
    if (!sameRoutePolicy(previous.importPolicy, config.importPolicy)) this.routes.reimport();
    if (!sameRoutePolicy(previous.exportPolicy, config.exportPolicy) && this.routes.exportRulesChanged()) this.scheduleFlush();
  }

  /** Our cluster id or a peer's role changed: recompute what this peer must be sent. */
  reexport(): void {
    const conn = this.primary.conn;
    const source = this.routes.source;
    if (!conn || !source || this.primary.fsm.state !== 'Established') return;
    if (this.routes.setPolicy(this.exportPolicy(conn, source.ibgp))) this.scheduleFlush();
  }

  requestRefresh(): boolean {
    const conn = this.primary.conn;
    if (this.primary.fsm.state !== 'Established' || !conn || !this.peerSupports(CAP_ROUTE_REFRESH)) return false;
    for (const f of this.routes.families) this.send(this.primary, { type: 'route-refresh', afi: AFI_OF[f], safi: SAFI_UNICAST });
    return true;
  }

  private peerSupports(code: number): boolean {
    return this.primary.peerOpen?.capabilities.some((c) => c.code === code) ?? false;
  }

  /** An inbound TCP connection from this peer's address. */
  acceptInbound(socket: Socket): void {
    if (this.primary.fsm.state === 'Established' && !this.stopped && !this.candidate && gracefulRestartOf(this.primary.peerOpen)) this.replacedByRestart();
    const state = this.primary.fsm.state;
    const conn: Connection = { socket, direction: 'inbound', fourOctetAs: false, closed: false };
    if (this.stopped || state === 'Idle' || state === 'Established' || (this.candidate && (state === 'OpenSent' || state === 'OpenConfirm'))) {
      this.log.debug({ state }, 'inbound connection refused');
      socket.destroy();
      return;
    }
    if (this.config.ttlSecurity !== undefined) {
      const sec = this.tcpSecurity();
      if (!sec) {
        socket.destroy(); // the reason is in lastError
        return;
      }
      try {
        secureAccepted(sec, socket, this.config.ttlSecurity);
      } catch (err) {
        this.refuseInbound(socket, err);
        return;
      }
    }
    if (state === 'Connect' || state === 'Active') {
      // Our own connect may be on its way too (both sides dialing at once): let it finish;
      // if it connects, the two connections are resolved as a collision (RFC 4271 §6.8). It is
      // given up once the peer's OPEN arrives on this one (see onOpen).
      if (this.primary.conn) this.close(this.primary.conn);
      this.primary.conn = conn;
      this.primary.reader = new MessageReader();
      this.attach(this.primary, conn);
      this.feed(this.primary, { type: 'TcpConnectionConfirmed' });
      return;
    }
    // OpenSent / OpenConfirm on the outbound connection: a collision candidate (RFC 4271 §6.8).
    const r = startCollisionCandidate(this.primary.fsm);
    const inst = this.newInstance(r.state, conn);
    this.candidate = inst;
    this.attach(inst, conn);
    this.log.debug({}, 'inbound connection while opening: collision candidate');
    this.execute(inst, r.actions);
  }

  /**
   * A peer that advertised graceful restart connects again while its session looks
   * Established: it restarted and the end of the old connection never reached us. RFC 4724
   * §4.2: close the old connection as a TCP failure (its routes are kept, stale) and take the
   * new one; the FSM starts again at once to accept it.
   */
  private replacedByRestart(): void {
    this.log.info({}, 'peer connected again while Established: it restarted (graceful restart); the old connection is closed');
    const old = this.primary.conn;
    this.primary.conn = undefined;
    if (old) {
      old.closed = true;
      old.socket.destroy();
    }
    this.lastError = 'Graceful restart';
    this.feed(this.primary, { type: 'TcpConnectionFails' });
    this.feed(this.primary, { type: 'ManualStart' });
  }

  // ---- FSM plumbing ----

  private feed(inst: Instance, event: FsmEvent): void {
    if (!inst.alive) return;
    const r = step(inst.fsm, event);
    inst.fsm = r.state;
    if (r.transition) {
      if (inst === this.primary) {
        this.since = this.host.clock.now();
        this.log.info({ from: r.transition.from, to: r.transition.to, reason: r.transition.reason }, formatTransition(r.transition));
      } else {
        this.log.debug({ candidate: true }, formatTransition(r.transition));
      }
    }
    this.execute(inst, r.actions);
    if (inst === this.primary && r.transition) this.host.statusChanged(this.key);
  }

  private execute(inst: Instance, actions: readonly FsmAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'connect':
          this.connectOut(inst);
          break;
        case 'drop':
          if (inst === this.primary) this.abortConnecting();
          if (inst.conn) this.close(inst.conn);
          inst.conn = undefined;
          break;
        case 'sendOpen':
          this.send(inst, this.openMessage(a.holdTimeS));
          break;
        case 'sendKeepalive':
          this.send(inst, { type: 'keepalive' });
          break;
        case 'sendNotification':
          this.send(inst, { type: 'notification', code: a.notification.code, subcode: a.notification.subcode, data: a.notification.data });
          if (inst === this.primary) this.lastError = `BGP Error: ${describeNotification(a.notification.code, a.notification.subcode)}`;
          break;
        case 'startTimer':
          this.startTimer(inst, a.timer, a.ms);
          break;
        case 'stopTimer': {
          const t = inst.timers.get(a.timer);
          if (t) t.running = false;
          break;
        }
        case 'sessionUp':
          this.negotiated = { holdTimeS: a.holdTimeS, keepaliveTimeS: a.keepaliveTimeS };
          this.established(inst);
          break;
        case 'sessionDown':
          this.down(a.reason);
          break;
      }
    }
  }

  private startTimer(inst: Instance, name: TimerName, ms: number): void {
    const clock = this.host.clock;
    const deadline = clock.now() + ms;
    let t = inst.timers.get(name);
    if (!t) {
      t = { handle: undefined, firesAt: 0, deadline, running: true };
      inst.timers.set(name, t);
    }
    t.deadline = deadline;
    t.running = true;
    // An armed clock timer that fires no later than the new deadline is re-armed when it fires.
    if (t.handle && t.firesAt <= deadline) return;
    t.handle?.cancel();
    const timer = t;
    const arm = (delay: number): void => {
      timer.firesAt = clock.now() + delay;
      timer.handle = clock.setTimeout(() => {
        timer.handle = undefined;
        if (!timer.running) return;
        const left = timer.deadline - clock.now();
        if (left > 0) {
          arm(left);
          return;
        }
        timer.running = false;
        this.feed(inst, timerExpiredEvent(name));
      }, delay);
    };
    arm(ms);
  }

  private cancelTimers(inst: Instance): void {
    for (const t of inst.timers.values()) {
      t.running = false;
      t.handle?.cancel();
      t.handle = undefined;
    }
    inst.timers.clear();
  }

  /** Ends a collision loser (or a candidate when stopping). */
  private discard(inst: Instance, notification?: NotificationSpec): void {
    if (notification && inst.conn) this.send(inst, { type: 'notification', ...notification });
    if (inst.conn) this.close(inst.conn);
    this.cancelTimers(inst);
    inst.alive = false;
    inst.conn = undefined;
    if (this.candidate === inst) this.candidate = undefined;
  }

  /** Gives up a connect in progress; its handlers see it is no longer ours and do nothing. */
  private abandonDial(): void {
    const socket = this.connecting;
    if (!socket) return;
    this.connecting = undefined;
    socket.destroy();
  }

  private connectOut(inst: Instance): void {
    if (inst !== this.primary || this.connecting) return;
    const port = this.config.port ?? 179;
    const v6 = this.config.address.includes(':');
    // null: no bind at all, the kernel chooses the source address (sourceAddress: None).
    const localAddress = this.config.localAddress === null ? undefined : (this.config.localAddress ?? this.host.defaultLocalAddress(v6));
    let socket: Socket;
    if (needsTcpSecurity(this.config)) {
      // Never dial unauthenticated: without the socket options the attempt fails like a refused connect.
      const sec = this.tcpSecurity();
      try {
        if (!sec) throw new Error('unavailable');
        socket = dialSecured(sec, { host: this.config.address, port, localAddress, password: this.config.password, ttlSecurity: this.config.ttlSecurity });
      } catch (err) {
        if (sec) this.securityFailed(err);
        // After this action list has run (the FSM is in Connect by then), as a failed connect would.
        queueMicrotask(() => {
          if (inst === this.primary && !inst.conn && !this.connecting && this.primary.fsm.state === 'Connect') this.feed(this.primary, { type: 'TcpConnectionFails' });
        });
        return;
      }
    } else {
      socket = tcpConnect({ host: this.config.address, port, localAddress, noDelay: true });
    }
    this.connecting = socket;
    const onError = (err: NodeJS.ErrnoException): void => {
      if (this.connecting !== socket) return;
      this.connecting = undefined;
      this.lastError = `Socket: ${socketErrorText(err)}`;
      socket.destroy();
      this.feed(this.primary, { type: 'TcpConnectionFails' });
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      if (this.connecting !== socket) {
        socket.destroy();
        return;
      }
      this.connecting = undefined;
      socket.removeListener('error', onError);
      const conn: Connection = { socket, direction: 'outbound', fourOctetAs: false, closed: false };
      const state = this.primary.fsm.state;
      if (this.primary.conn) {
        // An inbound connection got there first. Opening: keep both and let the OPENs decide.
        if ((state === 'OpenSent' || state === 'OpenConfirm') && !this.candidate) {
          const r = startCollisionCandidate(this.primary.fsm);
          const inst = this.newInstance(r.state, conn);
          this.candidate = inst;
          this.attach(inst, conn);
          this.log.debug({}, 'outbound connection while opening: collision candidate');
          this.execute(inst, r.actions);
        } else {
          socket.destroy();
        }
        return;
      }
      this.primary.conn = conn;
      this.primary.reader = new MessageReader();
      this.attach(this.primary, conn);
      this.feed(this.primary, { type: 'TcpCrAcked' });
    });
  }

  /** The socket-option implementation, or undefined (with the reason in lastError) when it cannot load. */
  private tcpSecurity(): TcpSecurity | undefined {
    try {
      return (this.host.tcpSecurity ?? loadTcpSecurity)();
    } catch (err) {
      this.securityFailed(err);
      return undefined;
    }
  }

  /** Records why TCP MD5 / GTSM could not be applied; logs each new reason once. Messages never hold the key. */
  private securityFailed(err: unknown): void {
    const what = this.config.password !== undefined ? 'TCP MD5' : 'GTSM';
    const text = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    if (this.lastError === text) return;
    this.lastError = text;
    this.log.warn({ reason: text }, 'peer stays down: session security cannot be applied');
    this.host.statusChanged(this.key);
  }

  /**
   * Refuses an inbound connection of this peer because its security could not be applied
   * (the listener has no MD5 key for it, or GTSM failed on the socket).
   */
  refuseInbound(socket: Socket, reason: unknown): void {
    socket.destroy();
    this.securityFailed(reason);
  }

  private abortConnecting(): void {
    const s = this.connecting;
    this.connecting = undefined;
    // A signed SYN that got no answer: the peer's kernel drops it when the keys differ (and we drop its unsigned RST).
    if (s?.connecting && !this.stopped && this.config.password !== undefined) this.lastError = 'Socket: Connection timed out (TCP MD5: no answer to a signed SYN; a wrong or missing key on the peer looks like this)';
    else if (s?.connecting && !this.stopped && this.config.ttlSecurity !== undefined) this.lastError = 'Socket: Connection timed out (GTSM: the answer may have arrived with a TTL below the floor)';
    s?.destroy();
  }

  private attach(inst: Instance, conn: Connection): void {
    const socket = conn.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (inst.conn !== conn) return;
      try {
        inst.reader.push(chunk);
      } catch (err) {
        this.protocolError(inst, err);
        return;
      }
      this.pump(inst, conn);
    });
    const gone = (err?: NodeJS.ErrnoException): void => {
      if (conn.closed && inst.conn !== conn) return;
      conn.closed = true;
      if (inst.conn !== conn) return;
      if (err) this.lastError = `Socket: ${socketErrorText(err)}`;
      else if (!this.lastError.startsWith('Received')) this.lastError = 'Socket: Connection closed';
      inst.conn = undefined;
      if (inst === this.primary) this.feed(inst, { type: 'TcpConnectionFails' });
      else this.discard(inst);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => gone(err));
    socket.on('close', () => gone());
    socket.on('drain', () => {
      if (inst === this.primary) this.scheduleFlush();
    });
  }

  // ---- input ----

  private pump(inst: Instance, conn: Connection): void {
    if (inst.pumping) return;
    inst.pumping = true;
    const deadline = performance.now() + PUMP_BUDGET_MS;
    let ribTouched = false;
    let yielded = false;
    while (inst.conn === conn) {
      let frame: Uint8Array | undefined;
      try {
        frame = inst.reader.next();
      } catch (err) {
        this.protocolError(inst, err);
        break;
      }
      if (!frame) break;
      this.messagesIn++;
      if (this.handleFrame(inst, conn, frame)) ribTouched = true;
      if (performance.now() > deadline) {
        // Give timers and other peers a turn; stop reading until we catch up.
        yielded = true;
        conn.socket.pause();
        setImmediate(() => {
          inst.pumping = false;
          if (inst.conn === conn) {
            conn.socket.resume();
            this.pump(inst, conn);
          }
        });
        break;
      }
    }
    if (!yielded) inst.pumping = false;
    if (ribTouched) this.host.ribChanged();
  }

  private protocolError(inst: Instance, err: unknown): void {
    if (!isBgpError(err)) throw err;
    this.log.warn({ err: err.message, code: err.notification.code, subcode: err.notification.subcode }, 'malformed message');
    this.feed(inst, { type: 'BGPHeaderErr', notification: err.notification });
  }

  /** Handles one whole message; returns true when the RIB changed. */
  private handleFrame(inst: Instance, conn: Connection, frame: Uint8Array): boolean {
    const type = frame[18];
    let decoded;
    try {
      decoded = decodeMessage(frame, this.codecOptions(conn));
    } catch (err) {
      if (!isBgpError(err)) throw err;
      this.log.warn({ err: err.message, code: err.notification.code, subcode: err.notification.subcode, action: err.action }, 'malformed message');
      const n = err.notification;
      if (type === 1) this.feed(inst, { type: 'BGPOpenMsgErr', notification: n });
      else if (type === 2) this.feed(inst, { type: 'UpdateMsgErr', notification: n });
      else this.feed(inst, { type: 'BGPHeaderErr', notification: n });
      return false;
    }
    const msg = decoded.message;
    switch (msg.type) {
      case 'open':
        this.onOpen(inst, msg);
        return false;
      case 'keepalive':
        this.feed(inst, { type: 'KeepAliveMsg' });
        return false;
      case 'notification': {
        const text = describeNotification(msg.code, msg.subcode);
        if (inst === this.primary) this.lastError = `Received: ${text}`;
        this.log.warn({ code: msg.code, subcode: msg.subcode }, `NOTIFICATION received: ${text}`);
        this.feed(inst, msg.code === ErrorCode.OPEN_MESSAGE && msg.subcode === OpenSubcode.UNSUPPORTED_VERSION_NUMBER ? { type: 'NotifMsgVerErr' } : { type: 'NotifMsg' });
        return false;
      }
      case 'route-refresh': {
        if (inst.fsm.state !== 'Established') {
          this.feed(inst, { type: 'UpdateMsg' });
          return false;
        }
        const f = familyOf(msg.afi);
        if (f && this.routes.resend(f)) this.scheduleFlush();
        return false;
      }
      case 'update': {
        this.feed(inst, { type: 'UpdateMsg' });
        if (inst.fsm.state !== 'Established' || inst !== this.primary) return false;
        this.updatesIn++;
        return this.routes.apply(msg, decoded.action === 'treat-as-withdraw', decoded.action === 'afisafi-disable', decoded.ipv4, decoded.endOfRib);
      }
    }
  }

  private codecOptions(conn: Connection): CodecOptions {
    return { fourOctetAs: conn.fourOctetAs, attributeCache: this.host.attributeCache, ipv4Keys: true };
  }

  private onOpen(inst: Instance, open: OpenMessage): void {
    const err = this.validateOpen(open);
    if (err) {
      this.lastError = `BGP Error: ${describeNotification(err.notification.code, err.notification.subcode)}`;
      this.feed(inst, { type: 'BGPOpenMsgErr', notification: err.notification });
      return;
    }
    inst.peerOpen = open;
    // The peer answered on this connection while ours is still connecting (its SYNs
    // retransmitted while no route led to the peer): give it up, as BIRD does. Were it to get
    // through once the session is up, a peer that does graceful restart (BIRD, GoBGP) would
    // take the second connection for our restart and drop the session.
    this.abandonDial();
    const other = inst === this.primary ? this.candidate : this.primary;
    if (other && other.alive && other.fsm.state === 'Established') {
      this.feed(inst, { type: 'OpenCollisionDump' });
      if (inst === this.candidate) this.discard(inst);
      return;
    }
    // The other connection in OpenConfirm, or still in OpenSent: this OPEN tells the peer's BGP
    // identifier, so the collision is resolved now (RFC 4271 §6.8 allows it for OpenSent when
    // the identifier is known). Waiting for the OPEN on the other connection would let this one
    // reach Established while the peer, resolving on its side, closes it: both connections lost.
    if (other && other.alive && (other.fsm.state === 'OpenConfirm' || other.fsm.state === 'OpenSent') && other.conn && inst.conn) {
      const close = resolveCollision(this.host.routerId, open.bgpId);
      const loser = (close === 'close-outbound' ? 'outbound' : 'inbound') === inst.conn.direction ? inst : other;
      this.log.info({ keep: loser === inst ? other.conn.direction : inst.conn.direction }, 'connection collision resolved');
      this.feed(loser, { type: 'OpenCollisionDump' });
      this.retire(loser);
      if (loser !== inst) this.feed(inst, { type: 'BGPOpen', holdTimeS: open.holdTime });
      return;
    }
    this.feed(inst, { type: 'BGPOpen', holdTimeS: open.holdTime });
  }

  /** Removes a collision loser; the other instance becomes the primary. */
  private retire(loser: Instance): void {
    this.cancelTimers(loser);
    loser.alive = false;
    if (loser === this.primary && this.candidate) {
      this.primary = this.candidate;
      this.candidate = undefined;
    } else if (loser === this.candidate) {
      this.candidate = undefined;
    }
  }

  private validateOpen(open: OpenMessage): BgpError | undefined {
    if (open.version !== 4) return new BgpError(`unsupported BGP version ${open.version}`, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.UNSUPPORTED_VERSION_NUMBER, data: Uint8Array.of(0, 4) });
    const asErr = checkPeerAs(open, this.config.remoteAs);
    if (asErr) return asErr;
    const peerAs = peerAsOf(open);
    if (peerAs === this.localAs && open.bgpId === this.host.routerId)
      return new BgpError(`iBGP peer has our BGP identifier ${open.bgpId}`, { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.BAD_BGP_IDENTIFIER, data: new Uint8Array() });
    return undefined;
  }

  private openMessage(holdTimeS: number): OpenMessage {
    const caps: Capability[] = [];
    for (const f of this.configuredFamilies) caps.push({ code: CAP_MULTIPROTOCOL, afi: AFI_OF[f], safi: SAFI_UNICAST });
    caps.push({ code: CAP_ROUTE_REFRESH });
    const gr = ourGracefulRestartCapability(this.configuredFamilies, this.config.gracefulRestartTimeS ?? 120, this.host.gracefulRestart);
    if (gr) caps.push(gr);
    caps.push({ code: CAP_FOUR_OCTET_AS, asn: this.localAs });
    return { type: 'open', version: 4, myAs: this.localAs > 0xffff ? 23456 : this.localAs, holdTime: holdTimeS, bgpId: this.host.routerId, capabilities: caps };
  }

  private send(inst: Instance, msg: Parameters<typeof encodeMessage>[0]): boolean {
    const conn = inst.conn;
    if (!conn) return false;
    this.messagesOut++;
    return writeBytes(conn, encodeMessage(msg, this.codecOptions(conn)));
  }

  // ---- Established ----

  private established(inst: Instance): void {
    if (inst !== this.primary) {
      // The candidate won: make it the primary, end the other.
      const old = this.primary;
      this.primary = inst;
      this.candidate = undefined;
      this.feed(old, { type: 'OpenCollisionDump' });
      old.alive = false;
      this.cancelTimers(old);
    } else if (this.candidate) {
      const c = this.candidate;
      this.feed(c, { type: 'OpenCollisionDump' });
      this.discard(c);
    }
    const open = inst.peerOpen as OpenMessage;
    const conn = inst.conn as Connection;
    conn.fourOctetAs = open.capabilities.some((c) => c.code === CAP_FOUR_OCTET_AS);
    const peerMp = open.capabilities.filter((c): c is Extract<Capability, { code: 1 }> => c.code === CAP_MULTIPROTOCOL);
    const offered = peerMp.length === 0 ? ['ipv4-unicast'] : peerMp.map((c) => (c.safi === SAFI_UNICAST ? familyOf(c.afi) : undefined));
    const families = this.configuredFamilies.filter((f) => offered.includes(f));
    const peerAs = peerAsOf(open);
    const ibgp = peerAs === this.localAs;
    this.remoteRouterId = open.bgpId;
    const source: PathSource = {
      id: this.key,
      kind: 'peer',
      address: this.config.address,
      asn: peerAs,
      routerId: open.bgpId,
      ibgp,
      rrClient: (this.config.rrClient ?? false) && ibgp,
    };
    this.routes.up({ source, families, policy: this.exportPolicy(conn, ibgp), open });
    this.upSince = this.host.clock.now();
    this.lastError = '';
    this.scheduleFlush();
  }

  private down(reason: string): void {
    this.flaps++;
    this.upSince = 0;
    this.routes.down(reason === 'tcp-failed' && !this.stopped, this.primary.peerOpen);
  }

  // ---- output ----

  /** The RIB changed: queue what this peer must hear. */
  ribChanged(changes: KeyedChanges): void {
    if (this.routes.mark(changes)) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.primary.conn;
    if (!this.routes.sending || !conn || this.primary.fsm.state !== 'Established') return;
    if (conn.socket.writableLength >= OUTPUT_HIGH_WATER) return; // 'drain' schedules the next flush
    const out = this.routes.output(this.codecOptions(conn), OUT_BATCH);
    // One socket write per flush: thousands of small UPDATEs written one by one cost more in
    // the stream machinery than encoding them.
    if (out.frames.length > 0) writeBytes(conn, out.frames.length === 1 ? out.frames[0] : Buffer.concat(out.frames, out.bytes));
    this.updatesOut += out.updates;
    this.messagesOut += out.updates + out.endOfRibs;
    if (out.updates > 0) this.feed(this.primary, { type: 'UpdateMsgSent' });
    if (out.more && conn.socket.writableLength < OUTPUT_HIGH_WATER) this.scheduleFlush();
  }

  // ---- status ----

  status(): PeerStatus {
    const now = this.host.clock.now();
    const established = this.primary.fsm.state === 'Established';
    return {
      key: this.key,
      address: this.config.address,
      port: this.config.port ?? 179,
      remoteAs: this.config.remoteAs,
      localAs: this.localAs,
      description: this.config.description ?? '',
      state: this.primary.fsm.state,
      since: this.since,
      uptimeMs: established ? now - this.upSince : 0,
      lastError: this.lastError,
      remoteRouterId: this.remoteRouterId,
      families: established ? [...this.routes.families] : this.configuredFamilies,
      holdTimeS: established ? this.negotiated.holdTimeS : 0,
      keepaliveTimeS: established ? this.negotiated.keepaliveTimeS : 0,
      counters: this.routes.counterSnapshot(),
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      updatesIn: this.updatesIn,
      updatesOut: this.updatesOut,
      flaps: this.flaps,
      staleRoutes: this.routes.staleCount(),
      endOfRibReceived: this.routes.endOfRibReceived(),
      peerGracefulRestart: established && gracefulRestartOf(this.primary.peerOpen) !== undefined,
    };
  }

  /** What we announce to this peer. */
  advertised(family: Family): [Prefix, PathAttributes][] {
    return this.routes.advertised(family);
  }

  /** What this peer sent that its import rules rejected (kept aside for a rule change). */
  filteredRoutes(family: Family): [Prefix, PathAttributes][] {
    return this.routes.filteredRoutes(family);
  }
}

function socketErrorText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
      return 'Connection reset by peer';
    case 'ETIMEDOUT':
      return 'Connection timed out';
    case 'EHOSTUNREACH':
      return 'No route to host';
    case 'ENETUNREACH':
      return 'Network is unreachable';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address';
    default:
      return err.message;
  }
}

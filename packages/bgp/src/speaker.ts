import { createServer, isIP, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { CeaseSubcode, ErrorCode, canonicalPrefix, ipv4KeyOf } from './codec/index.js';
import { silentLogger, systemClock, type BgpLogger, type Clock } from './platform.js';
import type { Decision, DecisionReason, Path } from './rib/best-path.js';
import type { ExportFilter } from './rib/export-filter.js';
import { LocRib, changesAsText, type BestChange, type KeyedChanges } from './rib/loc-rib.js';
import { localSource, type PathSource } from './rib/source.js';
import { peerKey, type PeerConfig } from './session/peer-config.js';
import { PeerSession, type SessionHost } from './session/peer-session.js';
import type { PeerStatus } from './session/peer-status.js';
import { configEqual } from './session/config-equal.js';
import { ListenerSecurity } from './session/listener-security.js';
import { TCP_MD5_MAX_KEY_BYTES, TcpSecurityError, loadTcpSecurity, type TcpSecurityLoader } from './session/tcp-security.js';
import { sameRoutePolicy, validateRoutePolicy } from './rib/route-policy.js';
import type { AsPathSegment, Family, LargeCommunity, Origin, PathAttributes, Prefix } from './types.js';

/** A speaker: one router identity, its listen addresses and its peers. */
export interface SpeakerConfig {
  /** Our AS (4-octet values are fine). */
  readonly asn: number;
  /** BGP Identifier, a dotted quad. */
  readonly routerId: string;
  /**
   * Addresses and ports to accept connections on; never a wildcard unless you list one
   * (`0.0.0.0`, `::`; IPv6 sockets take IPv6 only). Changed at run time with {@link Speaker.setListen}.
   */
  readonly listen: readonly ListenAddress[];
  /** Set to make this speaker a route reflector with this cluster id (RFC 4456). */
  readonly clusterId?: string;
  /** Per-prefix export decision on top of the export rules; see {@link Speaker.setExportFilter}. */
  readonly exportFilter?: ExportFilter;
  /** Our side of graceful restart (RFC 4724); see {@link GracefulRestartConfig}. */
  readonly gracefulRestart?: GracefulRestartConfig;
  /**
   * Sets TCP MD5 keys and GTSM options for peers with `password` / `ttlSecurity`; default
   * libc through koffi, loaded on first use. Tests inject one that fails to load.
   */
  readonly tcpSecurity?: TcpSecurityLoader;
  readonly logger?: BgpLogger;
  readonly clock?: Clock;
}

/** An address and port a speaker accepts connections on. */
export interface ListenAddress {
  readonly address: string;
  /** 0: any free port (see {@link Speaker.listenPort}). */
  readonly port: number;
}

/**
 * Our side of graceful restart (RFC 4724). The capability itself is sent to every peer whose
 * `gracefulRestartTimeS` is not 0 (default 120 s); these set its bits.
 */
export interface GracefulRestartConfig {
  /**
   * This process is a restart of a speaker whose peers may keep its routes: the OPENs carry
   * the Restart State bit (R) until {@link Speaker.restartComplete} is called.
   */
  readonly restarting?: boolean;
  /**
   * Our routes' forwarding state survives a restart of this process (the kernel keeps them):
   * every family of the capability carries the Forwarding State bit (F). Without it a helper
   * drops our routes as soon as we reconnect.
   */
  readonly forwardingPreserved?: boolean;
}

/** Attributes of a route this speaker originates. */
export interface LocalRouteAttributes {
  readonly origin?: Origin;
  readonly med?: number;
  readonly localPref?: number;
  readonly communities?: readonly number[];
  /** RFC 8092 large communities, `[global, local1, local2]`, each 0..4294967295. */
  readonly largeCommunities?: readonly LargeCommunity[];
  readonly asPath?: readonly AsPathSegment[];
  /**
   * The interface the route is on (e.g. `vxlan.calico`): not sent to peers, only matched by
   * export rules' `interface` patterns, as BIRD matches `ifname`.
   */
  readonly interface?: string;
}

/** A prefix of the Loc-RIB with its best path and every other candidate. */
export interface RouteEntry {
  readonly family: Family;
  readonly prefix: Prefix;
  readonly best: Path;
  readonly reason: DecisionReason;
  readonly paths: readonly Path[];
}

/** Thrown for bad speaker or peer configuration (the message says which field). */
export class SpeakerConfigError extends Error {
  override readonly name = 'SpeakerConfigError';
}

export function isSpeakerConfigError(err: unknown): err is SpeakerConfigError {
  return err instanceof SpeakerConfigError;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

interface ListenSocket extends ListenAddress {
  /** The port bound (differs from `port` when that is 0). */
  readonly bound: number;
  readonly server: Server;
}

/** 0.0.0.0 or :: (any spelling). */
function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || (address.includes(':') && address.replace(/[:0]/g, '') === '');
}

function validateListen(listen: readonly ListenAddress[]): void {
  for (const l of listen) {
    if (isIP(l.address) === 0) throw new SpeakerConfigError(`listen address must be an IP address, got "${l.address}"`);
    if (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535) throw new SpeakerConfigError(`listen port must be 0..65535, got ${l.port}`);
  }
}

function addressInUse(err: unknown): boolean {
  return err instanceof Error && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/**
 * Stops accepting on these sockets. `drain`: also wait until every connection they accepted has
 * ended (on stop, when the sessions are closing); without it the sessions keep running.
 */
async function closeSockets(sockets: readonly ListenSocket[], security: ListenerSecurity, drain = true): Promise<void> {
  for (const s of sockets) security.remove(s.server);
  const closed = sockets.map((s) => new Promise<void>((resolve) => s.server.close(() => resolve())));
  if (drain) await Promise.all(closed);
}

function sameConfig(a: PeerConfig, b: PeerConfig): boolean {
  return configEqual(a, b);
}

/** Names (never values) of the fields that differ. */
function changedFields(a: PeerConfig, b: PeerConfig): string[] {
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  return [...new Set([...Object.keys(ra), ...Object.keys(rb)])].filter((k) => !configEqual(ra[k], rb[k])).sort();
}

/**
 * A BGP speaker: listens on its addresses, runs a session per configured peer, keeps the
 * RIB, originates local prefixes and reports best-path changes. The control plane talks to
 * it only through this class: add/update/remove peers, announce/withdraw, status, routes.
 */
export class Speaker {
  private readonly sessions = new Map<string, PeerSession>();
  private readonly servers: ListenSocket[] = [];
  private listen: ListenAddress[];
  private readonly rib: LocRib;
  private readonly clock: Clock;
  private readonly log: BgpLogger;
  private readonly local: PathSource;
  private readonly attributeCache = new Map<string, PathAttributes>();
  private readonly localAttrs = new Map<string, PathAttributes>();
  private readonly localInterfaces: Record<Family, Map<Prefix, string>> = { 'ipv4-unicast': new Map(), 'ipv6-unicast': new Map() };
  private readonly bestListeners = new Set<(changes: readonly BestChange[]) => void>();
  private readonly statusListeners = new Set<(status: PeerStatus) => void>();
  private changeScheduled = false;
  private readonly host: SessionHost;
  private running = false;
  private readonly listenerSecurity: ListenerSecurity;

  constructor(readonly config: SpeakerConfig) {
    if (!IPV4.test(config.routerId) || config.routerId === '0.0.0.0') throw new SpeakerConfigError(`routerId must be a non-zero dotted quad, got "${config.routerId}"`);
    if (!Number.isInteger(config.asn) || config.asn < 1 || config.asn > 4294967295) throw new SpeakerConfigError(`asn must be 1..4294967295, got ${config.asn}`);
    if (config.clusterId !== undefined && !IPV4.test(config.clusterId)) throw new SpeakerConfigError(`clusterId must be a dotted quad, got "${config.clusterId}"`);
    validateListen(config.listen);
    this.listen = [...config.listen];
    this.clock = config.clock ?? systemClock;
    this.log = (config.logger ?? silentLogger).child({ component: 'bgp' });
    this.listenerSecurity = new ListenerSecurity(config.tcpSecurity ?? loadTcpSecurity, this.log);
    this.rib = new LocRib({ localAs: config.asn, routerId: config.routerId, clusterId: config.clusterId });
    this.local = localSource(config.asn, config.routerId);
    this.host = {
      asn: config.asn,
      routerId: config.routerId,
      clusterId: config.clusterId,
      rib: this.rib,
      clock: this.clock,
      logger: this.log,
      attributeCache: this.attributeCache,
      exportFilter: config.exportFilter,
      gracefulRestart: { restarting: config.gracefulRestart?.restarting ?? false, forwardingPreserved: config.gracefulRestart?.forwardingPreserved ?? false },
      defaultLocalAddress: (v6) => this.listen.find((l) => l.address.includes(':') === v6 && !isWildcard(l.address))?.address,
      interfaceOf: (family, prefix) => this.localInterfaces[family].get(prefix),
      ribChanged: () => this.scheduleChanges(),
      statusChanged: (key) => this.emitStatus(key),
      tcpSecurity: config.tcpSecurity,
    };
  }

  /** Opens the listen sockets; peers added before or after start run once started. */
  async start(): Promise<void> {
    if (this.running) return;
    for (const l of this.listen) {
      try {
        this.servers.push(await this.openListener(l));
      } catch (err) {
        await this.closeServers();
        throw err;
      }
    }
    this.running = true;
    this.syncSecurity();
    for (const s of this.sessions.values()) s.start();
  }

  private async openListener(l: ListenAddress): Promise<ListenSocket> {
    const server: Server = createServer({ noDelay: true }, (socket) => this.onInbound(socket, server));
    // IPv6 sockets take IPv6 only: `::` beside `0.0.0.0` on one port, each family on its own socket.
    server.listen({ port: l.port, host: l.address, ipv6Only: l.address.includes(':') });
    try {
      await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
    } catch (err) {
      throw new SpeakerConfigError(`cannot listen on ${l.address}:${l.port}: ${(err as Error).message}`, { cause: err });
    }
    this.listenerSecurity.add(server, l.address);
    const bound = (server.address() as { port: number }).port;
    this.log.info({ address: l.address, port: bound }, 'BGP listening');
    return { address: l.address, port: l.port, bound, server };
  }

  /**
   * Listens on these addresses instead (BGPConfiguration bindMode: a wildcard for None, the
   * node's addresses for NodeIP). Sockets that stay are kept, so are every session and every
   * accepted connection: only new connections see the change. New sockets open before old ones
   * close; if one cannot open, nothing changes and the error says which.
   */
  async setListen(addresses: readonly ListenAddress[]): Promise<void> {
    validateListen(addresses);
    const key = (l: ListenAddress): string => `${l.address}|${l.port}`;
    const listen = [...new Map(addresses.map((l) => [key(l), { address: l.address, port: l.port }])).values()];
    if (!this.running) {
      this.listen = listen;
      return;
    }
    // A socket opened with port 0 is also known by the port it got.
    const have = new Map(this.servers.flatMap((s) => [[key(s), s] as const, [key({ address: s.address, port: s.bound }), s] as const]));
    const want = new Set(listen.map(key));
    const gone = this.servers.filter((s) => !want.has(key(s)) && !want.has(key({ address: s.address, port: s.bound })));
    const missing = listen.filter((l) => !have.has(key(l)));
    const opened: ListenSocket[] = [];
    let closedFirst = false;
    try {
      for (const l of missing) opened.push(await this.openListener(l));
    } catch (err) {
      // Linux lets a wildcard and a specific address share a port only with SO_REUSEPORT, which
      // Node cannot set: for such a move the old sockets close first (connections arriving in
      // that instant are refused and retried by the peer), and come back if the new ones fail.
      if (!addressInUse(err) || gone.length === 0) {
        await closeSockets(opened, this.listenerSecurity, false);
        throw err;
      }
      await closeSockets(gone, this.listenerSecurity, false);
      closedFirst = true;
      try {
        for (const l of missing.slice(opened.length)) opened.push(await this.openListener(l));
      } catch (again) {
        await closeSockets(opened, this.listenerSecurity, false);
        await this.reopen(gone);
        throw again;
      }
    }
    const fresh = new Map(opened.map((s) => [key(s), s]));
    this.servers.splice(0, this.servers.length, ...listen.map((l) => have.get(key(l)) ?? fresh.get(key(l))).filter((s) => s !== undefined));
    this.listen = listen;
    this.syncSecurity();
    if (!closedFirst) await closeSockets(gone, this.listenerSecurity, false);
    if (gone.length > 0 || opened.length > 0) this.log.info({ listen: listen.map(key), closed: gone.map(key), closedFirst }, 'BGP listen addresses changed');
  }

  /** Puts back listening sockets closed for a move that failed; what cannot be reopened is logged. */
  private async reopen(sockets: readonly ListenSocket[]): Promise<void> {
    for (const old of sockets) {
      const i = this.servers.indexOf(old);
      try {
        const back = await this.openListener({ address: old.address, port: old.bound });
        if (i >= 0) this.servers[i] = back;
      } catch (err) {
        if (i >= 0) this.servers.splice(i, 1);
        this.log.error({ address: old.address, port: old.bound, err: (err as Error).message }, 'cannot listen again where before after a failed move');
      }
    }
    this.syncSecurity();
  }

  /** The addresses listened on (as given to the constructor or {@link setListen}). */
  listenAddresses(): readonly ListenAddress[] {
    return this.listen;
  }

  /** The port actually bound for a listen address (useful with port 0). */
  listenPort(index = 0): number {
    const a = this.servers[index]?.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Sends CEASE to every peer, closes the sessions and the listen sockets. */
  async stop(): Promise<void> {
    this.running = false;
    for (const s of this.sessions.values()) s.stop();
    // Resolves once every CEASE NOTIFICATION has left for the kernel, which sends it even if
    // the caller exits right after.
    await Promise.all([this.closeServers(), ...[...this.sessions.values()].map((s) => s.flushed())]);
  }

  /**
   * For tests: stops as a crash of this process would (kill -9). Every connection is destroyed
   * with nothing more sent (no NOTIFICATION, so peers that help with graceful restart keep our
   * routes), the listen sockets close, timers stop. The speaker cannot be started again; make
   * a new one (with `gracefulRestart: { restarting: true }`) to play the restarted process.
   */
  async abort(): Promise<void> {
    this.running = false;
    for (const s of this.sessions.values()) s.abort();
    await this.closeServers();
  }

  private async closeServers(): Promise<void> {
    await closeSockets(this.servers.splice(0), this.listenerSecurity);
  }

  private onInbound(socket: Socket, server: Server): void {
    const remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const candidates = [...this.sessions.values()].filter((s) => s.config.address === remote);
    const session = candidates.find((s) => s.status().state !== 'Established') ?? candidates[0];
    if (!session) {
      this.log.warn({ remote, port: socket.remotePort }, 'connection from an address that is not a configured peer refused');
      socket.destroy();
      return;
    }
    // The kernel checked the TCP MD5 signature only if this listening socket has the peer's key.
    const problem = this.listenerSecurity.inboundProblem(server, session.config);
    if (problem !== undefined) {
      session.refuseInbound(socket, new TcpSecurityError(problem));
      return;
    }
    session.acceptInbound(socket);
  }

  /** TCP MD5 keys and GTSM options of the listening sockets follow the peers. */
  private syncSecurity(): void {
    this.listenerSecurity.sync([...this.sessions.values()].map((s) => s.config));
  }

  private validatePeer(cfg: PeerConfig): void {
    if (!IPV4.test(cfg.address) && !cfg.address.includes(':')) throw new SpeakerConfigError(`peer address must be an IP address, got "${cfg.address}"`);
    if (!Number.isInteger(cfg.remoteAs) || cfg.remoteAs < 1 || cfg.remoteAs > 4294967295) throw new SpeakerConfigError(`peer ${cfg.address}: remoteAs must be 1..4294967295`);
    if (cfg.localAddress !== undefined && cfg.localAddress !== null && isIP(cfg.localAddress) === 0) throw new SpeakerConfigError(`peer ${cfg.address}: localAddress must be an IP address or null, got "${cfg.localAddress}"`);
    if (cfg.port !== undefined && (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535)) throw new SpeakerConfigError(`peer ${cfg.address}: port must be 1..65535`);
    if (cfg.holdTimeS !== undefined && cfg.holdTimeS !== 0 && (cfg.holdTimeS < 3 || cfg.holdTimeS > 65535)) throw new SpeakerConfigError(`peer ${cfg.address}: holdTimeS must be 0 or 3..65535`);
    if (cfg.rrClient && this.host.clusterId === undefined) throw new SpeakerConfigError(`peer ${cfg.address}: rrClient needs the speaker's clusterId`);
    // Never the password itself in a message.
    if (cfg.password !== undefined && (typeof cfg.password !== 'string' || cfg.password.length === 0 || Buffer.byteLength(cfg.password) > TCP_MD5_MAX_KEY_BYTES)) throw new SpeakerConfigError(`peer ${cfg.address}: password must be 1..${TCP_MD5_MAX_KEY_BYTES} bytes (the TCP MD5 key limit)`);
    if (cfg.ttlSecurity !== undefined && (!Number.isInteger(cfg.ttlSecurity) || cfg.ttlSecurity < 1 || cfg.ttlSecurity > 255)) throw new SpeakerConfigError(`peer ${cfg.address}: ttlSecurity must be a hop count 1..255`);
    const key = peerKey(cfg.address, cfg.port ?? 179);
    for (const [k, s] of this.sessions) {
      // A listening socket holds one MD5 key per peer address, whatever the port.
      if (k !== key && s.config.address === cfg.address && s.config.password !== cfg.password) throw new SpeakerConfigError(`peer ${cfg.address}: password must be the same as peer ${k}'s (one TCP MD5 key per address)`);
    }
    for (const what of ['importPolicy', 'exportPolicy'] as const) {
      const policy = cfg[what];
      const err = policy === undefined ? undefined : validateRoutePolicy(policy, what);
      if (err) throw new SpeakerConfigError(`peer ${cfg.address}: ${err}`);
    }
  }

  /** Adds a peer (started at once when the speaker runs). Returns its key. */
  addPeer(cfg: PeerConfig): string {
    this.validatePeer(cfg);
    const key = peerKey(cfg.address, cfg.port ?? 179);
    if (this.sessions.has(key)) throw new SpeakerConfigError(`peer ${key} already exists`);
    const s = new PeerSession(cfg, this.host);
    this.sessions.set(key, s);
    this.syncSecurity();
    if (this.running) s.start();
    return key;
  }

  /**
   * Replaces a peer's configuration: an unchanged one is left alone; one whose only change is
   * its route-reflector role keeps its session (the role changes in place, with a route
   * refresh; a change of which side dials applies to the next connection); any other change
   * resets the session (CEASE Other Configuration Change).
   */
  updatePeer(cfg: PeerConfig): 'unchanged' | 'reset' | 'added' | 'role-changed' {
    const key = peerKey(cfg.address, cfg.port ?? 179);
    const cur = this.sessions.get(key);
    if (!cur) {
      this.addPeer(cfg);
      return 'added';
    }
    const samePolicies = sameRoutePolicy(cur.config.importPolicy, cfg.importPolicy) && sameRoutePolicy(cur.config.exportPolicy, cfg.exportPolicy);
    const withPolicies = { ...cur.config, importPolicy: cfg.importPolicy, exportPolicy: cfg.exportPolicy };
    if (sameConfig(withPolicies, cfg) && samePolicies) return 'unchanged';
    this.validatePeer(cfg);
    if (sameConfig(withPolicies, cfg)) {
      // Only the import/export rules changed: re-evaluated in place, the session stays up.
      cur.changePolicies(cfg);
      this.log.info({ peer: key }, 'peer route policy changed in place');
      return 'role-changed';
    }
    if (sameConfig({ ...withPolicies, rrClient: cfg.rrClient, description: cfg.description, passive: cfg.passive }, cfg)) {
      // Only the route-reflector role, the dialling side or the label changed: keep the session (calico#3819).
      cur.changeRole(cfg);
      for (const s of this.sessions.values()) if (s !== cur) s.reexport();
      this.log.info({ peer: key, rrClient: cfg.rrClient ?? false }, 'peer role changed in place');
      return 'role-changed';
    }
    // A new password re-keys as BIRD does: this session restarts, no other one.
    this.log.info({ peer: key, changed: changedFields(cur.config, cfg) }, 'peer configuration changed: session reset');
    cur.stop({ code: ErrorCode.CEASE, subcode: CeaseSubcode.OTHER_CONFIGURATION_CHANGE, data: new Uint8Array() });
    this.sessions.delete(key);
    this.addPeer(cfg);
    return 'reset';
  }

  /**
   * Becomes a route reflector with this cluster id, or stops being one (undefined). Sessions
   * stay up; every peer's exports are re-evaluated. Peers marked `rrClient` need a cluster id.
   */
  setClusterId(clusterId: string | undefined): void {
    if (clusterId !== undefined && !IPV4.test(clusterId)) throw new SpeakerConfigError(`clusterId must be a dotted quad, got "${clusterId}"`);
    if (clusterId === this.host.clusterId) return;
    if (clusterId === undefined) {
      const clients = [...this.sessions.entries()].filter(([, s]) => s.config.rrClient).map(([k]) => k);
      if (clients.length > 0) throw new SpeakerConfigError(`cannot stop reflecting while peers are route-reflector clients: ${clients.join(', ')}`);
    }
    this.host.clusterId = clusterId;
    this.rib.setClusterId(clusterId);
    for (const s of this.sessions.values()) s.reexport();
    this.log.info({ clusterId: clusterId ?? null }, clusterId ? 'route reflector: cluster id set' : 'no longer a route reflector');
  }

  /** The cluster id while this speaker is a route reflector. */
  get clusterId(): string | undefined {
    return this.host.clusterId;
  }

  /**
   * Sets or clears the export filter and re-evaluates what every Established peer is sent:
   * only differences go out, a withdrawal for each announced prefix the filter now rejects
   * and an announcement for each prefix it now accepts. Setting the same function again
   * re-evaluates too (as {@link reexportAll}).
   */
  setExportFilter(filter: ExportFilter | undefined): void {
    this.host.exportFilter = filter;
    for (const s of this.sessions.values()) s.refilter();
  }

  /**
   * The inputs of the export filter changed (pools, peers, …): re-evaluates every prefix for
   * every Established peer with the current filter; only differences are sent.
   */
  reexportAll(): void {
    this.setExportFilter(this.host.exportFilter);
  }

  /**
   * Our restart is over (the agent converged): OPENs sent from now on carry the Restart State
   * bit clear. Sessions already up are not touched. Idempotent.
   */
  restartComplete(): void {
    if (!this.host.gracefulRestart.restarting) return;
    this.host.gracefulRestart = { ...this.host.gracefulRestart, restarting: false };
    this.log.info({}, 'graceful restart complete: Restart State bit cleared');
  }

  /** True while our OPENs carry the Restart State bit (until {@link restartComplete}). */
  get restarting(): boolean {
    return this.host.gracefulRestart.restarting;
  }

  /** Removes a peer, sending CEASE Peer De-configured (RFC 4486). */
  removePeer(key: string): boolean {
    const s = this.sessions.get(key);
    if (!s) return false;
    s.stop({ code: ErrorCode.CEASE, subcode: CeaseSubcode.PEER_DECONFIGURED, data: new Uint8Array() });
    this.sessions.delete(key);
    this.syncSecurity();
    return true;
  }

  /** Hard-resets one peer's session (Cease Administrative Reset). */
  resetPeer(key: string): boolean {
    const s = this.sessions.get(key);
    s?.reset();
    return s !== undefined;
  }

  /** Asks a peer to resend its routes (ROUTE-REFRESH); false when it cannot. */
  refreshPeer(key: string): boolean {
    return this.sessions.get(key)?.requestRefresh() ?? false;
  }

  peers(): PeerStatus[] {
    return [...this.sessions.values()].map((s) => s.status());
  }

  peer(key: string): PeerStatus | undefined {
    return this.sessions.get(key)?.status();
  }

  /** What we announce to a peer in a family. */
  advertised(key: string, family: Family): [Prefix, PathAttributes][] {
    return this.sessions.get(key)?.advertised(family) ?? [];
  }

  /** What a peer sent in a family that its import rules rejected (not in the RIB). */
  filtered(key: string, family: Family): [Prefix, PathAttributes][] {
    return this.sessions.get(key)?.filteredRoutes(family) ?? [];
  }

  /** Originates a prefix (or changes its attributes). */
  announce(family: Family, prefix: Prefix, attrs: LocalRouteAttributes = {}): void {
    const p = canonicalPrefix(prefix);
    if (!p || p !== prefix || p.includes(':') !== (family === 'ipv6-unicast')) throw new SpeakerConfigError(`"${prefix}" is not a canonical ${family} prefix`);
    const u32 = (v: number | undefined, what: string): void => {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw new SpeakerConfigError(`${prefix}: ${what} must be an integer 0..4294967295, got ${v}`);
    };
    u32(attrs.med, 'med');
    u32(attrs.localPref, 'localPref');
    for (const c of attrs.communities ?? []) u32(c, 'community');
    for (const c of attrs.largeCommunities ?? []) {
      if (!Array.isArray(c) || c.length !== 3) throw new SpeakerConfigError(`${prefix}: a large community has 3 parts, got ${JSON.stringify(c)}`);
      for (const v of c as LargeCommunity) u32(v, 'large community part');
    }
    if (attrs.interface !== undefined && (typeof attrs.interface !== 'string' || attrs.interface === '')) throw new SpeakerConfigError(`${prefix}: interface must be a non-empty name`);
    for (const seg of attrs.asPath ?? []) for (const a of seg.asns) u32(a, 'AS number');
    const full: PathAttributes = {
      origin: attrs.origin ?? 0,
      asPath: attrs.asPath ?? [],
      med: attrs.med,
      localPref: attrs.localPref,
      communities: attrs.communities,
      largeCommunities: attrs.largeCommunities && attrs.largeCommunities.length > 0 ? attrs.largeCommunities.map((c) => [c[0], c[1], c[2]] as const) : undefined,
    };
    const key = JSON.stringify(full);
    let shared = this.localAttrs.get(key);
    if (!shared) {
      shared = Object.fromEntries(Object.entries(full).filter(([, v]) => v !== undefined));
      this.localAttrs.set(key, shared);
    }
    const ifaces = this.localInterfaces[family];
    const ifaceChanged = ifaces.get(p) !== attrs.interface;
    if (attrs.interface === undefined) ifaces.delete(p);
    else ifaces.set(p, attrs.interface);
    this.rib.update(this.local, family, p, shared);
    if (ifaceChanged) {
      // Export rules may match the interface: let every peer judge the prefix again.
      const key = family === 'ipv4-unicast' ? ipv4KeyOf(p) : undefined;
      const changes: KeyedChanges = key !== undefined ? { ipv4: [key], ipv6: [] } : { ipv4: [], ipv6: family === 'ipv6-unicast' ? [p] : [] };
      for (const s of this.sessions.values()) s.ribChanged(changes);
    }
    this.scheduleChanges();
  }

  /** Stops originating a prefix. */
  withdraw(family: Family, prefix: Prefix): void {
    this.rib.withdraw(this.local, family, prefix);
    this.localInterfaces[family].delete(prefix);
    this.scheduleChanges();
  }

  /** Prefixes this speaker originates. */
  originated(family: Family): Prefix[] {
    return this.rib.prefixesOf('local', family);
  }

  /** The best path of a prefix and why it won. */
  bestPath(family: Family, prefix: Prefix): Decision | undefined {
    return this.rib.best(family, prefix);
  }

  /** The Loc-RIB of a family. */
  routes(family: Family): RouteEntry[] {
    const out: RouteEntry[] = [];
    for (const [prefix, d] of this.rib.bestPaths(family)) out.push({ family, prefix, best: d.best, reason: d.reason, paths: this.rib.candidates(family, prefix) });
    return out;
  }

  /** Number of prefixes in the Loc-RIB. */
  routeCount(family: Family): number {
    return this.rib.size(family);
  }

  /**
   * Subscribes to best-path changes: batches of the prefixes whose best path changed, each
   * with its best path now (none when the prefix is gone). Returns the unsubscribe function.
   */
  onBestChange(listener: (changes: readonly BestChange[]) => void): () => void {
    this.bestListeners.add(listener);
    return () => this.bestListeners.delete(listener);
  }

  /** Subscribes to peer state changes; returns the unsubscribe function. */
  onPeerStatus(listener: (status: PeerStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private scheduleChanges(): void {
    if (this.changeScheduled) return;
    this.changeScheduled = true;
    setImmediate(() => {
      this.changeScheduled = false;
      if (!this.rib.hasChanges) return;
      // Nobody to tell (no peer is being sent routes, nobody listens): a full table loads
      // without turning a key into text.
      if (this.bestListeners.size === 0 && !this.anySessionSending()) {
        this.rib.discardChanges();
        return;
      }
      const keyed = this.rib.takeKeyedChanges();
      for (const s of this.sessions.values()) s.ribChanged(keyed);
      if (this.bestListeners.size === 0) return;
      const changes = changesAsText(keyed);
      const events: BestChange[] = [];
      for (const family of ['ipv4-unicast', 'ipv6-unicast'] as const) {
        for (const prefix of new Set(changes[family])) {
          const d = this.rib.best(family, prefix);
          events.push(d ? { family, prefix, best: d.best, reason: d.reason } : { family, prefix });
        }
      }
      for (const l of this.bestListeners) {
        try {
          l(events);
        } catch (err) {
          this.log.error({ err }, 'best-change listener failed');
        }
      }
    });
  }

  private anySessionSending(): boolean {
    for (const s of this.sessions.values()) if (s.sending) return true;
    return false;
  }

  private emitStatus(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    const st = s.status();
    for (const l of this.statusListeners) {
      try {
        l(st);
      } catch (err) {
        this.log.error({ err }, 'peer status listener failed');
      }
    }
  }
}

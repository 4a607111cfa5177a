/**
 * A fake BGP speaker for the agent's unit tests: it records peers and originations,
 * lets a test inject learned routes and peer states, and fires the same events as the
 * real one. No socket anywhere.
 */
import type { BestChange, ExportFilter, Family, ListenAddress, LocalRouteAttributes, PathAttributes, PathSource, PeerConfig, PeerStatus, Prefix, RouteEntry, SpeakerConfig } from '@tabby/bgp';
import { peerKey } from '@tabby/bgp';
import type { SpeakerApi } from '../src/speaker-api.js';

export function peerSource(address: string, asn: number, ibgp: boolean): PathSource {
  return { id: peerKey(address), kind: 'peer', address, asn, routerId: address.includes(':') ? '10.9.9.9' : address, ibgp, rrClient: false };
}

export function learned(prefix: string, nextHop: string, from: PathSource, extra: Partial<PathAttributes> = {}): { prefix: string; path: { attrs: PathAttributes; source: PathSource } } {
  return { prefix, path: { attrs: { origin: 0, asPath: from.ibgp ? [] : [{ type: 2, asns: [from.asn] }], nextHop, ...extra }, source: from } };
}

export class FakeSpeaker implements SpeakerApi {
  readonly peersByKey = new Map<string, PeerConfig>();
  readonly statuses = new Map<string, Partial<PeerStatus>>();
  readonly announced = new Set<string>();
  readonly announcedAttrs = new Map<string, LocalRouteAttributes>();
  readonly announceLog: string[] = [];
  /** Learned paths by prefix. */
  readonly learnedPaths = new Map<string, { attrs: PathAttributes; source: PathSource }[]>();
  filter: ExportFilter | undefined;
  filterApplications = 0;
  restartCompleted = false;
  started = false;
  stopped = false;
  clusterId: string | undefined;
  listen: readonly ListenAddress[];
  private readonly bestListeners = new Set<(c: readonly BestChange[]) => void>();
  private readonly statusListeners = new Set<(s: PeerStatus) => void>();

  constructor(readonly config: SpeakerConfig) {
    this.filter = config.exportFilter;
    this.listen = config.listen;
  }
  setListen(listen: readonly ListenAddress[]): Promise<void> {
    this.listen = listen;
    return Promise.resolve();
  }
  listenAddresses(): readonly ListenAddress[] {
    return this.listen;
  }

  start(): Promise<void> {
    this.started = true;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
  addPeer(cfg: PeerConfig): string {
    const key = peerKey(cfg.address, cfg.port ?? 179);
    this.peersByKey.set(key, cfg);
    return key;
  }
  updatePeer(cfg: PeerConfig): 'unchanged' | 'reset' | 'added' | 'role-changed' {
    const key = peerKey(cfg.address, cfg.port ?? 179);
    const had = this.peersByKey.get(key);
    this.peersByKey.set(key, cfg);
    if (!had) return 'added';
    return JSON.stringify(had) === JSON.stringify(cfg) ? 'unchanged' : 'reset';
  }
  removePeer(key: string): boolean {
    return this.peersByKey.delete(key);
  }
  resetPeer(key: string): boolean {
    return this.peersByKey.has(key);
  }
  setClusterId(clusterId: string | undefined): void {
    this.clusterId = clusterId;
  }
  peer(key: string): PeerStatus | undefined {
    return this.peers().find((p) => p.key === key);
  }
  peers(): PeerStatus[] {
    return [...this.peersByKey.entries()].map(([key, cfg]) => ({
      key,
      address: cfg.address,
      port: cfg.port ?? 179,
      remoteAs: cfg.remoteAs,
      localAs: this.config.asn,
      description: cfg.description ?? '',
      state: 'Active',
      since: 0,
      uptimeMs: 0,
      lastError: '',
      remoteRouterId: '',
      families: cfg.families ?? ['ipv4-unicast'],
      holdTimeS: 90,
      keepaliveTimeS: 30,
      counters: { 'ipv4-unicast': { received: 0, rejected: 0, advertised: 0 }, 'ipv6-unicast': { received: 0, rejected: 0, advertised: 0 } },
      messagesIn: 0,
      messagesOut: 0,
      updatesIn: 0,
      updatesOut: 0,
      flaps: 0,
      staleRoutes: 0,
      endOfRibReceived: [],
      peerGracefulRestart: true,
      ...this.statuses.get(key),
    }));
  }
  announce(family: Family, prefix: Prefix, attrs?: LocalRouteAttributes): void {
    this.announced.add(prefix);
    this.announcedAttrs.set(prefix, attrs ?? {});
    this.announceLog.push(`+${prefix}`);
    this.emitBest([{ family, prefix }]);
  }
  withdraw(family: Family, prefix: Prefix): void {
    this.announced.delete(prefix);
    this.announceLog.push(`-${prefix}`);
    this.emitBest([{ family, prefix }]);
  }
  routes(family: Family): RouteEntry[] {
    const out: RouteEntry[] = [];
    for (const [prefix, paths] of this.learnedPaths) {
      if (prefix.includes(':') !== (family === 'ipv6-unicast') || paths.length === 0) continue;
      out.push({ family, prefix, best: paths[0], reason: paths.length === 1 ? 'only-path' : 'router-id', paths });
    }
    for (const prefix of this.announced) {
      if (prefix.includes(':') !== (family === 'ipv6-unicast') || this.learnedPaths.has(prefix)) continue;
      const best = { attrs: { origin: 0 as const }, source: { id: 'local', kind: 'local' as const, address: '', asn: this.config.asn, routerId: this.config.routerId, ibgp: false, rrClient: false } };
      out.push({ family, prefix, best, reason: 'local-origin', paths: [best] });
    }
    return out;
  }
  onBestChange(listener: (changes: readonly BestChange[]) => void): () => void {
    this.bestListeners.add(listener);
    return () => this.bestListeners.delete(listener);
  }
  onPeerStatus(listener: (status: PeerStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }
  setExportFilter(filter: ExportFilter | undefined): void {
    this.filter = filter;
    this.filterApplications++;
  }
  restartComplete(): void {
    this.restartCompleted = true;
  }

  // ---- test controls ----

  /** A peer's paths arrive (best first) or go (empty list). */
  learn(prefix: string, paths: { attrs: PathAttributes; source: PathSource }[]): void {
    if (paths.length === 0) this.learnedPaths.delete(prefix);
    else this.learnedPaths.set(prefix, paths);
    this.emitBest([{ family: prefix.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast', prefix }]);
  }

  /** Changes what peer() reports and tells the listeners. */
  setStatus(key: string, status: Partial<PeerStatus>): void {
    this.statuses.set(key, { ...this.statuses.get(key), ...status });
    const s = this.peer(key);
    if (s) for (const l of this.statusListeners) l(s);
  }

  /** What the export filter says for a prefix towards a peer (the speaker's view). */
  exports(prefix: string, toPeer: string): boolean {
    const family: Family = prefix.includes(':') ? 'ipv6-unicast' : 'ipv4-unicast';
    const entry = this.routes(family).find((r) => r.prefix === prefix);
    if (!entry) return false;
    return this.filter ? this.filter(family, prefix, entry.best, toPeer) : true;
  }

  private emitBest(changes: BestChange[]): void {
    for (const l of this.bestListeners) l(changes);
  }
}

import { Speaker, type BestChange, type ExportFilter, type Family, type ListenAddress, type LocalRouteAttributes, type PeerConfig, type PeerStatus, type Prefix, type RouteEntry, type SpeakerConfig } from '@tabby/bgp';

/**
 * The part of the BGP speaker the agent uses. The agent reaches its speaker only through
 * this interface, so its logic is unit-tested against a fake (test/fakes.ts) with no socket.
 */
export interface SpeakerApi {
  start(): Promise<void>;
  stop(): Promise<void>;
  addPeer(cfg: PeerConfig): string;
  updatePeer(cfg: PeerConfig): 'unchanged' | 'reset' | 'added' | 'role-changed';
  removePeer(key: string): boolean;
  resetPeer(key: string): boolean;
  setClusterId(clusterId: string | undefined): void;
  /** Listens on these addresses instead; sessions stay up. */
  setListen(listen: readonly ListenAddress[]): Promise<void>;
  listenAddresses(): readonly ListenAddress[];
  peer(key: string): PeerStatus | undefined;
  peers(): PeerStatus[];
  /** Originates (or re-originates with new attributes) a prefix. */
  announce(family: Family, prefix: Prefix, attrs?: LocalRouteAttributes): void;
  withdraw(family: Family, prefix: Prefix): void;
  routes(family: Family): RouteEntry[];
  onBestChange(listener: (changes: readonly BestChange[]) => void): () => void;
  onPeerStatus(listener: (status: PeerStatus) => void): () => void;
  /** Applies (or re-applies, after its inputs changed) the per-prefix export filter. */
  setExportFilter(filter: ExportFilter | undefined): void;
  /** Graceful restart is over: OPENs no longer carry the Restart State bit. */
  restartComplete(): void;
}

/** Makes the node's speaker; the real one unless a test gives a fake. */
export type SpeakerFactory = (config: SpeakerConfig) => SpeakerApi;

export const realSpeaker: SpeakerFactory = (config) => new Speaker(config);

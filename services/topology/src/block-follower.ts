import { BlockEvent, BlockEventType, type Block, type IpamClient } from '@tabby/proto';
import { callUnary, dialFailureHint, isGrpcError, type EventBus, type BusSubscription, type Logger } from '@tabby/runtime';

/** NATS subject of IPAM's block events. */
export const BLOCKS_SUBJECT = 'tabby.v1.ipam.blocks';

/** One block that changed: `block` undefined when it no longer exists. */
export interface BlockChange {
  readonly cidr: string;
  readonly block: Block | undefined;
  readonly previous: Block | undefined;
}

/** Called with each batch of block changes and the block revision they bring the view to. */
export type BlockListener = (changes: readonly BlockChange[], revision: number) => void;

/** The one Ipam call the follower makes. */
export type BlockLister = Pick<IpamClient, 'listBlocks'>;

export interface BlockFollowerOptions {
  readonly client: BlockLister;
  /** Where BlockEvents arrive; without it the follower re-lists every `resyncIntervalMs`. */
  readonly bus?: EventBus;
  readonly logger: Logger;
  /** Full re-list period: the last safety net for block events lost in NATS. */
  readonly resyncIntervalMs?: number;
  /**
   * After the bus reconnects the follower lists at once and again after this pause (default
   * 2 s): a NATS cluster spreads a re-made subscription to its other servers through its
   * routes, and an event published there before that arrived is dropped.
   */
  readonly reconnectRelistDelayMs?: number;
  readonly minRetryMs?: number;
  readonly maxRetryMs?: number;
}

function sameBlock(a: Block, b: Block): boolean {
  return a.cidr === b.cidr && a.node === b.node && a.pool === b.pool;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Keeps the IPAM blocks (CIDR, affine node, pool) in memory: ListBlocks, then the dense
 * BlockEvents of `tabby.v1.ipam.blocks`. An event that skips a revision means some were
 * lost: the follower lists again and delivers the difference. Events arriving during a
 * list are held and applied after it. While IPAM is unreachable the last view stays.
 * Events published while this service had no NATS server are lost without a trace: so the
 * follower lists again whenever the bus (re)connects (see `reconnectRelistDelayMs`), and
 * every `resyncIntervalMs` whatever happens.
 */
export class BlockFollower {
  private readonly blocks = new Map<string, Block>();
  private readonly listeners = new Set<BlockListener>();
  private revisionValue = 0;
  private listedOnce = false;
  private listing: Promise<void> | undefined;
  private held: BlockEvent[] = [];
  private subscription: BusSubscription | undefined;
  private offConnected: (() => void) | undefined;
  private readonly reconnectTimers = new Set<NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: BlockFollowerOptions) {}

  /** The block revision of the view. */
  get revision(): number {
    return this.revisionValue;
  }

  /** True once the first list succeeded. */
  get synced(): boolean {
    return this.listedOnce;
  }

  onChange(listener: BlockListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every block, by CIDR. */
  list(): Block[] {
    return [...this.blocks.values()];
  }

  /** Subscribes to block events and lists; resolves once the first list succeeded (retrying). */
  async start(): Promise<void> {
    this.subscription = this.opts.bus?.subscribe(BLOCKS_SUBJECT, (payload) => this.onEvent(payload));
    this.offConnected = this.opts.bus?.onConnected(() => this.onBusConnected());
    await this.relist();
    const period = this.opts.resyncIntervalMs ?? 30_000;
    this.timer = setInterval(() => void this.relist(), period);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.subscription?.unsubscribe();
    this.offConnected?.();
    for (const t of this.reconnectTimers) clearTimeout(t);
    this.reconnectTimers.clear();
    clearInterval(this.timer);
    await this.listing;
  }

  /** The bus got a server (again): events may have been lost meanwhile; list now and once more later. */
  private onBusConnected(): void {
    if (this.stopped) return;
    this.opts.logger.info({ revision: this.revisionValue }, 'NATS (re)connected; re-listing blocks');
    void this.relist();
    const t = setTimeout(() => {
      this.reconnectTimers.delete(t);
      if (!this.stopped) void this.relist();
    }, this.opts.reconnectRelistDelayMs ?? 2000);
    t.unref();
    this.reconnectTimers.add(t);
  }

  private emit(changes: BlockChange[]): void {
    if (changes.length === 0) return;
    for (const l of this.listeners) {
      try {
        l(changes, this.revisionValue);
      } catch (err) {
        this.opts.logger.error({ err }, 'block listener failed');
      }
    }
  }

  private onEvent(payload: Uint8Array): void {
    let ev: BlockEvent;
    try {
      ev = BlockEvent.decode(payload);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'undecodable block event ignored');
      return;
    }
    if (this.listing || !this.listedOnce) {
      this.held.push(ev);
      return;
    }
    this.applyEvent(ev);
  }

  private applyEvent(ev: BlockEvent): void {
    if (ev.revision <= this.revisionValue) return;
    if (ev.revision !== this.revisionValue + 1) {
      this.opts.logger.info({ have: this.revisionValue, got: ev.revision }, 'block events missed; re-listing');
      this.held.push(ev);
      void this.relist();
      return;
    }
    this.revisionValue = ev.revision;
    const b = ev.block;
    if (!b) return;
    const previous = this.blocks.get(b.cidr);
    if (ev.type === BlockEventType.BLOCK_EVENT_TYPE_RELEASED) {
      if (!previous) return;
      this.blocks.delete(b.cidr);
      this.emit([{ cidr: b.cidr, block: undefined, previous }]);
      return;
    }
    const block = ev.type === BlockEventType.BLOCK_EVENT_TYPE_AFFINITY_RELEASED ? { ...b, node: '' } : b;
    if (previous && sameBlock(previous, block)) return;
    this.blocks.set(b.cidr, block);
    this.emit([{ cidr: b.cidr, block, previous }]);
  }

  /** Lists again (one list at a time), delivers the difference, then the held events. */
  private relist(): Promise<void> {
    this.listing ??= this.listLoop().finally(() => {
      this.listing = undefined;
      const held = this.held.sort((a, b) => a.revision - b.revision);
      this.held = [];
      for (const ev of held) this.applyEvent(ev);
    });
    return this.listing;
  }

  private async listLoop(): Promise<void> {
    let retry = this.opts.minRetryMs ?? 200;
    let failures = 0;
    while (!this.stopped) {
      try {
        const res = await callUnary(this.opts.client.listBlocks.bind(this.opts.client), { node: '' }, { timeoutMs: 30_000 });
        this.applySnapshot(res.blocks, res.revision);
        if (failures > 0) this.opts.logger.info({ revision: res.revision }, 'IPAM reachable again; blocks re-listed');
        this.listedOnce = true;
        return;
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0)
          this.opts.logger.warn(
            { err: isGrpcError(err) ? err.details : String(err), hint: isGrpcError(err) ? dialFailureHint(err.details) : undefined, attempts: failures },
            'cannot list blocks from IPAM; retrying',
          );
        await sleep(retry);
        retry = Math.min(retry * 2, this.opts.maxRetryMs ?? 5000);
      }
    }
  }

  private applySnapshot(list: readonly Block[], revision: number): void {
    if (this.listedOnce && revision < this.revisionValue) {
      // IPAM's revision went backwards: its database was replaced. Take the list as the truth.
      this.opts.logger.warn({ have: this.revisionValue, listed: revision }, 'IPAM block revision went backwards');
    }
    const changes: BlockChange[] = [];
    const seen = new Set<string>();
    for (const b of list) {
      seen.add(b.cidr);
      const previous = this.blocks.get(b.cidr);
      if (previous && sameBlock(previous, b)) continue;
      this.blocks.set(b.cidr, b);
      changes.push({ cidr: b.cidr, block: b, previous });
    }
    for (const [cidr, previous] of this.blocks) {
      if (seen.has(cidr)) continue;
      this.blocks.delete(cidr);
      changes.push({ cidr, block: undefined, previous });
    }
    this.revisionValue = revision;
    this.emit(changes);
  }
}

/**
 * One route of Tabby's in a kernel routing table. Every route Tabby writes carries its
 * protocol number and lives in its table; the dataplane never reads, changes or removes a
 * route of another protocol.
 */
export interface KernelRoute {
  /** Canonical CIDR, always with a length: `10.244.3.0/26`, `10.244.1.5/32`, `fd00:1::/122`. */
  readonly prefix: string;
  /** `blackhole` drops traffic (own affine blocks); `unicast` forwards it. */
  readonly type: 'unicast' | 'blackhole';
  /**
   * Unicast only. One entry: a plain route; several: one multipath route (BIRD's
   * `merge paths`). An entry with `dev` and no `via` is a `scope link` route to an
   * interface (a local workload's `cali…`).
   */
  readonly nextHops: readonly NextHop[];
}

export interface NextHop {
  /** Gateway address (same family as the prefix). */
  readonly via?: string;
  /** Outgoing interface. Required without `via`; filled in by the dataplane for on-link gateways. */
  readonly dev?: string;
  /** The gateway is on the link `dev` (set by the dataplane for gateways on a connected network). */
  readonly onlink?: boolean;
}

/** A route the dataplane could not program, and why (the kernel's message). */
export interface RouteFailure {
  readonly prefix: string;
  readonly error: string;
}

/** What one reconcile did. */
export interface ReconcileReport {
  readonly added: number;
  readonly changed: number;
  readonly removed: number;
  readonly unchanged: number;
  /** Routes that could not be written; every other route was still programmed. */
  readonly failed: readonly RouteFailure[];
  /** Wall time of the reconcile, milliseconds. */
  readonly ms: number;
}

export interface ReconcileOptions {
  /**
   * Remove Tabby routes that are not desired (default true). False while the agent waits
   * for BGP to converge after a restart, so nothing is withdrawn from the kernel early.
   */
  readonly prune?: boolean;
  /**
   * With `prune`: asked about each Tabby route in the table whose prefix no desired route
   * names; `true` leaves that route in place this time (not removed, not counted). The agent
   * spares routes to workload interfaces it has not learned yet (Calico's route cleanup grace
   * period). Never asked about a route for a desired prefix, nor without `prune`.
   */
  readonly spare?: (route: KernelRoute) => boolean;
}

/**
 * The node's routing table as the agent sees it. Implementations: {@link LinuxDataplane}
 * (iproute2 batches in the current network namespace) and {@link MemoryDataplane} (tests).
 */
export interface Dataplane {
  /** For logs and status: `linux table 254 proto 84`, `memory`. */
  readonly description: string;
  /** Tabby's routes in the table now. */
  list(): Promise<KernelRoute[]>;
  /**
   * Makes Tabby's routes in the table equal to `desired`: adds missing ones, replaces
   * changed ones, removes stale ones (unless `prune` is false) and leaves equal ones alone.
   * A route that fails is reported and the rest are still written; it never throws for
   * one bad route (only when the table cannot be read at all).
   */
  reconcile(desired: readonly KernelRoute[], options?: ReconcileOptions): Promise<ReconcileReport>;
  /** Names of the network interfaces that exist now (to route to a workload once its `cali…` exists). */
  links(): Promise<ReadonlySet<string>>;
  close(): Promise<void>;
}

/**
 * Where the dataplane logs (optional): pino's `Logger` fits, as does any object with these
 * three methods. Reconciles that write something log at info, failures at warn, the rest at debug.
 */
export interface DataplaneLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

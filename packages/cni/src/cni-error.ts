/**
 * CNI errors as the specification (1.1.0, "Error") defines them: a numeric code, a short
 * message and details, printed as JSON on stdout with a non-zero exit. Codes 1-99 are the
 * specification's (50 and 51 answer STATUS); 100 and up are tabby-cni's own, one per failure
 * a runtime or an operator may want to tell apart.
 */

/** The specification's well-known error codes and tabby-cni's own (100+). */
export const CniCode = {
  /** The runtime asked for a CNI version tabby-cni does not speak (or CHECK below 0.4.0). */
  IncompatibleVersion: 1,
  /** A network config field tabby-cni does not support; the message names key and value. */
  UnsupportedField: 2,
  /** The container (its network namespace) does not exist; nothing was done. */
  UnknownContainer: 3,
  /** A CNI_* environment variable is missing or malformed (CNI_ARGS included). */
  InvalidEnvironment: 4,
  /** Reading stdin or another I/O failed. */
  IoFailure: 5,
  /** stdin is not JSON. */
  DecodingFailure: 6,
  /** The network config is invalid (missing or wrong values). */
  InvalidNetworkConfig: 7,
  /** Transient: tabby-ipam or tabby-store is unreachable or busy; the runtime should retry. */
  TryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADD (tabby-ipam or tabby-store not answering, the Node missing). */
  NotAvailable: 50,
  /** STATUS: not available, and existing containers of the network may have limited connectivity. */
  NotAvailableLimitedConnectivity: 51,
  /** An unexpected failure (a bug, or an answer tabby-cni does not understand). */
  Internal: 100,
  /** IPAM has no address left in the pools it may use (pool exhausted, per-node block limit). */
  AddressesExhausted: 101,
  /** No usable pool: a pool named in the config or annotation is unknown or disabled, or no pool selects the node. */
  PoolUnusable: 102,
  /** The node (nodename) has no Node resource in tabby-store. */
  UnknownNode: 103,
  /** tabby-ipam or tabby-store refused the request as invalid. */
  Refused: 104,
  /** Setting up or tearing down the interfaces, addresses, routes or sysctls failed. */
  DataplaneFailure: 105,
  /** The container already has an interface named CNI_IFNAME that tabby-cni did not make. */
  InterfaceTaken: 106,
  /** CHECK found the container's networking not as ADD left it. */
  CheckFailed: 107,
  /** Under a test, the plugin would have changed the machine's own network namespace. */
  NamespaceGuard: 108,
} as const;

export type CniCodeName = keyof typeof CniCode;
export type CniCodeValue = (typeof CniCode)[CniCodeName];

/** One line per code, for the README and `--help`-like listings. */
export const CNI_CODE_TABLE: readonly { readonly code: number; readonly name: CniCodeName }[] = (Object.entries(CniCode) as [CniCodeName, number][]).map(
  ([name, code]) => ({ code, name }),
);

/** A failure to report to the runtime as the specification's error JSON. */
export class CniError extends Error {
  override readonly name: string = 'CniError';
  constructor(
    /** The CNI error code (not `code`: that name is what grpc-js and Node give their own errors). */
    readonly cniCode: CniCodeValue,
    message: string,
    /** Longer text for the `details` field: what was tried, what to do. */
    readonly details = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Type guard for {@link CniError}. */
export function isCniError(err: unknown): err is CniError {
  return err instanceof CniError;
}

/** The error JSON of the specification: `{cniVersion, code, msg, details}`. */
export interface CniErrorJson {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

/** The error JSON for any thrown value; anything that is not a {@link CniError} is {@link CniCode.Internal}. */
export function errorJson(err: unknown, cniVersion: string): CniErrorJson {
  if (isCniError(err)) return { cniVersion, code: err.cniCode, msg: err.message, ...(err.details ? { details: err.details } : {}) };
  const msg = err instanceof Error ? err.message : String(err);
  return { cniVersion, code: CniCode.Internal, msg: `internal error: ${msg}`, ...(err instanceof Error && err.stack ? { details: err.stack } : {}) };
}

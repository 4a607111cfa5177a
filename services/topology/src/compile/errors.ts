/**
 * Errors of the compiler's queries. Each carries a `reason` from the runtime's closed set,
 * so the service maps it to a gRPC status through the one mapper (toGrpcStatus).
 */

/** No Node resource has this name. Validation class: shown to the user. */
export class UnknownNodeError extends Error {
  override readonly name = 'UnknownNodeError';
  readonly reason = 'not-found' as const;
  constructor(readonly node: string) {
    super(`node ${node} does not exist (there is no Node resource named ${JSON.stringify(node)})`);
  }
}

export function isUnknownNodeError(err: unknown): err is UnknownNodeError {
  return err instanceof UnknownNodeError;
}

/** A peer given to Explain is neither an address nor a node. Validation class. */
export class BadPeerError extends Error {
  override readonly name = 'BadPeerError';
  readonly reason = 'invalid-argument' as const;
  constructor(readonly peer: string) {
    super(`peer ${JSON.stringify(peer)} is neither an address (10.0.0.2, 10.0.0.2:1790, [fd00::2]:1790) nor a node name`);
  }
}

export function isBadPeerError(err: unknown): err is BadPeerError {
  return err instanceof BadPeerError;
}

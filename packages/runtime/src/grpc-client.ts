import { Metadata, status, type CallOptions, type ChannelCredentials, type ClientUnaryCall, type ServiceError as GrpcServiceError } from '@grpc/grpc-js';

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: GrpcServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export interface CallOpts {
  /** Deadline from now, in milliseconds. */
  readonly timeoutMs?: number;
  readonly metadata?: Metadata;
}

/** Calls a ts-proto grpc-js unary method (bound to its client) as a promise. */
export function callUnary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, opts: CallOpts = {}): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const options: Partial<CallOptions> = opts.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {};
    method(request, opts.metadata ?? new Metadata(), options, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Type guard for an error received from a gRPC call. */
export function isGrpcError(err: unknown): err is GrpcServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}

/** True when a call failed because the server could not be reached (or is going away). */
export function isUnreachable(err: unknown): boolean {
  return isGrpcError(err) && (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED);
}

/** Channel options every Tabby client uses: keepalives so dead peers are noticed, fast reconnects. */
export const CLIENT_CHANNEL_OPTIONS = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
} as const;

export type { ChannelCredentials };

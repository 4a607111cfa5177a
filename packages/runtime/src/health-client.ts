import { loadPackageDefinition, type ChannelCredentials, type Client, type ServiceError as GrpcServiceError } from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import type * as HealthCheck from 'grpc-health-check';
import { CLIENT_CHANNEL_OPTIONS } from './grpc-client.js';
import { lazy } from './lazy.js';

const protoLoader = lazy<typeof ProtoLoader>('@grpc/proto-loader');
const healthCheck = lazy<typeof HealthCheck>('grpc-health-check');

/** What `grpc.health.v1.Health/Check` answers for a service. */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

type HealthClient = Client & {
  check(req: { service: string }, opts: { deadline: number }, cb: (err: GrpcServiceError | null, res?: { status: HealthStatus }) => void): void;
};
type HealthClientCtor = new (address: string, creds: ChannelCredentials, options: Record<string, unknown>) => HealthClient;

let ctor: HealthClientCtor | undefined;

function healthClientCtor(): HealthClientCtor {
  if (!ctor) {
    const def = loadPackageDefinition(protoLoader().loadSync(healthCheck().protoPath, { keepCase: true, enums: String, defaults: true }));
    ctor = (def.grpc as unknown as { health: { v1: { Health: HealthClientCtor } } }).health.v1.Health;
  }
  return ctor;
}

/**
 * Asks a gRPC server's `grpc.health.v1.Health/Check` how `service` is ("" = the whole
 * server). Rejects with the gRPC error when the server cannot be reached or answers with one
 * (NOT_FOUND for a service it does not know).
 */
export async function checkHealth(address: string, creds: ChannelCredentials, opts: { service?: string; timeoutMs: number }): Promise<HealthStatus> {
  const Health = healthClientCtor();
  const client = new Health(address, creds, { ...CLIENT_CHANNEL_OPTIONS, 'grpc.max_reconnect_backoff_ms': 1000 });
  try {
    return await new Promise<HealthStatus>((resolve, reject) => {
      client.check({ service: opts.service ?? '' }, { deadline: Date.now() + opts.timeoutMs }, (err, res) => (err ? reject(err) : resolve(res?.status ?? 'UNKNOWN')));
    });
  } finally {
    client.close();
  }
}

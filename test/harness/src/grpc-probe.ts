import { createRequire } from 'node:module';
import path from 'node:path';
import { credentials, loadPackageDefinition, type ChannelCredentials, type Client, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

function protoPath(pkg: string, rel: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), rel);
}

type ReflectionVersion = 'v1' | 'v1alpha';

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

type ReflectionClient = Client & {
  ServerReflectionInfo(): ClientDuplexStream<Record<string, unknown>, ReflectionResponse>;
};

function reflectionClient(address: string, version: ReflectionVersion, creds: ChannelCredentials): ReflectionClient {
  const file = protoPath('@grpc/reflection', `build/proto/grpc/reflection/${version}/reflection.proto`);
  const def = loadPackageDefinition(loadSync(file, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true }));
  const ns = (def.grpc as unknown as Record<string, Record<string, Record<string, new (a: string, c: ChannelCredentials) => ReflectionClient>>>).reflection[version];
  return new ns.ServerReflection(address, creds);
}

async function reflect(address: string, version: ReflectionVersion, request: Record<string, unknown>, creds: ChannelCredentials): Promise<ReflectionResponse> {
  const client = reflectionClient(address, version, creds);
  try {
    return await new Promise<ReflectionResponse>((resolve, reject) => {
      const call = client.ServerReflectionInfo();
      call.on('data', (r: ReflectionResponse) => {
        resolve(r);
        call.end();
      });
      call.on('error', (e: ServiceError) => reject(e));
      call.write(request);
    });
  } finally {
    client.close();
  }
}

/** The services a server lists through gRPC server reflection (what `grpcurl list` prints). */
export async function listServicesByReflection(address: string, version: ReflectionVersion = 'v1alpha', creds = credentials.createInsecure()): Promise<string[]> {
  const r = await reflect(address, version, { listServices: '*' }, creds);
  if (r.errorResponse) throw new Error(`reflection error ${r.errorResponse.errorCode}: ${r.errorResponse.errorMessage}`);
  return (r.listServicesResponse?.service ?? []).map((s) => s.name).sort();
}

/** Serialized FileDescriptorProtos of the file defining `symbol` (what `grpcurl describe` reads). */
export async function fileContainingSymbol(address: string, symbol: string, version: ReflectionVersion = 'v1alpha', creds = credentials.createInsecure()): Promise<Buffer[]> {
  const r = await reflect(address, version, { fileContainingSymbol: symbol }, creds);
  if (r.errorResponse) throw new Error(`reflection error ${r.errorResponse.errorCode}: ${r.errorResponse.errorMessage}`);
  return r.fileDescriptorResponse?.fileDescriptorProto ?? [];
}

/** Calls grpc.health.v1.Health/Check; resolves with the status name (SERVING, NOT_SERVING, ...). */
export async function healthCheck(address: string, service = '', creds = credentials.createInsecure()): Promise<string> {
  const file = protoPath('grpc-health-check', 'proto/health/v1/health.proto');
  const def = loadPackageDefinition(loadSync(file, { enums: String, defaults: true }));
  type HealthClient = Client & { Check(req: { service: string }, cb: (e: ServiceError | null, r: { status: string }) => void): void };
  const Ctor = (def.grpc as unknown as Record<string, Record<string, Record<string, new (a: string, c: ChannelCredentials) => HealthClient>>>).health.v1.Health;
  const client = new Ctor(address, creds);
  try {
    return await new Promise<string>((resolve, reject) => client.Check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))));
  } finally {
    client.close();
  }
}

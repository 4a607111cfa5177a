/**
 * How tabbyctl tells "the service could not be reached" from "the service answered that its
 * own backend is unreachable", over real gRPC on loopback: a store whose etcd refuses
 * connections answers UNAVAILABLE with etcd's "ECONNREFUSED" in its message; that is the
 * store's message to print, not "cannot reach the Tabby store".
 */
import { Server, ServerCredentials, credentials, makeGenericClientConstructor, status, type Metadata, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { ServiceError as TabbyServiceError, toGrpcStatus } from '@tabby/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callService, type ServiceTarget } from '../src/service-call.js';

const passThrough = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const definition: ServiceDefinition = {
  get: { path: '/test.Store/Get', requestStream: false, responseStream: false, requestSerialize: passThrough.serialize, requestDeserialize: passThrough.deserialize, responseSerialize: passThrough.serialize, responseDeserialize: passThrough.deserialize },
};
const TARGET: ServiceTarget = { what: 'store', bin: 'tabby-store', flag: '--store', env: 'TABBY_STORE_ADDR' };
const Client = makeGenericClientConstructor(definition, 'Store');
type GetMethod = (req: Buffer, md: Metadata, opts: object, cb: (err: ServiceError | null, res: Buffer) => void) => never;

const server = new Server();
let address = '';

beforeAll(async () => {
  server.addService(definition, {
    get: (_call: unknown, cb: (err: Partial<ServiceError> | null) => void) => {
      cb(toGrpcStatus(new TabbyServiceError('unavailable', 'cannot read Node(nosuch): etcd at http://127.0.0.1:2379 is unavailable (14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379); retry when it is back')));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server.forceShutdown();
});

function get(at: string): Promise<unknown> {
  const client = new Client(at, credentials.createInsecure());
  const method: GetMethod = (client as unknown as { get: GetMethod }).get.bind(client);
  return callService(method, Buffer.alloc(0), { address: at, target: TARGET, timeoutMs: 5_000 }, (message, code) => Object.assign(new Error(message), { code })).finally(() => client.close());
}

describe('callService', () => {
  it("prints the service's own UNAVAILABLE message, even when it names a refused connection", async () => {
    const err = (await get(address).catch((e: unknown) => e)) as Error & { code?: number };
    expect(err.message).toMatch(/^cannot read Node\(nosuch\): etcd at http:\/\/127\.0\.0\.1:2379 is unavailable/);
    expect(err.code).toBe(status.UNAVAILABLE);
  });

  it('says the service cannot be reached when nothing listens at its address', async () => {
    const free = await new Promise<string>((resolve) => {
      const s = new Server();
      s.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (_e, p) => {
        s.forceShutdown();
        resolve(`127.0.0.1:${p}`);
      });
    });
    const err = (await get(free).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(`cannot reach the Tabby store at ${free} (connection refused; is tabby-store running? Set the address with --store or TABBY_STORE_ADDR)`);
  });
});

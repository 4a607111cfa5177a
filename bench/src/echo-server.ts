/**
 * The baseline for bench/store: a bare grpc-js server offering ResourceStore.Get with a
 * fixed answer, no logging, no storage. What it reaches is the ceiling grpc-js itself sets
 * on this machine for the same client and call pattern.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { ResourceStoreService, type GetRequest, type GetResponse } from '@tabby/proto';

const answer: GetResponse = { resource: undefined };
const server = new Server();
const get = (_call: ServerUnaryCall<GetRequest, GetResponse>, cb: sendUnaryData<GetResponse>): void => cb(null, answer);
server.addService(ResourceStoreService, { get });
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`{"msg":"gRPC listening","address":"127.0.0.1:${port}"}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));

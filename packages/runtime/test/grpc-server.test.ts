/**
 * GrpcServer over real loopback gRPC: errors through the one mapper, per-call logs and
 * metrics, health and reflection, draining with UNAVAILABLE, and TLS/mTLS with real
 * certificates.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { credentials, status, type ChannelCredentials } from '@grpc/grpc-js';
import { ResourceStoreClient, ResourceStoreService, loadDescriptorSet, type ResourceStoreServer } from '@tabby/proto';
import { healthCheck, listServicesByReflection, makeCerts, tempDir } from '@tabby/harness';
import {
  GrpcServer,
  ServiceError,
  callUnary,
  channelCredentials,
  createLogger,
  createMetrics,
  type AsyncServiceImplementation,
  type ServerTlsFiles,
} from '../src/index.js';
import { logSink } from './log-sink.js';


const impl: AsyncServiceImplementation<ResourceStoreServer> = {
  create: () => Promise.reject(new ServiceError('already-exists', 'resource already exists: IPPool(a)')),
  update: () => Promise.reject(new TypeError('a bug with a secret')),
  apply: () => new Promise((resolve) => setTimeout(() => resolve({ resource: undefined, created: true }), 300)),
  applyBatch: () => Promise.resolve({ results: [] }),
  delete: () => Promise.resolve({ resource: undefined, overriddenFinalizers: [] }),
  get: (req) => (req.name === 'x' ? Promise.resolve({ resource: undefined }) : Promise.reject(new ServiceError('not-found', `no ${req.name}`))),
  list: () => Promise.resolve({ items: [], revision: 42 }),
  info: () => Promise.resolve({ version: 'test', clusterType: 'test', clusterGuid: '', revision: 0 }),
  addFinalizer: () => Promise.resolve({ resource: undefined, changed: false }),
  removeFinalizer: () => Promise.resolve({ resource: undefined, changed: false }),
  watch: (_call, signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
};

let servers: GrpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.shutdown(100)));
  servers = [];
});

async function serve(tls?: ServerTlsFiles) {
  const sink = logSink();
  const logger = createLogger({ service: 'test', level: 'info', destination: sink.stream });
  const metrics = createMetrics('test');
  const server = new GrpcServer({ logger, metrics, tls, descriptorSets: [loadDescriptorSet()] });
  server.addService('tabby.v1.ResourceStore', ResourceStoreService, impl);
  const port = await server.listen({ host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  server.setServing(true);
  servers.push(server);
  return { server, address: `127.0.0.1:${port}`, sink, metrics };
}

function client(address: string, creds: ChannelCredentials = credentials.createInsecure()) {
  return new ResourceStoreClient(address, creds, { 'grpc.ssl_target_name_override': 'localhost' });
}

async function code(p: Promise<unknown>): Promise<[number | undefined, string | undefined]> {
  try {
    await p;
    return [status.OK, undefined];
  } catch (err) {
    const e = err as { code?: number; details?: string };
    return [e.code, e.details];
  }
}

describe('GrpcServer', () => {
  it('maps errors to statuses, hides internal ones, and logs and counts every call', async () => {
    const { address, sink, metrics } = await serve();
    const c = client(address);
    expect(await code(callUnary(c.create.bind(c), { resource: undefined }))).toEqual([status.ALREADY_EXISTS, 'resource already exists: IPPool(a)']);
    expect(await code(callUnary(c.update.bind(c), { resource: undefined }))).toEqual([status.INTERNAL, 'internal error (see the service log)']);
    expect(await callUnary(c.list.bind(c), { kind: 'x', namespace: '', labelSelector: '' })).toEqual({ items: [], revision: 42 });
    c.close();
    const logs = sink.lines().filter((l) => l.method !== undefined);
    expect(logs.map((l) => [l.method, l.code, l.level])).toEqual([
      ['/tabby.v1.ResourceStore/Create', 'ALREADY_EXISTS', 'warn'],
      ['/tabby.v1.ResourceStore/Update', 'INTERNAL', 'error'],
      ['/tabby.v1.ResourceStore/List', 'OK', 'info'],
    ]);
    expect(typeof logs[0].ms).toBe('number');
    expect(JSON.stringify(logs[1])).toContain('a bug with a secret');
    const text = await metrics.registry.metrics();
    expect(text).toContain('tabby_grpc_server_handled_total{method="/tabby.v1.ResourceStore/Update",code="INTERNAL",service="test"} 1');
    expect(text).toMatch(/tabby_grpc_server_handling_seconds_count\{service="test",method="\/tabby\.v1\.ResourceStore\/List"\} 1/);
  });

  it('offers health and reflection, including the health service itself', async () => {
    const { address, server } = await serve();
    expect(await listServicesByReflection(address)).toEqual(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection', 'tabby.v1.ResourceStore']);
    expect(await healthCheck(address, 'tabby.v1.ResourceStore')).toBe('SERVING');
    server.setServing(false);
    expect(await healthCheck(address)).toBe('NOT_SERVING');
  });

  it('lets calls in flight finish, refuses new ones with UNAVAILABLE and ends streams when shutting down', async () => {
    const { address, server } = await serve();
    const c = client(address);
    const stream = c.watch({ kind: '', namespace: '', fromRevision: 0, bookmarkIntervalSeconds: 0, fromZero: false });
    const streamEnd = new Promise<number | undefined>((resolve) => {
      stream.on('error', (e: { code?: number }) => resolve(e.code));
      stream.on('end', () => resolve(status.OK));
    });
    stream.on('data', () => undefined);
    const slow = callUnary(c.apply.bind(c), { resource: undefined });
    await new Promise((r) => setTimeout(r, 100));
    const stopping = server.shutdown(2000);
    expect(server.draining).toBe(true);
    expect(await slow).toEqual({ resource: undefined, created: true });
    expect(await streamEnd).toBe(status.UNAVAILABLE);
    await stopping;
    c.close();
  });

  it('serves TLS, and with a client CA requires a client certificate from that CA', async () => {
    const dir = tempDir('tabby-tls-');
    try {
      const certs = makeCerts(dir.path);
      const tls = await serve({ cert: certs.serverCert, key: certs.serverKey });
      const ok = client(tls.address, channelCredentials({ ca: certs.ca }));
      expect(await code(callUnary(ok.get.bind(ok), { kind: 'x', namespace: '', name: 'x' }))).toEqual([status.OK, undefined]);
      ok.close();
      const plain = client(tls.address);
      expect((await code(callUnary(plain.get.bind(plain), { kind: 'x', namespace: '', name: 'x' }, { timeoutMs: 2000 })))[0]).toBe(status.UNAVAILABLE);
      plain.close();

      const mtls = await serve({ cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca });
      const good = client(mtls.address, channelCredentials({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey }));
      expect((await code(callUnary(good.get.bind(good), { kind: 'x', namespace: '', name: 'x' })))[0]).toBe(status.OK);
      good.close();
      for (const creds of [channelCredentials({ ca: certs.ca }), channelCredentials({ ca: certs.ca, cert: certs.rogueCert, key: certs.rogueKey })]) {
        const bad = client(mtls.address, creds);
        expect((await code(callUnary(bad.get.bind(bad), { kind: 'x', namespace: '', name: 'x' }, { timeoutMs: 2000 })))[0]).toBe(status.UNAVAILABLE);
        bad.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('refuses half a TLS configuration with a clear error', () => {
    const logger = createLogger({ service: 'test', level: 'silent' });
    const s = new GrpcServer({ logger, metrics: createMetrics('t'), tls: { cert: '/nonexistent.pem' }, descriptorSets: [] });
    return expect(s.listen({ host: '127.0.0.1', port: 0, text: '127.0.0.1:0' })).rejects.toThrow('TLS needs both --tls-cert and --tls-key');
  });
});

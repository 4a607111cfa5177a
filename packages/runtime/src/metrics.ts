import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type * as PromClient from 'prom-client';
import type { Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';
import { lazy } from './lazy.js';

const promClient = lazy<typeof PromClient>('prom-client');

/** A service's Prometheus registry and the RPC instruments every gRPC server records. */
export interface ServiceMetrics {
  readonly registry: Registry;
  readonly rpcTotal: Counter<'method' | 'code'>;
  readonly rpcDuration: Histogram<'method'>;
  readonly rpcInFlight: Counter<'method'>;
}

/** A new registry (never the global one) with process metrics and RPC instruments. */
export function createMetrics(service: string): ServiceMetrics {
  const { Counter, Histogram, Registry, collectDefaultMetrics } = promClient();
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'tabby_' });
  const rpcTotal = new Counter({
    name: 'tabby_grpc_server_handled_total',
    help: 'gRPC calls completed, by full method and status code name',
    labelNames: ['method', 'code'] as const,
    registers: [registry],
  });
  const rpcDuration = new Histogram({
    name: 'tabby_grpc_server_handling_seconds',
    help: 'Time from receiving a gRPC call to sending its status',
    labelNames: ['method'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const rpcInFlight = new Counter({
    name: 'tabby_grpc_server_started_total',
    help: 'gRPC calls started, by full method',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  return { registry, rpcTotal, rpcDuration, rpcInFlight };
}

/** Serves `GET /metrics` (Prometheus text format) on the address; resolves once listening. */
export async function startMetricsServer(address: HostPort, registry: Registry, logger: Logger): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          logger.error({ err }, 'collecting metrics failed');
          res.writeHead(500).end();
        });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
  });
  server.listen(address.port, address.host);
  await once(server, 'listening');
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : address.port;
  logger.info({ address: `${address.host}:${port}` }, 'metrics listening');
  return { server, port };
}

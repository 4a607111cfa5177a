import {
  Server,
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import type * as Reflection from '@grpc/reflection';
import type * as HealthCheck from 'grpc-health-check';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from 'pino';
import type { HostPort } from './config.js';
import { toGrpcStatus } from './errors.js';
import { lazy } from './lazy.js';
import type { ServiceMetrics } from './metrics.js';

const protoLoader = lazy<typeof ProtoLoader>('@grpc/proto-loader');
const reflection = lazy<typeof Reflection>('@grpc/reflection');
const healthCheck = lazy<typeof HealthCheck>('grpc-health-check');
import { serverCredentials, type ServerTlsFiles } from './tls.js';

/** An async unary handler: return the response or throw a reasoned error. */
export type UnaryHandler<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>;

/**
 * An async server-streaming handler: write responses to `call`, resolve when the stream
 * is complete (the server then ends it) or throw to end it with an error status. `signal`
 * aborts when the client goes away or the server shuts down.
 */
export type ServerStreamHandler<Req, Res> = (call: ServerWritableStream<Req, Res>, signal: AbortSignal) => Promise<void>;

/** The async form of a ts-proto grpc-js server interface. */
export type AsyncServiceImplementation<S> = {
  [K in keyof S as string extends K ? never : K]: S[K] extends handleUnaryCall<infer Req, infer Res>
    ? UnaryHandler<Req, Res>
    : S[K] extends handleServerStreamingCall<infer Req, infer Res>
      ? ServerStreamHandler<Req, Res>
      : never;
};

export interface GrpcServerOptions {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly tls?: ServerTlsFiles;
  /** Binary FileDescriptorSets of the services offered, for server reflection. */
  readonly descriptorSets: readonly Buffer[];
  /** Log level for calls that succeed (failures log at warn, internal errors at error). */
  readonly callLogLevel?: 'info' | 'debug';
}

const require = createRequire(import.meta.url);
const reflectionProtoDir = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');

/**
 * The package definitions merged for ReflectionService, keeping one message/enum entry per
 * list of file descriptors (services carry none and are found in the files). proto-loader
 * gives every type of one load the same list, and ReflectionService decodes the list of
 * every entry it is handed: with all of Tabby's types that was 0.5–1.5 s of CPU at each
 * server start. The files it indexes, and so every reflection answer, are the same.
 */
function oneEntryPerFileSet(defs: readonly ProtoLoader.PackageDefinition[]): ProtoLoader.PackageDefinition {
  const out: ProtoLoader.PackageDefinition = {};
  const seen = new Set<unknown>();
  for (const def of defs) {
    for (const [name, entry] of Object.entries(def)) {
      const files = 'fileDescriptorProtos' in entry ? entry.fileDescriptorProtos : undefined;
      if (files === undefined || seen.has(files)) continue;
      seen.add(files);
      out[name] = entry;
    }
  }
  return out;
}

const codeName: Record<number, string> = Object.fromEntries(Object.entries(status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k]));

/**
 * A grpc-js server with what every Tabby service needs: `grpc.health.v1` health,
 * server reflection (v1 and v1alpha, so `grpcurl list/describe` work), one log line and
 * metrics per call, errors mapped to status through {@link toGrpcStatus}, optional
 * TLS/mTLS, and a graceful shutdown that refuses new calls with UNAVAILABLE.
 */
export class GrpcServer {
  private readonly server = new Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  private readonly health = new (healthCheck().HealthImplementation)({ '': 'NOT_SERVING' });
  private readonly serviceNames: string[] = [];
  private readonly shutdownController = new AbortController();
  private boundPort: number | undefined;

  constructor(private readonly opts: GrpcServerOptions) {}

  /** True once shutdown began: new calls get UNAVAILABLE. */
  get draining(): boolean {
    return this.shutdownController.signal.aborted;
  }

  /** Aborts when shutdown begins (long-running streams end themselves). */
  get shutdownSignal(): AbortSignal {
    return this.shutdownController.signal;
  }

  /** The port bound by {@link listen}. */
  get port(): number {
    if (this.boundPort === undefined) throw new Error('server is not listening');
    return this.boundPort;
  }

  /**
   * Adds a service. `name` is its full name (`tabby.v1.ResourceStore`) for the health
   * service. Handlers are wrapped for logging, metrics, error mapping and draining.
   */
  addService<S>(name: string, definition: ServiceDefinition, implementation: AsyncServiceImplementation<S>): void {
    const impl: UntypedServiceImplementation = {};
    const handlers = implementation as Record<string, unknown>;
    for (const [key, method] of Object.entries(definition)) {
      const handler = handlers[key];
      if (typeof handler !== 'function') throw new Error(`service ${name} has no handler for ${key}`);
      if (method.requestStream) throw new Error(`${name}.${key}: client streaming is not supported by GrpcServer`);
      impl[key] = method.responseStream
        ? this.wrapServerStream(method.path, handler as ServerStreamHandler<unknown, unknown>)
        : this.wrapUnary(method.path, handler as UnaryHandler<unknown, unknown>);
    }
    this.server.addService(definition, impl);
    this.serviceNames.push(name);
  }

  /** Marks the server (and each service) SERVING or NOT_SERVING in the health service. */
  setServing(serving: boolean): void {
    const s = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', s);
    for (const n of this.serviceNames) this.health.setStatus(n, s);
  }

  /** Adds health and reflection, binds the address and resolves with the bound port. */
  async listen(address: HostPort): Promise<number> {
    this.health.addToServer(this.server);
    const reflectionDefs: ProtoLoader.PackageDefinition[] = this.opts.descriptorSets.map((b) => protoLoader().loadFileDescriptorSetFromBuffer(b));
    reflectionDefs.push(protoLoader().loadSync(healthCheck().protoPath));
    // List the reflection services too, as grpcurl shows them for Go servers.
    reflectionDefs.push(
      protoLoader().loadSync(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], { includeDirs: [reflectionProtoDir] }),
    );
    // List only what this server serves (the descriptor set holds every Tabby service).
    const served = [...this.serviceNames, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
    new (reflection().ReflectionService)(oneEntryPerFileSet(reflectionDefs), { services: served }).addToServer(this.server);
    const creds = serverCredentials(this.opts.tls ?? {});
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address.text, creds, (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.boundPort = port;
    this.opts.logger.info({ address: `${address.host}:${port}`, tls: Boolean(this.opts.tls?.cert), mtls: Boolean(this.opts.tls?.clientCa) }, 'gRPC listening');
    return port;
  }

  /**
   * Stops taking calls (UNAVAILABLE), ends streams, waits up to `graceMs` for calls in
   * flight, then forces the rest closed.
   */
  async shutdown(graceMs = 5000): Promise<void> {
    if (!this.draining) this.shutdownController.abort();
    this.setServing(false);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.opts.logger.warn({ graceMs }, 'gRPC calls still running after the grace period; closing them');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private record(method: string, code: status, started: bigint, err?: unknown): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const name = codeName[code] ?? String(code);
    this.opts.metrics.rpcTotal.inc({ method, code: name });
    this.opts.metrics.rpcDuration.observe({ method }, seconds);
    const fields = { method, code: name, ms: Math.round(seconds * 1e6) / 1e3 };
    if (code === status.OK || code === status.CANCELLED) this.opts.logger[this.opts.callLogLevel ?? 'info'](fields, 'rpc');
    else if (code === status.INTERNAL || code === status.UNKNOWN) this.opts.logger.error({ ...fields, err }, 'rpc failed');
    else this.opts.logger.warn({ ...fields, error: err instanceof Error ? err.message : undefined }, 'rpc');
  }

  private wrapUnary(method: string, handler: UnaryHandler<unknown, unknown>): handleUnaryCall<unknown, unknown> {
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const started = process.hrtime.bigint();
      this.opts.metrics.rpcInFlight.inc({ method });
      if (this.draining) {
        this.record(method, status.UNAVAILABLE, started);
        callback({ code: status.UNAVAILABLE, details: 'server is shutting down' });
        return;
      }
      let result: Promise<unknown>;
      try {
        result = handler(call.request, call);
      } catch (err) {
        result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      result.then(
        (response) => {
          this.record(method, status.OK, started);
          callback(null, response);
        },
        (err: unknown) => {
          const st = toGrpcStatus(err);
          this.record(method, st.code, started, err);
          callback(st);
        },
      );
    };
  }

  private wrapServerStream(method: string, handler: ServerStreamHandler<unknown, unknown>): handleServerStreamingCall<unknown, unknown> {
    return (call: ServerWritableStream<unknown, unknown>) => {
      const started = process.hrtime.bigint();
      this.opts.metrics.rpcInFlight.inc({ method });
      if (this.draining) {
        this.record(method, status.UNAVAILABLE, started);
        call.emit('error', { code: status.UNAVAILABLE, details: 'server is shutting down' });
        return;
      }
      const controller = new AbortController();
      const onShutdown = (): void => controller.abort(new Error('server is shutting down'));
      this.shutdownController.signal.addEventListener('abort', onShutdown, { once: true });
      call.on('cancelled', () => controller.abort(new Error('cancelled by the client')));
      let result: Promise<void>;
      try {
        result = handler(call, controller.signal);
      } catch (err) {
        result = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      result
        .then(
          () => {
            if (call.cancelled) {
              this.record(method, status.CANCELLED, started);
              return;
            }
            if (this.draining) {
              this.record(method, status.UNAVAILABLE, started);
              call.emit('error', { code: status.UNAVAILABLE, details: 'server is shutting down; reconnect and resume' });
              return;
            }
            this.record(method, status.OK, started);
            call.end();
          },
          (err: unknown) => {
            const st = toGrpcStatus(err);
            this.record(method, call.cancelled ? status.CANCELLED : st.code, started, err);
            if (!call.cancelled) call.emit('error', st);
          },
        )
        .finally(() => this.shutdownController.signal.removeEventListener('abort', onShutdown));
    };
  }
}

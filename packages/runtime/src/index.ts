/**
 * Service plumbing shared by every Tabby service: configuration from flags and `TABBY_*`
 * variables, the pino root logger, a gRPC server with health, reflection, per-call logs
 * and metrics and one error mapper, TLS, the NATS event bus, Prometheus metrics and
 * graceful shutdown.
 */
export {
  ConfigError,
  envName,
  isConfigError,
  loadConfig,
  option,
  optionTable,
  parseHostPort,
  usage,
} from './config.js';
export type { ConfigSpec, ConfigValues, HostPort, LoadedConfig, OptionSpec } from './config.js';
export { ERROR_REASONS, ServiceError, isReasonedError, isServiceError, reasonFromGrpcCode, toGrpcStatus } from './errors.js';
export type { ErrorReason, ReasonedError } from './errors.js';
export { LOG_LEVELS, childLogger, componentLogger, createLogger, parseTraceList } from './logger.js';
export type { LogLevel, Logger, LoggerOptions } from './logger.js';
export { createMetrics, startMetricsServer } from './metrics.js';
export { optionalMetricsServer, serviceBus } from './service-parts.js';
export type { OptionalMetricsServer, ServiceBus } from './service-parts.js';
export type { ServiceMetrics } from './metrics.js';
export { GrpcServer } from './grpc-server.js';
export type { AsyncServiceImplementation, GrpcServerOptions, ServerStreamHandler, UnaryHandler } from './grpc-server.js';
export { CLIENT_CHANNEL_OPTIONS, callUnary, isGrpcError, isUnreachable } from './grpc-client.js';
export { REPLICA_CHANNEL_OPTIONS, addressList, grpcTarget } from './replicas.js';
export { checkHealth } from './health-client.js';
export type { HealthStatus } from './health-client.js';
export type { CallOpts } from './grpc-client.js';
export {
  channelCredentials,
  classifyDialFailure,
  clientTlsOptions,
  dialCredentials,
  dialFailureCause,
  dialFailureHint,
  dialSecurity,
  serverCredentials,
  serviceDialTls,
} from './tls.js';
export type { ClientTlsFiles, DialFailure, DialSecurity, DialTarget, ServerTlsFiles, ServiceTlsValues } from './tls.js';
export { natsOptions, natsSecurity } from './nats-security.js';
export type { NatsSecurity, NatsSecurityValues } from './nats-security.js';
export { MemoryBus, NatsBus, natsFailureHint, natsServers, redactNatsUrl, subjectMatches } from './bus.js';
export type { BusSubscription, EventBus, NatsBusOptions } from './bus.js';
export { exitOnSignals } from './shutdown.js';
export { commonOptions, runService } from './service.js';
export type { CommonValues, RunningService, ServiceContext, ServiceMain } from './service.js';

import type { Registry } from 'prom-client';
import { NatsBus, type EventBus } from './bus.js';
import type { HostPort } from './config.js';
import { componentLogger, type Logger } from './logger.js';
import type { NatsSecurity } from './nats-security.js';
import { startMetricsServer } from './metrics.js';

/** A service's event bus and how to let go of it. */
export interface ServiceBus {
  /** The bus to publish on; undefined when events are off. */
  readonly bus: EventBus | undefined;
  /** Closes the bus if the service opened it (never one it was given). */
  close(): Promise<void>;
}

/**
 * The bus a service uses: the one it was given (the all-in-one embeds services with an
 * in-process bus), else a NATS connection of its own when a URL is set, else none.
 */
export async function serviceBus(opts: {
  readonly bus?: EventBus;
  readonly natsUrl?: string;
  /** Credentials and TLS for NATS (from {@link natsSecurity}). */
  readonly natsSecurity?: NatsSecurity;
  readonly name: string;
  readonly logger: Logger;
}): Promise<ServiceBus> {
  if (opts.bus) return { bus: opts.bus, close: () => Promise.resolve() };
  if (!opts.natsUrl) return { bus: undefined, close: () => Promise.resolve() };
  const bus = await NatsBus.connect({ url: opts.natsUrl, name: opts.name, logger: componentLogger(opts.logger, 'nats'), security: opts.natsSecurity });
  return { bus, close: () => bus.close() };
}

/** The `/metrics` endpoint when an address is given: its port, and how to stop it. */
export interface OptionalMetricsServer {
  readonly port: number | undefined;
  close(): Promise<void>;
}

export async function optionalMetricsServer(address: HostPort | undefined, registry: Registry, logger: Logger): Promise<OptionalMetricsServer> {
  if (!address) return { port: undefined, close: () => Promise.resolve() };
  const { server, port } = await startMetricsServer(address, registry, logger);
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

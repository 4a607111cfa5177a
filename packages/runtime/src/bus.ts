import type * as Nats from 'nats';
import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { NatsSecurity } from './nats-security.js';
import { lazy } from './lazy.js';

const nats = lazy<typeof Nats>('nats');

/** A subscription to bus subjects. */
export interface BusSubscription {
  unsubscribe(): void;
}

/**
 * The event bus: fan-out notifications, never the source of truth. Subjects follow NATS
 * rules (`.`-separated tokens, `*` one token, `>` the rest).
 */
export interface EventBus {
  /** Queues a message; never throws because the bus is down (consumers resync from the store). */
  publish(subject: string, payload: Uint8Array): void;
  subscribe(subject: string, handler: (payload: Uint8Array, subject: string) => void): BusSubscription;
  /** Resolves once everything published so far has reached the server (or at once when offline). */
  flush(): Promise<void>;
  /**
   * Calls `listener` each time the bus gets a server: the first connection and every
   * reconnect (to another server of a cluster, or the same one back). Messages published
   * while this client had no server may be lost: a follower re-lists when it is called.
   * Returns a function that removes the listener.
   */
  onConnected(listener: () => void): () => void;
  close(): Promise<void>;
}

/** True when `subject` matches the NATS `pattern` (`*` = one token, `>` = one or more). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** An in-process bus for the all-in-one `npm start` without nats-server, and for unit tests. */
export class MemoryBus implements EventBus {
  private readonly subs = new Set<{ pattern: string; handler: (payload: Uint8Array, subject: string) => void }>();

  publish(subject: string, payload: Uint8Array): void {
    for (const sub of [...this.subs]) {
      if (subjectMatches(sub.pattern, subject)) queueMicrotask(() => sub.handler(payload, subject));
    }
  }

  subscribe(subject: string, handler: (payload: Uint8Array, subject: string) => void): BusSubscription {
    const sub = { pattern: subject, handler };
    this.subs.add(sub);
    return { unsubscribe: () => this.subs.delete(sub) };
  }

  async flush(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** An in-process bus is never disconnected: the listener is never called. */
  onConnected(_listener: () => void): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.subs.clear();
    await Promise.resolve();
  }
}

export interface NatsBusOptions {
  /** One server URL or several, comma-separated (`nats://a:4222,nats://b:4222`): any of them will do. */
  readonly url: string;
  readonly name: string;
  readonly logger: Logger;
  /** How long {@link NatsBus.connect} waits for the first connection before going on without it. */
  readonly initialWaitMs?: number;
  /** Credentials and TLS from {@link natsSecurity}; none by default. */
  readonly security?: NatsSecurity;
}

/** The servers of a `--nats` value: comma-separated URLs, blanks ignored. */
export function natsServers(url: string): string[] {
  return url
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

/** A NATS URL (list) fit for logs: any `user:password@` in it is replaced by `[redacted]@`. */
export function redactNatsUrl(url: string): string {
  return url.replace(/(^|,|\/\/)[^,/@]*@/g, '$1[redacted]@');
}

/**
 * Why a connection to NATS failed, in words naming the flags to check; undefined when not
 * recognised. `tls` is how this client was set up (a server that wants a client
 * certificate just closes the connection, which the client sees as a timeout).
 */
export function natsFailureHint(err: unknown, tls: 'off' | 'tls' | 'mtls' = 'off'): string | undefined {
  const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : '';
  const message = err instanceof Error ? err.message : String(err);
  if (/AUTHORIZATION_VIOLATION/i.test(code) || /authorization violation|authentication/i.test(message))
    return 'NATS refused the credentials: check --nats-user with --nats-password(-file), or --nats-nkey-seed-file';
  if (/certificate required/i.test(message)) return 'TLS: the NATS server requires a client certificate; set --nats-tls-cert and --nats-tls-key';
  if (/self.signed|unable to (get|verify)|unknown ca|certificate verify failed/i.test(message)) return "TLS: the NATS server's certificate is not signed by the CA of --nats-tls-ca";
  if (/Hostname\/IP does not match|altnames/i.test(message)) return "TLS: the NATS server's certificate does not name the address dialled";
  if (/tls/i.test(message) || /tls/i.test(code)) return 'TLS mismatch between this service and the NATS server: check --nats-tls-ca (and the server\'s tls block)';
  if (/ECONNREFUSED|CONNECTION_REFUSED/i.test(`${code} ${message}`)) return 'connection refused: is nats-server running at this address?';
  if (/TIMEOUT/i.test(`${code} ${message}`)) {
    if (tls === 'tls') return 'no NATS handshake in time: if the server verifies clients (tls { verify: true }), set --nats-tls-cert and --nats-tls-key';
    if (tls === 'off') return 'no NATS handshake in time: if the server requires TLS, set --nats-tls-ca (and --nats-tls-cert/--nats-tls-key when it verifies clients)';
  }
  return undefined;
}

const MAX_PENDING = 10_000;

/**
 * A NATS connection to one server or a cluster (any server of the list; the cluster's other
 * servers are learnt from it) that reconnects forever, to whichever server is up, and logs
 * every state change. Until the first connection succeeds, publishes are held (up to
 * 10,000) and sent on connect. Core NATS is at-most-once: what was written to a server that
 * dies before routing it is lost. So after each reconnect the last message of every subject
 * this bus published is sent again: a consumer of dense revisions that lost the tail of a
 * stream sees the gap (or gets the last event) instead of waiting for the next change, and
 * ignores a duplicate. Consumers are told of their own reconnects ({@link onConnected}).
 */
export class NatsBus implements EventBus {
  private nc: NatsConnection | undefined;
  private readonly pending: { subject: string; payload: Uint8Array }[] = [];
  /** The last payload published on each subject, sent again after a reconnect. */
  private readonly lastBySubject = new Map<string, Uint8Array>();
  private readonly connectedListeners = new Set<() => void>();
  private readonly pendingSubs: { subject: string; handler: (payload: Uint8Array, subject: string) => void; live?: Subscription; cancelled: boolean }[] = [];
  private closed = false;
  private dropped = 0;
  private readonly connecting: Promise<void>;

  private constructor(private readonly opts: NatsBusOptions) {
    this.connecting = this.connectLoop();
  }

  /** Starts connecting; resolves when connected or after `initialWaitMs` (default 5 s), whichever is first. */
  static async connect(opts: NatsBusOptions): Promise<NatsBus> {
    const bus = new NatsBus(opts);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([bus.connecting, new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.initialWaitMs ?? 5000)))]);
    clearTimeout(timer);
    if (!bus.nc) opts.logger.warn({ url: redactNatsUrl(opts.url) }, 'NATS not reachable yet; serving without events and retrying in the background');
    return bus;
  }

  get connected(): boolean {
    return this.nc !== undefined && !this.nc.isClosed();
  }

  private async connectLoop(): Promise<void> {
    const log = this.opts.logger;
    let attempt = 0;
    while (!this.closed) {
      try {
        const nc = await nats().connect({
          ...this.opts.security?.connect,
          servers: natsServers(this.opts.url),
          name: this.opts.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          pingInterval: 10_000,
          timeout: 2000,
        });
        if (this.closed) {
          await nc.close();
          return;
        }
        this.nc = nc;
        log.info({ url: redactNatsUrl(this.opts.url), server: nc.getServer(), ...this.opts.security?.describe }, 'NATS connected');
        void this.watchStatus(nc);
        for (const sub of this.pendingSubs) if (!sub.cancelled) sub.live = this.liveSubscribe(nc, sub.subject, sub.handler);
        for (const m of this.pending.splice(0)) nc.publish(m.subject, m.payload);
        if (this.dropped > 0) log.warn({ dropped: this.dropped }, 'NATS messages dropped before the first connection');
        this.notifyConnected();
        return;
      } catch (err) {
        attempt++;
        if (attempt === 1 || attempt % 20 === 0) {
          const hint = natsFailureHint(err, this.opts.security?.describe.tls);
          const fields = { url: redactNatsUrl(this.opts.url), attempt, err: (err as Error).message, hint, ...this.opts.security?.describe };
          // Refused credentials or TLS need the operator; a server not up yet does not.
          if (hint && !hint.startsWith('connection refused')) log.error(fields, 'NATS connect failed; retrying');
          else log.warn(fields, 'NATS connect failed; retrying');
        }
        await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 2000)));
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      const fields = { type: s.type, data: typeof s.data === 'string' || typeof s.data === 'number' ? s.data : undefined };
      const type: string = s.type;
      if (type === 'disconnect' || type === 'error') this.opts.logger.warn(fields, 'NATS connection state');
      else if (type === 'pingTimer' || type === 'staleConnection') this.opts.logger.debug(fields, 'NATS connection state');
      else this.opts.logger.info(fields, 'NATS connection state');
      if (type === 'reconnect' && !this.closed) {
        this.republishLast(nc);
        this.notifyConnected();
      }
    }
  }

  /** Sends the last message of every subject again (see the class comment). */
  private republishLast(nc: NatsConnection): void {
    if (this.lastBySubject.size === 0) return;
    try {
      for (const [subject, payload] of this.lastBySubject) nc.publish(subject, payload);
      this.opts.logger.info({ subjects: this.lastBySubject.size, server: nc.getServer() }, 'NATS reconnected; last message of each subject sent again');
    } catch (err) {
      // The connection went away again; the next reconnect sends them.
      this.opts.logger.warn({ err: (err as Error).message }, 'NATS republish after reconnect failed');
    }
  }

  private notifyConnected(): void {
    for (const l of [...this.connectedListeners]) {
      try {
        l();
      } catch (err) {
        this.opts.logger.error({ err }, 'NATS connected listener failed');
      }
    }
  }

  onConnected(listener: () => void): () => void {
    this.connectedListeners.add(listener);
    return () => this.connectedListeners.delete(listener);
  }

  private liveSubscribe(nc: NatsConnection, subject: string, handler: (payload: Uint8Array, subject: string) => void): Subscription {
    return nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.opts.logger.warn({ subject, err: err.message }, 'NATS subscription error');
          return;
        }
        try {
          handler(msg.data, msg.subject);
        } catch (e) {
          this.opts.logger.error({ subject: msg.subject, err: e }, 'NATS message handler failed');
        }
      },
    });
  }

  publish(subject: string, payload: Uint8Array): void {
    if (this.closed) return;
    this.lastBySubject.set(subject, payload);
    const nc = this.nc;
    if (!nc) {
      if (this.pending.length < MAX_PENDING) this.pending.push({ subject, payload });
      else this.dropped++;
      return;
    }
    try {
      nc.publish(subject, payload);
    } catch (err) {
      // Publishing fails only when the connection is closed or the reconnect buffer is
      // full; events are notifications and consumers resync from the store.
      this.opts.logger.warn({ subject, err: (err as Error).message }, 'NATS publish failed');
    }
  }

  subscribe(subject: string, handler: (payload: Uint8Array, subject: string) => void): BusSubscription {
    const entry: (typeof this.pendingSubs)[number] = { subject, handler, cancelled: false };
    this.pendingSubs.push(entry);
    if (this.nc) entry.live = this.liveSubscribe(this.nc, subject, handler);
    return {
      unsubscribe: () => {
        entry.cancelled = true;
        entry.live?.unsubscribe();
      },
    };
  }

  async flush(): Promise<void> {
    if (this.nc && !this.nc.isClosed()) await this.nc.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connectedListeners.clear();
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) {
      try {
        await nc.drain();
      } catch (err) {
        // Draining fails when the server is already gone; there is nothing left to flush.
        this.opts.logger.debug({ err: (err as Error).message }, 'NATS drain failed');
      }
    }
  }
}

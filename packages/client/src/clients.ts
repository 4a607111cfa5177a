import { IpamClient, ResourceStoreClient, TopologyClient } from '@tabby/proto';
import { CLIENT_CHANNEL_OPTIONS, REPLICA_CHANNEL_OPTIONS, dialCredentials, grpcTarget, type ClientTlsFiles, type Logger } from '@tabby/runtime';

/** Where and how a service's client dials one of its peers. */
export interface DialOptions {
  /**
   * `HOST:PORT`, or the replicas as `IP:PORT,IP:PORT` (grpc-js balances round-robin over the
   * live ones; see `balance`).
   */
  readonly address: string;
  /** TLS files (plaintext when empty); see `serviceDialTls` of `@tabby/runtime`. */
  readonly tls?: ClientTlsFiles;
  /** The flag the address came from, named when it is not a valid address list. */
  readonly flag?: string;
  /**
   * When grpc-js balances calls round-robin: over the entries of an address list only
   * (`lists`, the default; one address dials as it always did, pick-first), or also over the
   * addresses one DNS name resolves to (`always`).
   */
  readonly balance?: 'lists' | 'always';
  /** Extra grpc-js channel options (they win over Tabby's defaults). */
  readonly channelOptions?: Readonly<Record<string, string | number>>;
  /** Logs one line naming the peer, address and security. */
  readonly logger: Pick<Logger, 'info'>;
}

type ClientCtor<C> = new (address: string, credentials: ReturnType<typeof dialCredentials>, options: Record<string, string | number>) => C;

function dial<C>(ctor: ClientCtor<C>, peer: string, opts: DialOptions): C {
  const target = grpcTarget(opts.address, opts.flag ?? `${peer} address`);
  const creds = dialCredentials({ peer, address: opts.address, tls: opts.tls ?? {} }, opts.logger);
  const balanced = opts.balance === 'always' || target !== opts.address.trim();
  return new ctor(target, creds, { ...CLIENT_CHANNEL_OPTIONS, ...(balanced ? REPLICA_CHANNEL_OPTIONS : {}), ...opts.channelOptions });
}

/** A client of tabby-store (one address or several replicas), with keepalive and reconnect backoff. */
export function dialStore(opts: DialOptions): ResourceStoreClient {
  return dial(ResourceStoreClient, 'tabby-store', opts);
}

/** A client of tabby-ipam (one address or several replicas). */
export function dialIpam(opts: DialOptions): IpamClient {
  return dial(IpamClient, 'tabby-ipam', opts);
}

/** A client of tabby-topology (one address or several replicas). */
export function dialTopology(opts: DialOptions): TopologyClient {
  return dial(TopologyClient, 'tabby-topology', opts);
}

import { clientTlsOptions, natsOptions, option } from '@tabby/runtime';

/** Flags of tabby-topology; each is also read from TABBY_<FLAG> (e.g. TABBY_STORE). */
export const topologyOptions = {
  listen: option.address('gRPC listen address', '127.0.0.1:50053'),
  store: option.string('address of tabby-store, or its replicas IP:PORT,IP:PORT (BGPConfigurations, Nodes, BGPPeers and IPPools are followed from it)', '127.0.0.1:50051', 'ADDR'),
  ...clientTlsOptions,
  storeTlsCa: option.optionalString('CA certificate to verify tabby-store, for the store only (overrides --tls-ca; with --store-tls-cert/--store-tls-key)', 'FILE'),
  storeTlsCert: option.optionalString('client certificate for tabby-store only (mTLS; overrides --tls-cert for the store)', 'FILE'),
  storeTlsKey: option.optionalString('key of --store-tls-cert', 'FILE'),
  ipam: option.optionalString('address of tabby-ipam, or its replicas IP:PORT,IP:PORT (affine blocks become the prefixes nodes originate; none when empty)', 'ADDR'),
  ipamTlsCa: option.optionalString('CA certificate to verify tabby-ipam, for IPAM only (overrides --tls-ca; with --ipam-tls-cert/--ipam-tls-key)', 'FILE'),
  ipamTlsCert: option.optionalString('client certificate for tabby-ipam only (mTLS; overrides --tls-cert for IPAM)', 'FILE'),
  ipamTlsKey: option.optionalString('key of --ipam-tls-cert', 'FILE'),
  nats: option.optionalString(
    'NATS server URL, or a NATS cluster\'s URLs comma-separated (nats://a:4222,nats://b:4222; reconnects to any of them): node-config notifications out (off when empty)',
    'URL',
  ),
  ...natsOptions,
  blockResync: option.integer('seconds between fresh snapshots of the IPAM blocks (WatchBlocks without a revision): a safety net, the stream alone keeps the blocks', 300, 1, 86_400),
  rpcLog: option.oneOf('log level of successful RPCs', 'info', ['info', 'debug'] as const),
};

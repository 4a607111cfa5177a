import { clientTlsOptions, option } from '@tabby/runtime';

/**
 * Flags of tabby-ui; each is also read from TABBY_<FLAG> (e.g. TABBY_LISTEN, TABBY_STORE), as
 * every Tabby service reads them. `--tls-cert`/`--tls-key` (common to every service) serve the
 * HTTP listener over HTTPS here.
 */
export const uiOptions = {
  listen: option.address('HTTP listen address (loopback by default; any other address needs --tls-cert/--tls-key and a token)', '127.0.0.1:8080'),
  store: option.string('address of tabby-store, or its replicas IP:PORT,IP:PORT (Nodes, BGPPeers, BGPConfigurations, IPPools and NodeStatus are followed)', '127.0.0.1:50051', 'ADDR'),
  topology: option.string('address of tabby-topology, or its replicas (the peering graph and Preview)', '127.0.0.1:50053', 'ADDR'),
  ipam: option.string('address of tabby-ipam, or its replicas (pool and block use, live through WatchBlocks)', '127.0.0.1:50052', 'ADDR'),
  webDir: option.optionalString("directory of the page's files (default: the package's dist/web)", 'DIR'),
  insecureListen: option.flag(
    'serve plain HTTP without a token on a non-loopback address: only where that address is itself private, e.g. in a container whose port is published on the host loopback only (docker-compose.yml)',
  ),
  tokenFile: option.optionalString('file holding the bearer token every /api request must present (Authorization: Bearer TOKEN); TABBY_UI_TOKEN gives the token itself', 'FILE'),
  ...clientTlsOptions,
  storeTlsCa: option.optionalString('CA certificate to verify tabby-store (and the agents, as tabbyctl does), overriding --tls-ca', 'FILE'),
  storeTlsCert: option.optionalString('client certificate for tabby-store and the agents (mTLS)', 'FILE'),
  storeTlsKey: option.optionalString('key of --store-tls-cert', 'FILE'),
  topologyTlsCa: option.optionalString('CA certificate to verify tabby-topology, overriding --tls-ca', 'FILE'),
  topologyTlsCert: option.optionalString('client certificate for tabby-topology (mTLS)', 'FILE'),
  topologyTlsKey: option.optionalString('key of --topology-tls-cert', 'FILE'),
  ipamTlsCa: option.optionalString('CA certificate to verify tabby-ipam, overriding --tls-ca', 'FILE'),
  ipamTlsCert: option.optionalString('client certificate for tabby-ipam (mTLS)', 'FILE'),
  ipamTlsKey: option.optionalString('key of --ipam-tls-cert', 'FILE'),
  refresh: option.integer('seconds between re-reads of topology peerings and IPAM use, besides the re-reads every change triggers (a safety net)', 5, 1, 3600),
};

import { resolveConfig, type ClientConfig, type ConfigFlags } from './config.js';
import { IpamClient } from './ipam-client.js';
import type { CliIO } from './io.js';
import { StoreClient } from './store-client.js';
import { TopologyClient } from './topology-client.js';

/** What every command gets: its IO, the global flags, and a store client made on first use. */
export class CommandContext {
  private client: StoreClient | undefined;
  private ipamClient: IpamClient | undefined;
  private topologyClient: TopologyClient | undefined;
  private resolved: ClientConfig | undefined;

  constructor(
    readonly io: CliIO,
    private readonly flags: () => ConfigFlags,
  ) {}

  get config(): ClientConfig {
    this.resolved ??= resolveConfig(this.flags(), this.io.env);
    return this.resolved;
  }

  store(): StoreClient {
    this.client ??= new StoreClient(this.config);
    return this.client;
  }

  /** The tabby-ipam client (ipam and workload commands), made on first use. */
  ipam(): IpamClient {
    this.ipamClient ??= new IpamClient(this.config);
    return this.ipamClient;
  }

  /** The tabby-topology client (topology commands, --dry-run), made on first use. */
  topology(): TopologyClient {
    this.topologyClient ??= new TopologyClient(this.config);
    return this.topologyClient;
  }

  close(): void {
    this.client?.close();
    this.ipamClient?.close();
    this.topologyClient?.close();
  }
}

import { clientTlsOptions, natsOptions, option } from '@tabby/runtime';

/** Flags of tabby-agent; each is also read from TABBY_<FLAG> (e.g. TABBY_NODE). */
export const agentOptions = {
  node: option.string('name of this node (its Node resource)', '', 'NAME'),
  listen: option.address('gRPC listen address (Status, Routes, ResetPeer)', '127.0.0.1:50054'),
  advertiseAddress: option.optionalAddress(
    'gRPC address written to the NodeStatus, where tabbyctl node routes finds this agent (default: the bound --listen address; --bgp-address with the bound port when --listen is 0.0.0.0 or ::)',
  ),
  bgpAddress: option.string('IPv4 address BGP sessions bind to and the Node is registered with', '', 'IP'),
  bgpIpv6Address: option.optionalString('IPv6 address for IPv6 sessions (registered as the Node\'s ipv6Address)', 'IP'),
  bgpListen: option.oneOf(
    'where BGP accepts connections: config (BGPConfiguration bindMode decides: None, the default, every address as BIRD does; NodeIP only --bgp-address and --bgp-ipv6-address) or node-address (always only those, whatever bindMode says: several agents sharing one network namespace, as in the loopback demo)',
    'config',
    ['config', 'node-address'] as const,
  ),
  bgpPort: option.integer('BGP listen port; 0 = the compiled listenPort (BGPConfiguration, else 179)', 0, 0, 65535),
  nextHopIpv4: option.optionalString('next hop announced for this node\'s IPv4 prefixes (default: the session address)', 'IP'),
  nextHopIpv6: option.optionalString('next hop announced for this node\'s IPv6 prefixes (default: the session address)', 'IP'),
  asNumber: option.integer('AS number to register on the Node (0 = leave the Node\'s AS unset: default BGPConfiguration, else 64512)', 0, 0, 4294967295),
  holdTime: option.integer('BGP hold time proposed to peers, seconds (0, or 3-65535)', 90, 0, 65535),
  peerAllow: option.optionalString('comma-separated CIDRs the agent may dial or accept (e.g. 127.0.0.0/8); other peers stay Idle', 'CIDRS'),
  store: option.string('address of tabby-store, or its replicas IP:PORT,IP:PORT (Node registration, NodeStatus)', '127.0.0.1:50051', 'ADDR'),
  topology: option.string(
    'address of tabby-topology (this node\'s compiled configuration); replicas as a comma-separated list of IP:PORT (127.0.0.1:50053,127.0.0.2:50053) or one DNS name with several addresses: calls are balanced over the live ones (gRPC round_robin) and a replica that dies is failed over',
    '127.0.0.1:50053',
    'ADDR',
  ),
  ...clientTlsOptions,
  nats: option.optionalString('NATS server URL for status events (tabby.v1.agents.<node>.status), or a NATS cluster\'s URLs comma-separated (reconnects to any of them)', 'URL'),
  ...natsOptions,
  dataplane: option.oneOf(
    'routing table programming: linux (remote blocks via their BGP next hops, blackholes for own blocks, /32 routes to local workloads, in --route-table with --route-protocol) or none (BGP only, for the loopback demo)',
    'none',
    ['none', 'linux'] as const,
  ),
  routeTable: option.string('kernel routing table for --dataplane linux: main, or a number 1-4294967295 other than 253 (default) and 255 (local)', 'main', 'TABLE'),
  routeProtocol: option.integer(
    'routing protocol number Tabby\'s routes carry (routes of any other protocol are never touched); 84 is unassigned in iproute2\'s rt_protos, name it with deploy/iproute2/rt_protos.d/tabby.conf',
    84,
    5,
    255,
  ),
  routeScanInterval: option.integer('seconds between scans of the routing table that repair routes someone else changed (BIRD\'s scan time)', 2, 1, 3600),
  routeCleanupGrace: option.integer(
    'seconds a route to a workload interface (cali…) the agent does not know is left in the table, from the first scan that sees it: tabby-cni adds it before the agent learns the workload (Calico\'s route cleanup grace period); 0 removes such routes at once',
    10,
    0,
    3600,
  ),
  gracefulRestartWait: option.integer(
    'after a restart that finds Tabby routes in the table: longest wait, seconds, for every peer\'s End-of-RIB before stale routes are removed',
    120,
    1,
    3600,
  ),
  secretsDir: option.optionalString(
    'directory of BGP password secrets, laid out like Kubernetes secret volumes: DIR/<secret name>/<key> holds the password of a secretKeyRef {name, key} (BGPPeer password, BGPConfiguration nodeMeshPassword); re-read every 5 s, a change re-keys only the sessions that use it',
    'DIR',
  ),
  statusInterval: option.integer('seconds between periodic NodeStatus reports (also sent on every change)', 30, 1, 3600),
  rpcLog: option.oneOf('log level of successful RPCs', 'info', ['info', 'debug'] as const),
};

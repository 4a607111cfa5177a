import { Gauge, type Registry } from 'prom-client';

/** The agent's Prometheus instruments (per peer: `peer` is `address` or `address:port`, `type` the calicoctl peer type). */
export interface AgentMetrics {
  readonly sessions: Gauge<'state'>;
  readonly established: Gauge<'peer' | 'type'>;
  readonly prefixesReceived: Gauge<'peer' | 'type'>;
  readonly prefixesAdvertised: Gauge<'peer' | 'type'>;
  readonly updatesIn: Gauge<'peer' | 'type'>;
  readonly updatesOut: Gauge<'peer' | 'type'>;
  readonly flaps: Gauge<'peer' | 'type'>;
  readonly lastError: Gauge<'peer' | 'type' | 'error'>;
  readonly configGeneration: Gauge;
  /** Tabby routes in the table by kind (`blackhole`, `workload`, `remote`), with --dataplane linux. */
  readonly routes: Gauge<'kind'>;
  readonly routeFailures: Gauge;
}

export function createAgentMetrics(registry: Registry): AgentMetrics {
  const peerGauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> => new Gauge({ name, help, labelNames, registers: [registry] });
  const peer = ['peer', 'type'] as const;
  return {
    sessions: peerGauge('tabby_agent_bgp_sessions', 'BGP sessions by FSM state', ['state'] as const),
    established: peerGauge('tabby_agent_bgp_session_established', '1 while the session is Established', peer),
    prefixesReceived: peerGauge('tabby_agent_bgp_prefixes_received', 'Prefixes accepted from the peer', peer),
    prefixesAdvertised: peerGauge('tabby_agent_bgp_prefixes_advertised', 'Prefixes announced to the peer', peer),
    updatesIn: peerGauge('tabby_agent_bgp_updates_received', 'UPDATE messages received on the current session object', peer),
    updatesOut: peerGauge('tabby_agent_bgp_updates_sent', 'UPDATE messages sent on the current session object', peer),
    flaps: peerGauge('tabby_agent_bgp_session_flaps', 'Times the session left Established', peer),
    lastError: peerGauge('tabby_agent_bgp_last_error', "1 for the peer's last error (`none` when there was none)", ['peer', 'type', 'error'] as const),
    configGeneration: new Gauge({ name: 'tabby_agent_config_generation', help: 'Generation of the node configuration in effect', registers: [registry] }),
    routes: peerGauge('tabby_agent_routes', 'Tabby routes the agent keeps in the routing table, by kind', ['kind'] as const),
    routeFailures: new Gauge({ name: 'tabby_agent_route_failures', help: 'Routes the kernel refused at the last reconcile (retried at every scan)', registers: [registry] }),
  };
}

import type { AgentServer } from '@tabby/proto';
import { ServiceError, type AsyncServiceImplementation } from '@tabby/runtime';
import type { NodeAgent } from './agent.js';

/** The gRPC Agent service, for operators (and tabbyctl --agent) when the store is down. */
export function agentService(agent: NodeAgent): AsyncServiceImplementation<AgentServer> {
  return {
    status: () =>
      Promise.resolve({
        status: agent.nodeStatus(),
        configGeneration: agent.generation,
        topologyConnected: agent.topologyConnected,
        storeConnected: agent.storeConnected,
      }),
    routes: (req) => {
      if (req.family && req.family !== 'ipv4' && req.family !== 'ipv6') throw new ServiceError('invalid-argument', `family must be ipv4 or ipv6, got "${req.family}"`);
      return Promise.resolve({ node: agent.node, routes: agent.routes(req.family, req.prefix) });
    },
    resetPeer: (req) => Promise.resolve({ reset: agent.resetPeer(req.peer) }),
  };
}

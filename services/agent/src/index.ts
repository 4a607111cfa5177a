/**
 * tabby-agent as a library, for embedding (the all-in-one `npm start`, benchmarks) and tests.
 */
export { startAgent } from './app.js';
export type { AgentApp, AgentAppOptions } from './app.js';
export { NodeAgent } from './agent.js';
export type { AgentStore, AgentTopology, NodeAgentOptions, NodeConfigStream } from './agent.js';
export { RouteManager } from './route-manager.js';
export type { RouteManagerOptions, RoutingInputs } from './route-manager.js';
export { PoolIndex, equalCostPaths, exportAllowed, planRoutes } from './routing.js';
export type { RoutingBlock, RoutingInput, RoutingPlan, RoutingPool, RoutingWorkload } from './routing.js';
export { realSpeaker } from './speaker-api.js';
export type { SpeakerApi, SpeakerFactory } from './speaker-api.js';
export { desiredPeers, parseAllowList } from './peers.js';
export type { DesiredPeer, PeerDefaults } from './peers.js';
export { agentOptions } from './options.js';

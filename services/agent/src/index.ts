/**
 * tabby-agent as a library, for embedding (the all-in-one `npm start`, benchmarks) and tests.
 */
export { startAgent } from './app.js';
export type { AgentApp, AgentAppOptions } from './app.js';
export { NodeAgent } from './agent.js';
export type { NodeAgentOptions } from './agent.js';
export { desiredPeers, parseAllowList } from './peers.js';
export type { DesiredPeer, PeerDefaults } from './peers.js';
export { agentOptions } from './options.js';

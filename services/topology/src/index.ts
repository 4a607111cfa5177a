/**
 * tabby-topology as a library: the service (for the all-in-one `npm start` and tests), the
 * pure compiler of node BGP configurations with its analysis, Explain and Preview (IPAM
 * blocks are followed with `@tabby/client`'s BlockFollower).
 */
export { startTopology } from './app.js';
export type { TopologyApp, TopologyAppOptions } from './app.js';
export { topologyOptions } from './options.js';
export { TOPOLOGY_VERSION } from './version.js';
export { TopologyState, nodeSubject } from './state.js';
export type { TopologyStateOptions } from './state.js';
export { TOPOLOGY_KINDS, TopologyCompiler } from './compile/compiler.js';
export type { BlockInput, CommitResult } from './compile/compiler.js';
export { PEER_TYPE_LABELS, sessionKey } from './compile/types.js';
export type { CompiledNodeConfig, CompiledPeer, CompiledPrefix, PeerKind, PeerRuleName, PeerSourceInfo, ValueOrigin } from './compile/types.js';
export { BGP_PORT, DEFAULT_AS_NUMBER } from './compile/model.js';
export { hashToIPv4 } from './compile/router-id.js';
export { sameNodeConfig, samePeer } from './compile/equal.js';
export { LARGE_MESH, WARNING_CODES, analyze, currentWarnings } from './compile/analyze.js';
export type { Severity, Tense, Warning, WarningCode } from './compile/analyze.js';
export { routeReachability } from './compile/propagation.js';
export type { Reachability } from './compile/propagation.js';
export { sessionGraph, viability } from './compile/graph.js';
export type { GraphEdge, GraphEnd, ViabilityProblem } from './compile/graph.js';
export { explain } from './compile/explain.js';
export type { ExplainedPeer, Explanation } from './compile/explain.js';
export { diffConfigs } from './compile/diff.js';
export type { NodeConfigDiff, SessionDiff } from './compile/diff.js';
export { preview } from './compile/preview.js';
export type { PreviewChanges, PreviewResult } from './compile/preview.js';
export { BadPeerError, UnknownNodeError, isBadPeerError, isUnknownNodeError } from './compile/errors.js';
export { toNodeConfig, toPeerConfig } from './convert.js';

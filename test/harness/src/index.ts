/**
 * The test harness: starts real processes (nats-server, Tabby services) on loopback
 * addresses, or inside a fabric of network namespaces (netns.ts; a control plane and agents
 * there: netns-cluster.ts), and stops them by PID, even when a test fails.
 */
export { ProcessGroup, eventually, sleep, startProcess } from './processes.js';
export { collectCommand } from './collect.js';
export type { CollectOptions, CommandResult } from './collect.js';
export type { TestProcess } from './processes.js';
export { findTool, requireTool } from './tools.js';
export { tempDir } from './temp.js';
export { natsPortsFiles, startNats } from './nats.js';
export type { NatsServer } from './nats.js';
export { startNatsCluster } from './nats-cluster.js';
export type { NatsCluster, NatsClusterNode } from './nats-cluster.js';
export { REPO_ROOT, serviceBin, startService } from './services.js';
export type { ServiceProcess, TabbyService } from './services.js';
export { fileContainingSymbol, healthCheck, listServicesByReflection } from './grpc-probe.js';
export { UNQUOTED_RR_PEER, WALKTHROUGH, walkthroughManifest } from './walkthrough.js';
export type { WalkthroughManifest } from './walkthrough.js';
export { makeCerts } from './certs.js';
export type { TestCerts } from './certs.js';
export type { IpFamily } from './ip-family.js';
export { familyOf } from './ip-family.js';
export { assertLoopback, freePort, isLoopback, loopbackNextHops } from './loopback.js';
export { pauseProcess, resumeBeforeStop, resumeProcess } from './process-pause.js';
export { BirdClient, BirdCommandError, BirdControlError, BirdReplyReader, isBirdCommandError } from './birdc.js';
export type { BirdReply, BirdReplyLine } from './birdc.js';
export { birdNextHops, renderBirdConfig, staticProtocolName, staticRoutes } from './bird-config.js';
export type { BirdConfig, BirdNextHop, BirdPeer, BirdStaticRoute, BirdTimers } from './bird-config.js';
export { parseProtocolDetails, parseProtocols, parseRouteCount, parseRoutes, sameBirdSince } from './bird-show.js';
export type { BgpOrigin, BirdChannelDetails, BirdProtocol, BirdProtocolDetails, BirdRoute } from './bird-show.js';
export { BirdConfigError, BirdProcess, checkBirdConfig, startBird } from './bird.js';
export type { BirdRouteQuery } from './bird.js';
export { renderGobgpConfig } from './gobgp-config.js';
export type { GobgpConfig, GobgpNeighbor, GobgpTimers } from './gobgp-config.js';
export { parseGobgpNeighbors, parseGobgpRib } from './gobgp-json.js';
export type { GobgpFamilyCounters, GobgpNeighborState, GobgpPath, GobgpSessionState, RawAttr } from './gobgp-json.js';
export { GobgpCommandError, GobgpConfigError, GobgpProcess, checkGobgpConfig, startGobgp } from './gobgp.js';
export type { GobgpAnnounce } from './gobgp.js';
export {
  FABRIC_RANGE,
  FABRIC_RANGE_V6,
  Fabric,
  NetnsCommandError,
  NetnsGobgpProcess,
  assertFabricAddress,
  inFabricRange,
  parseKernelRoutes,
  parsePing,
  renderFabricBirdConfig,
  renderFabricGobgpConfig,
  startBirdIn,
  startGobgpIn,
  startNatsIn,
  startServiceIn,
  UNIX_FORWARD_SCRIPT,
  WORKLOAD_GATEWAY_V6,
} from './netns.js';
export type { DirectLinkEnd, FabricBirdConfig, FabricBirdPeer, FabricGobgpConfig, FabricGobgpNeighbor, KernelRoute, PingResult, PingStream, WorkloadWiring } from './netns.js';
export { NetnsControlPlane, TABBYCTL_BIN, fabricTestbed, phaseLogger } from './netns-cluster.js';
export type { ControlPlaneEndpoints, ControlPlaneProcesses, FabricTestbed, NetnsAgentOptions, NodeStatusRow } from './netns-cluster.js';
export { startEtcdCluster } from './etcd.js';
export type { EtcdCluster, EtcdMember } from './etcd.js';

/**
 * @tabby/cni: the tabby-cni plugin's parts, for tests and tools. The executable is the
 * bundle dist/tabby-cni (from main.ts); this entry exports the pure pieces: config,
 * environment and CNI_ARGS parsing, the workload identity, results and errors.
 */
export { CNI_CODE_TABLE, CniCode, CniError, errorJson, isCniError } from './cni-error.js';
export type { CniCodeName, CniCodeValue, CniErrorJson } from './cni-error.js';
export { KNOWN_CNI_ARGS, parseCniArgs } from './cni-args.js';
export type { CniArgs } from './cni-args.js';
export {
  DEFAULT_IPAM,
  DEFAULT_LOG_LEVEL,
  DEFAULT_STORE,
  DEFAULT_TIMEOUT_SECONDS,
  IPAM_KEYS,
  IPV4_POOLS_ANNOTATION,
  IPV6_POOLS_ANNOTATION,
  LEGACY_ATTACHMENTS_KEY,
  PLUGIN_TYPE,
  POD_ANNOTATIONS_CAPABILITY,
  TABBY_KEYS,
  VALID_ATTACHMENTS_KEY,
  parseNetworkConfig,
  poolProblem,
} from './config.js';
export type { Attachment, NetworkConfig, PoolSource, TlsFiles } from './config.js';
export { COMMANDS, interfaceNameProblem, parseCommand, parseEnvironment } from './env.js';
export type { CniCommand, CniEnvironment } from './env.js';
export { CNI_NAMESPACE, containerMac, nodeName, nodenameFromHostname, workloadIdentity } from './identity.js';
export type { WorkloadIdentity } from './identity.js';
export { GATEWAY_V4, GATEWAY_V6, HOST_MAC, addResult, parsePrevResult } from './result.js';
export type { AddOutcome, CniResult, PreviousResult, ResultInterface, ResultIp, ResultRoute } from './result.js';
export { checkProblems } from './check.js';
export type { ControlPlaneView } from './check.js';
export { collectGarbage, planGc } from './gc.js';
export type { GcPlan, StaleAttachment } from './gc.js';
export { pluginStatus } from './status.js';
export { parseLinkKinds, planHostSweep } from './host-sweep.js';
export type { HostSweepInput, HostSweepPlan, ObservedLinkKind, SweepRoute } from './host-sweep.js';
export { guardNamespaces, runPlugin, versionInfo } from './plugin.js';
export type { PluginDeps, PluginOutput } from './plugin.js';
export { ApiCallError, GrpcTabbyApi, grpcToCniError, outcomeUnknown } from './tabby-api.js';
export type { TabbyApi } from './tabby-api.js';
export { LinuxWiring, findTool, parseAddrShow, parseRouteShow } from './linux-wiring.js';
export { hostSysctls } from './wiring.js';
export type { ContainerInterface, ObservedLink, ObservedRoute, Observation, Wiring, WiringSpec } from './wiring.js';
export { CURRENT_VERSION, LATEST_VERSION, SUPPORTED_VERSIONS, compareVersions, isSupportedVersion, supportsGcAndStatus } from './versions.js';
export type { CniVersion } from './versions.js';
export { DEFAULT_CONF_NAME, DEFAULT_NETWORK_NAME, INSTALL_USAGE, InstallError, TEMPLATE_PLACEHOLDERS, install, parseInstallOptions, renderConflist, resolveAddress } from './install.js';
export type { InstallOptions, InstallReport } from './install.js';

/**
 * @tabby/dataplane: the node's routing table as the agent sees it. {@link Dataplane} is the
 * interface; {@link LinuxDataplane} programs a kernel table through iproute2 batches and only
 * ever touches routes of Tabby's own protocol number; {@link MemoryDataplane} is the fake
 * for unit tests. The diff and validation helpers are pure.
 */
export type { Dataplane, DataplaneLogger, KernelRoute, NextHop, ReconcileOptions, ReconcileReport, RouteFailure } from './types.js';
export { LinuxDataplane } from './linux.js';
export type { LinuxDataplaneOptions } from './linux.js';
export { MemoryDataplane } from './memory.js';
export type { ForeignRoute, MemoryDataplaneOptions, MemoryWrite } from './memory.js';
export { canonicalRoute, diffRoutes, sameRoute } from './diff.js';
export type { DiffOptions, RouteChange, RouteDiff } from './diff.js';
export { checkRoutes, routeProblem } from './validate.js';
export type { CheckedRoutes } from './validate.js';
export type { ConnectedNetwork } from './on-link.js';
export {
  DEFAULT_ROUTE_PROTOCOL,
  MAIN_ROUTE_TABLE,
  MAX_ROUTE_TABLE,
  RESERVED_ROUTE_PROTOCOLS,
  parseRouteProtocol,
  parseRouteTable,
  routeProtocolProblem,
  routeTableProblem,
} from './protocol.js';
export { checkNamespace, underTest } from './namespace-guard.js';
export type { GuardEnv, NamespaceCheck, NamespaceCheckOptions } from './namespace-guard.js';
export {
  DataplaneConfigError,
  IprouteError,
  NamespaceGuardError,
  isDataplaneConfigError,
  isIprouteError,
  isNamespaceGuardError,
} from './errors.js';
export { batchLine, parseBatchErrors } from './iproute2.js';
export type { BatchErrors, BatchOp } from './iproute2.js';

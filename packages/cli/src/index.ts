/**
 * tabbyctl as a library: `run(argv, io)` runs one command against injected streams and
 * resolves with its exit code (tests use it); the pieces below are what it is made of.
 */
export { run, CLI_VERSION } from './program.js';
export { processIO } from './io.js';
export type { CliIO } from './io.js';
export { CliError, isCliError } from './errors.js';
export { DEFAULT_IPAM, DEFAULT_STORE, defaultConfigPaths, resolveConfig } from './config.js';
export type { ClientConfig, ConfigFlags } from './config.js';
export { COLUMNS, NAMESPACE_COLUMN } from './columns.js';
export type { CellContext, Column, KindColumns } from './columns.js';
export { OUTPUT_FORMATS, parseOutputFormat, render } from './printers.js';
export type { OutputFormat, PrintRequest } from './printers.js';
export { tabwrite, sanitizeCell } from './tabwriter.js';
export { borderTable } from './border-table.js';
export { goFormat } from './go-format.js';
export { allocationText, borrowedTable, utilizationRow, utilizationTable } from './ipam-tables.js';
export type { BorrowedAddress } from './ipam-tables.js';
export { IpamClient, IpamCallError, isIpamCallError } from './ipam-client.js';
export type { IpamApi } from './ipam-client.js';
export { migratePool } from './commands/ipam-migrate.js';
export type { MigrateDeps, MigrateOptions } from './commands/ipam-migrate.js';
export { completions, kindWords, VERBS } from './commands/completion.js';
export { mergePatch } from './commands/patch.js';
export { birdSince, birdTime, humanAge, parseTime } from './bird-time.js';
export { PEER_HEADER, agentReport, nodeStatusText, peerAddress, statusHealth } from './node-status-text.js';
export type { AgentReport } from './node-status-text.js';
export type { StatusHealth } from './node-status-text.js';
export { ROUTE_FORMATS, parseRouteFormat, renderRoutes } from './route-table.js';
export type { RouteFormat } from './route-table.js';
export { AgentCallError, AgentClient, DEFAULT_AGENT, isAgentCallError } from './agent-client.js';
export type { AgentApi } from './agent-client.js';

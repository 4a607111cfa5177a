/**
 * tabby-ipam as a library, for embedding (the all-in-one `npm start`) and tests.
 */
export { startIpam } from './app.js';
export type { IpamApp, IpamAppOptions } from './app.js';
export { IpamEngine, fnv32a } from './engine.js';
export type { Allocation, AssignRequest, AssignResult, BlockChange, BlockRow, EngineOptions } from './engine.js';
export { GroupCommitter } from './commit.js';
export type { TxContext } from './commit.js';
export { SCHEMA_VERSION, openDatabase } from './database.js';
export { StaticClusterView, poolInfo } from './pools.js';
export type { ClusterView, PoolInfo } from './pools.js';
export { BLOCKS_SUBJECT } from './publisher.js';
export { workloadHandle } from './workloads.js';
export { ipamOptions } from './options.js';

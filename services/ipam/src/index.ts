/**
 * tabby-ipam as a library, for embedding (the all-in-one `npm start`) and tests.
 */
export { startIpam } from './app.js';
export type { IpamApp, IpamAppOptions } from './app.js';
export { IpamEngine, fnv32a } from './engine.js';
export type { Allocation, AssignRequest, AssignResult, BlockChange, BlockRow, EngineOptions } from './engine.js';
export { GroupCommitter } from './commit.js';
export type { GroupCommitterOptions, RunOptions, Syncer, TxContext } from './commit.js';
export { SCHEMA_VERSION, WalSync, openDatabase, walSync } from './database.js';
export { DATASTORES } from './storage.js';
export type { Datastore, IntentRecord, IpamStorage } from './storage.js';
export { SqliteStorage } from './sqlite-storage.js';
export type { SqliteStorageOptions } from './sqlite-storage.js';
export { EtcdStorage } from './etcd-storage.js';
export type { EtcdStorageOptions } from './etcd-storage.js';
export { StaticClusterView, poolInfo } from './pools.js';
export type { ClusterView, PoolInfo } from './pools.js';
export { BLOCKS_SUBJECT } from './publisher.js';
export { workloadHandle } from './workloads.js';
export { ipamOptions } from './options.js';
export { Reservations, blockLimit, flagSettings, reservedCidrsOf, settingsOf } from './ipam-settings.js';
export type { IpamFlagSettings, IpamSettings } from './ipam-settings.js';

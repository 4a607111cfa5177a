/**
 * tabby-store as a library, for embedding (the all-in-one `npm start`) and tests: start
 * the service, or use the ResourceStore directly over a database.
 */
export { startStore } from './app.js';
export type { StoreApp, StoreAppOptions } from './app.js';
export { ResourceStore } from './resource-store.js';
export type { CommitListener, ResourceStoreOptions, StoredEvent } from './resource-store.js';
export { DataDirInUseError, SCHEMA_VERSION, openDatabase } from './database.js';
export { resourceSubject } from './publisher.js';
export { storeOptions } from './options.js';
export type { Datastore, StoreBackend } from './backend.js';
export { EtcdStore } from './etcd-store.js';
export type { EtcdStoreOptions } from './etcd-store.js';
export { sqliteBackend } from './sqlite-backend.js';

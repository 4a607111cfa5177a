/**
 * The test harness: starts real processes (nats-server, Tabby services) on loopback
 * addresses and stops them by PID, even when a test fails.
 */
export { ProcessGroup, eventually, sleep, startProcess } from './processes.js';
export type { TestProcess } from './processes.js';
export { findTool, requireTool } from './tools.js';
export { tempDir } from './temp.js';
export { natsPortsFiles, startNats } from './nats.js';
export type { NatsServer } from './nats.js';
export { REPO_ROOT, serviceBin, startService } from './services.js';
export type { ServiceProcess } from './services.js';
export { fileContainingSymbol, healthCheck, listServicesByReflection } from './grpc-probe.js';
export { UNQUOTED_RR_PEER, WALKTHROUGH, walkthroughManifest } from './walkthrough.js';
export type { WalkthroughManifest } from './walkthrough.js';
export { makeCerts } from './certs.js';
export type { TestCerts } from './certs.js';

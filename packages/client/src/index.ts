/**
 * How Tabby services and tabbyctl talk to each other: a store follower that keeps kinds of
 * resources in memory (List + Watch, resync after any gap), a follower of IPAM's blocks
 * (WatchBlocks: snapshot, changes, resync), and the backoff every retry loop uses.
 */
export { Backoff, retry, sleep } from './backoff.js';
export type { BackoffOptions, RetryOptions } from './backoff.js';
export { StoreFollower } from './follower.js';
export type { FollowBatchInfo, FollowEvent, FollowEventType, FollowListener, StoreFollowerOptions } from './follower.js';
export { BlockFollower } from './block-follower.js';
export type { BlockChange, BlockFollowerOptions, BlockListener, BlockWatcher } from './block-follower.js';
export { dialIpam, dialStore, dialTopology } from './clients.js';
export type { DialOptions } from './clients.js';

/**
 * What Tabby services use to follow each other: a store follower that keeps kinds of
 * resources in memory (List + Watch, resync after any gap).
 */
export { StoreFollower } from './follower.js';
export type { FollowBatchInfo, FollowEvent, FollowEventType, FollowListener, StoreFollowerOptions } from './follower.js';

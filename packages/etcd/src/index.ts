export { etcdOptions, etcdSettings } from './settings.js';
export type { EtcdFlagValues, EtcdSettings, EtcdTls } from './settings.js';
export { etcdClientOptions, etcdMembers } from './client.js';
export { EtcdFlagKey } from './flag-key.js';
export { PrefixMirror } from './prefix-mirror.js';
export type { MirrorFreshness } from './prefix-mirror.js';
export { etcdErrorText } from './error-text.js';

/** Version of the topology binary (keep in step with package.json). */
export const TOPOLOGY_VERSION = '0.1.0';

/** Version of the ipam binary (keep in step with package.json). */
export const IPAM_VERSION = '0.1.0';

/** Version of the store binary (from package.json at build time would need a bundler; keep in step). */
export const STORE_VERSION = '0.1.0';

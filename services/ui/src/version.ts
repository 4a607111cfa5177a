/** The version tabby-ui prints with --version. */
export const UI_VERSION = '0.1.0';

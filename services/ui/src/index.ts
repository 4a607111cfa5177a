/** @tabby/ui: the tabby-ui service (the live web view) and the JSON shapes of its API. */
export type * from './view.js';
export { DEFAULT_WEB_DIR, isLoopbackHost, readTokenFile, startUi } from './app.js';
export type { UiApp, UiAppOptions } from './app.js';
export { uiOptions } from './options.js';
export { UI_VERSION } from './version.js';

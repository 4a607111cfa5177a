/** @tabby/ui: the tabby-ui service (the live web view) and the JSON shapes of its API. */
export type * from './view.js';

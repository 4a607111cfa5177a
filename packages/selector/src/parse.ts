import { parseTokens } from './parser.js';
import { SelectorParseError } from './parse-error.js';
import { createSelector } from './selector.js';
import type { Selector } from './selector.js';
import { SelectorSyntaxError } from './syntax-error.js';
import { tokenizeSelector } from './tokenizer.js';

/** Result of {@link parseSelector}. */
export type ParseSelectorResult =
  | { readonly ok: true; readonly selector: Selector }
  | { readonly ok: false; readonly error: SelectorParseError };

/**
 * Parses a Calico label selector given by a user. Never throws for bad input:
 * a syntax error comes back as `{ ok: false, error }` with Calico's text and
 * the column of the problem. An empty or blank (spaces/tabs) selector is
 * valid and matches everything.
 */
export function parseSelector(text: string): ParseSelectorResult {
  const lexed = tokenizeSelector(text);
  if (!lexed.ok) {
    return lexed;
  }
  const root = parseTokens(lexed.tokens, text);
  if (root instanceof SelectorParseError) {
    return { ok: false, error: root };
  }
  return { ok: true, selector: createSelector(root, text) };
}

/**
 * Parses a selector the program knows to be valid (a constant or default).
 * @throws {SelectorSyntaxError} if it does not parse: that is a bug, not a user error.
 */
export function mustParseSelector(text: string): Selector {
  const result = parseSelector(text);
  if (!result.ok) {
    throw new SelectorSyntaxError(result.error);
  }
  return result.selector;
}

/**
 * @tabby/selector: the Calico label-selector language (parser, evaluator,
 * canonical printer). See README.md for the Calico semantics it follows.
 */
export type {
  AllNode,
  AndNode,
  GlobalNode,
  HasNode,
  NotNode,
  OrNode,
  SelectorNode,
  SetNode,
  SetOperator,
  ValueNode,
  ValueOperator,
} from './ast.js';
export type { Labels } from './labels.js';
export { isMatchAll, labelsUsed } from './labels-used.js';
export { mustParseSelector, parseSelector } from './parse.js';
export type { ParseSelectorResult } from './parse.js';
export { SelectorParseError } from './parse-error.js';
export type { SelectorParseErrorReason } from './parse-error.js';
export type { Selector } from './selector.js';
export { isSelectorSyntaxError, SelectorSyntaxError } from './syntax-error.js';
export { displayToken } from './token.js';
export type { Token, TokenKind } from './token.js';
export { MAX_LABEL_LENGTH, tokenizeSelector } from './tokenizer.js';
export type { TokenizeResult } from './tokenizer.js';

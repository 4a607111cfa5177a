/** Kinds of token in a selector; each corresponds to one Calico `Tok…` kind. */
export type TokenKind =
  | 'label'
  | 'string'
  | 'lbrace'
  | 'rbrace'
  | 'comma'
  | 'eq'
  | 'ne'
  | 'in'
  | 'not'
  | 'not-in'
  | 'contains'
  | 'starts-with'
  | 'ends-with'
  | 'all'
  | 'has'
  | 'lparen'
  | 'rparen'
  | 'and'
  | 'or'
  | 'global'
  | 'eof';

/**
 * One token. `value` is the label name (`label`, `has`), the unquoted text
 * (`string`), or `""`. `offset` is the 0-based index of its first character
 * (for `eof`, the length of the input).
 */
export interface Token {
  readonly kind: TokenKind;
  readonly value: string;
  readonly offset: number;
}

/** Calico's names for the token kinds, as they appear in its error texts. */
const CALICO_NAMES: Readonly<Record<TokenKind, string>> = {
  label: 'TokLabel',
  string: 'TokStringLiteral',
  lbrace: 'TokLBrace',
  rbrace: 'TokRBrace',
  comma: 'TokComma',
  eq: 'TokEq',
  ne: 'TokNe',
  in: 'TokIn',
  not: 'TokNot',
  'not-in': 'TokNotIn',
  contains: 'TokContains',
  'starts-with': 'TokStartsWith',
  'ends-with': 'TokEndsWith',
  all: 'TokAll',
  has: 'TokHas',
  lparen: 'TokLParen',
  rparen: 'TokRParen',
  and: 'TokAnd',
  or: 'TokOr',
  global: 'TokGlobal',
  eof: 'TokEOF',
};

/** Prints a token as Calico does in error texts: `TokLabel(foo)`, `TokLParen()`. */
export function displayToken(token: Token): string {
  return `${CALICO_NAMES[token.kind]}(${token.value})`;
}

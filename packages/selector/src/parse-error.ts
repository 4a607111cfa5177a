/**
 * Why a selector was rejected. A closed set: one value per distinct Calico
 * error text (the text itself is in {@link SelectorParseError.message}).
 */
export type SelectorParseErrorReason =
  /** `unterminated string` */
  | 'unterminated-string'
  /** `expected ==` (a lone `=`) */
  | 'expected-eq'
  /** `expected &&` (a lone `&`) */
  | 'expected-and'
  /** `expected ||` (a lone `|`) */
  | 'expected-or'
  /** `expected operator after label "<label>"` */
  | 'expected-operator'
  /** `expected identifier` (a character that starts no token, e.g. `%`, newline; or `has()`) */
  | 'expected-identifier'
  /** `label too long: <label>` (more than 512 characters) */
  | 'label-too-long'
  /** `no closing ')' after has(` / `all(` / `global(` */
  | 'unclosed-function'
  /** `unexpected end of string looking for op` (a label at the end of the selector) */
  | 'unexpected-end'
  /** `expected string` (after `==`, `!=`, `contains`, `starts with`, `ends with`) */
  | 'expected-string'
  /** `expected set literal` (after `in` / `not in`) */
  | 'expected-set'
  /** `expected }` */
  | 'expected-rbrace'
  /** `expected )` */
  | 'expected-rparen'
  /** `expected == or != not: <token>` */
  | 'expected-comparison'
  /** `unexpected token: <token>` */
  | 'unexpected-token'
  /** `unexpected content at end of selector [<tokens>]` */
  | 'trailing-content';

/** Fields of a {@link SelectorParseError}. */
export interface SelectorParseErrorInit {
  readonly reason: SelectorParseErrorReason;
  readonly message: string;
  readonly selector: string;
  readonly offset: number;
  readonly expected?: string;
}

/** 1-based column of a UTF-16 offset, counting Unicode code points. */
function columnOf(text: string, offset: number): number {
  let column = 1;
  for (const _char of text.slice(0, offset)) {
    column += 1;
  }
  return column;
}

/**
 * Why and where a selector failed to parse: a value returned to callers of
 * `parseSelector`, never thrown. `message` is Calico's exact text; `column`
 * (1-based, in code points) and `offset` (0-based string index) point at the
 * offending character, or one past the end for an early end of input;
 * `expected` says in words what would have been valid there.
 */
export class SelectorParseError {
  readonly reason: SelectorParseErrorReason;
  /** Calico's error text, e.g. `expected string`. */
  readonly message: string;
  /** The whole selector text that was parsed. */
  readonly selector: string;
  /** 0-based index into `selector` (UTF-16 units) of the problem. */
  readonly offset: number;
  /** 1-based column (Unicode code points) of the problem. */
  readonly column: number;
  /** What would have been accepted at `column`, for humans. */
  readonly expected?: string;

  constructor(init: SelectorParseErrorInit) {
    this.reason = init.reason;
    this.message = init.message;
    this.selector = init.selector;
    this.offset = init.offset;
    this.column = columnOf(init.selector, init.offset);
    if (init.expected !== undefined) {
      this.expected = init.expected;
    }
    Object.freeze(this);
  }

  /** One line for users: `expected string at column 7 of selector "a == b"`. */
  format(): string {
    return `${this.message} at column ${this.column} of selector ${JSON.stringify(this.selector)}`;
  }

  /** Same as {@link SelectorParseError.format}. */
  toString(): string {
    return this.format();
  }
}

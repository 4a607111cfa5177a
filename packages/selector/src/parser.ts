import type { SelectorNode, SetOperator, ValueOperator } from './ast.js';
import { SelectorParseError } from './parse-error.js';
import type { SelectorParseErrorReason } from './parse-error.js';
import { normaliseSetValues } from './set-values.js';
import { displayToken } from './token.js';
import type { Token, TokenKind } from './token.js';

const VALUE_OPERATOR_TOKENS: Partial<Record<TokenKind, ValueOperator>> = {
  eq: '==',
  ne: '!=',
  contains: 'contains',
  'starts-with': 'starts with',
  'ends-with': 'ends with',
};

const SET_OPERATOR_TOKENS: Partial<Record<TokenKind, SetOperator>> = {
  in: 'in',
  'not-in': 'not in',
};

const ALL: SelectorNode = Object.freeze({ kind: 'all' });
const GLOBAL: SelectorNode = Object.freeze({ kind: 'global' });

const AN_OPERATOR = 'an operator: ==, !=, contains, starts with, ends with, in or not in';
const A_TERM = 'a label comparison, has(…), all(), global(), "!" or "("';
const A_STRING_OR_RBRACE = 'a quoted string or "}"';
const COMMA_OR_RBRACE = '"," or "}"';

type Step = SelectorNode | SelectorParseError;

/**
 * Recursive-descent parser over the grammar of docs/calico-compat.md §3.2, mirroring
 * Calico's parser decision for decision so that the same inputs fail with the
 * same texts. Precedence, low to high: `||`, `&&`, `!`, terms.
 */
class Parser {
  private position = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly source: string,
  ) {}

  parseSelector(): Step {
    if (this.peek().kind === 'eof') {
      return ALL;
    }
    const node = this.parseOr();
    if (node instanceof SelectorParseError) {
      return node;
    }
    const rest = this.tokens.slice(this.position);
    if (rest.length !== 1) {
      const listed = rest.map(displayToken).join(' ');
      return this.fail(rest[0], 'trailing-content', `unexpected content at end of selector [${listed}]`, '"&&", "||" or the end of the selector');
    }
    return node;
  }

  private parseOr(): Step {
    return this.parseList('or', () => this.parseAnd());
  }

  private parseAnd(): Step {
    return this.parseList('and', () => this.parseUnary());
  }

  /** One or more operands separated by the `kind` token; a single operand is returned as is. */
  private parseList(kind: 'and' | 'or', parseOperand: () => Step): Step {
    const first = parseOperand();
    if (first instanceof SelectorParseError) {
      return first;
    }
    const operands = [first];
    while (this.peek().kind === kind) {
      this.position += 1;
      const next = parseOperand();
      if (next instanceof SelectorParseError) {
        return next;
      }
      operands.push(next);
    }
    return operands.length === 1 ? first : { kind, operands };
  }

  /**
   * Any number of `!` then a term; an even number of `!` cancels out. Unlike
   * Calico, a `!` also cancels a negation inside parentheses (`!(!x)` is `x`),
   * so that the canonical text is a fixed point of parse-then-print.
   */
  private parseUnary(): Step {
    let negated = false;
    while (this.peek().kind === 'not') {
      negated = !negated;
      this.position += 1;
    }
    const term = this.parseTerm();
    if (term instanceof SelectorParseError || !negated) {
      return term;
    }
    return term.kind === 'not' ? term.operand : { kind: 'not', operand: term };
  }

  private parseTerm(): Step {
    const token = this.peek();
    switch (token.kind) {
      case 'has':
        this.position += 1;
        return { kind: 'has', label: token.value };
      case 'all':
        this.position += 1;
        return ALL;
      case 'global':
        this.position += 1;
        return GLOBAL;
      case 'label':
        return this.parseComparison(token);
      case 'lparen': {
        this.position += 1;
        const inner = this.parseOr();
        if (inner instanceof SelectorParseError) {
          return inner;
        }
        const close = this.peek();
        if (close.kind !== 'rparen') {
          return this.fail(close, 'expected-rparen', 'expected )', '")"');
        }
        this.position += 1;
        return inner;
      }
      default:
        return this.fail(token, 'unexpected-token', `unexpected token: ${displayToken(token)}`, A_TERM);
    }
  }

  /** `label <op> "value"` or `label <in|not in> {…}`; `label` is the current token. */
  private parseComparison(label: Token): Step {
    const operator = this.peek(1);
    if (operator.kind === 'eof') {
      return this.fail(operator, 'unexpected-end', 'unexpected end of string looking for op', AN_OPERATOR);
    }
    const operand = this.peek(2);
    const valueOperator = VALUE_OPERATOR_TOKENS[operator.kind];
    if (valueOperator !== undefined) {
      if (operand.kind !== 'string') {
        return this.fail(operand, 'expected-string', 'expected string', `a quoted string after ${valueOperator}`);
      }
      this.position += 3;
      return { kind: 'value', operator: valueOperator, label: label.value, value: operand.value };
    }
    const setOperator = SET_OPERATOR_TOKENS[operator.kind];
    if (setOperator === undefined) {
      return this.fail(operator, 'expected-comparison', `expected == or != not: ${displayToken(operator)}`, AN_OPERATOR);
    }
    if (operand.kind !== 'lbrace') {
      return this.fail(operand, 'expected-set', 'expected set literal', `a set literal after ${setOperator}, such as {"a", "b"}`);
    }
    this.position += 3;
    return this.parseSetRest(setOperator, label.value);
  }

  /** The values and closing `}` of a set literal whose `{` was consumed. */
  private parseSetRest(operator: SetOperator, label: string): Step {
    const values: string[] = [];
    let expected = A_STRING_OR_RBRACE;
    while (this.peek().kind === 'string') {
      values.push(this.peek().value);
      this.position += 1;
      if (this.peek().kind !== 'comma') {
        expected = COMMA_OR_RBRACE;
        break;
      }
      this.position += 1;
    }
    const close = this.peek();
    if (close.kind !== 'rbrace') {
      return this.fail(close, 'expected-rbrace', 'expected }', expected);
    }
    this.position += 1;
    return { kind: 'set', operator, label, values: normaliseSetValues(values) };
  }

  /** The token `ahead` places after the current one; the final `eof` repeats past the end. */
  private peek(ahead = 0): Token {
    const index = Math.min(this.position + ahead, this.tokens.length - 1);
    return this.tokens[index];
  }

  private fail(at: Token, reason: SelectorParseErrorReason, message: string, expected: string): SelectorParseError {
    return new SelectorParseError({ reason, message, selector: this.source, offset: at.offset, expected });
  }
}

/**
 * Parses the tokens of `source` (as produced by `tokenizeSelector`, ending
 * with `eof`) into a normalised tree, or returns the first syntax error.
 * No tokens besides `eof` yields `all()`.
 */
export function parseTokens(tokens: readonly Token[], source: string): SelectorNode | SelectorParseError {
  return new Parser(tokens, source).parseSelector();
}

/**
 * `if:` conditions (melange.md §4.3; melange `pkg/cond/parser.go`), with a real grammar:
 *
 *     expr       := or
 *     or         := and ( '||' and )*
 *     and        := unary ( '&&' unary )*
 *     unary      := '!' unary | primary
 *     primary    := '(' expr ')' | operand ( ( '==' | '!=' ) operand )?
 *     operand    := '…' | "…" | ${{ name }}
 *
 * Differences from melange, on purpose:
 * - **Precedence**: `&&` binds tighter than `||`, as in C and in shell. melange gives them equal
 *   precedence and evaluates left to right. `'a' == 'b' || 'c' == 'c' && 'd' == 'e'` is `false` under tk
 *   (`F || (T && F)`) and, for these values, also under melange (`(F || T) && F`); but
 *   `'c' == 'c' || 'a' == 'b' && 'd' == 'e'` is `true` under tk (`T || (F && F)`) and `false` under melange
 *   (`(T || F) && F`). A recipe written for melange's order should use parentheses, which mean the same
 *   under both.
 * - **`!`** negates a parenthesised expression, a comparison (`! 'a' == 'b'` is `!('a' == 'b')`) or
 *   another `!`. melange has no `!`.
 * - **Bare operands** (no comparison) are accepted only when their value is exactly `true` or `false`,
 *   literal or from a variable, so `if: ${{options.docs.enabled}}` works. Any other bare value is an error
 *   (melange rejects every bare operand).
 * - **Variables inside string literals** (`'${{package.name}}-x' == …`) are substituted with their raw
 *   value. melange substitutes them at compile time with a Go-quoted value, which puts quotes inside the
 *   literal.
 * - Unknown escapes in literals (`'\d'`) are kept as written, backslash included, as in melange.
 *
 * Expressions are bounded ({@link MAX_CONDITION_LENGTH} characters, {@link MAX_CONDITION_DEPTH} levels of
 * nesting) so that hostile input cannot exhaust the stack.
 */
import { MelangeError } from '../errors.ts';
import { positionOf, readReference, unknownVariableError, type VariableLookup } from './subst.ts';

/** Longest accepted condition, in characters. */
export const MAX_CONDITION_LENGTH = 8192;
/** Deepest accepted nesting of parentheses and `!`. */
export const MAX_CONDITION_DEPTH = 64;

/** One piece of an operand: literal text or a variable reference. */
export type OperandPart = string | { name: string; offset: number };

/** A literal or a `${{var}}`; literals may hold references too. */
export interface Operand {
  parts: OperandPart[];
  offset: number;
}

/** A parsed condition. */
export type ConditionNode =
  | { type: 'or' | 'and'; left: ConditionNode; right: ConditionNode }
  | { type: 'not'; operand: ConditionNode; offset: number }
  | { type: 'compare'; op: '==' | '!='; left: Operand; right: Operand }
  | { type: 'value'; operand: Operand };

type Token =
  | { kind: '(' | ')' | '&&' | '||' | '!' | '==' | '!=' | 'end'; offset: number }
  | { kind: 'operand'; operand: Operand; offset: number };

function badCondition(text: string, where: string, offset: number, what: string): MelangeError {
  return new MelangeError(
    'MELANGE_BAD_CONDITION',
    `${where}: ${what} at ${positionOf(text, offset)} of "${clip(text)}"`,
    {
      hint: 'conditions compare operands with == or != (\'text\', "text" or ${{var}}), combined with &&, ||, ! and parentheses',
      data: { where, offset, condition: text },
    },
  );
}

function clip(text: string): string {
  const one = text.replace(/\n/g, '\\n');
  return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}

const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t' };

function readLiteral(text: string, start: number, where: string): { operand: Operand; end: number } {
  const quote = text[start];
  const parts: OperandPart[] = [];
  let buf = '';
  let i = start + 1;
  while (i < text.length && text[i] !== quote) {
    const c = text[i] ?? '';
    if (c === '\\' && i + 1 < text.length) {
      const next = text[i + 1] ?? '';
      buf += ESCAPES[next] ?? `\\${next}`;
      i += 2;
    } else if (text.startsWith('${{', i)) {
      const ref = readReference(text, i, where);
      if (buf !== '') parts.push(buf);
      buf = '';
      parts.push({ name: ref.name, offset: i });
      i = ref.end;
    } else {
      buf += c;
      i++;
    }
  }
  if (i >= text.length) throw badCondition(text, where, start, 'unterminated string literal');
  if (buf !== '' || parts.length === 0) parts.push(buf);
  return { operand: { parts, offset: start }, end: i + 1 };
}

function tokenize(text: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '&&' || two === '||' || two === '==' || two === '!=') {
      tokens.push({ kind: two, offset: i });
      i += 2;
    } else if (c === '(' || c === ')' || c === '!') {
      tokens.push({ kind: c, offset: i });
      i++;
    } else if (c === "'" || c === '"') {
      const lit = readLiteral(text, i, where);
      tokens.push({ kind: 'operand', operand: lit.operand, offset: i });
      i = lit.end;
    } else if (text.startsWith('${{', i)) {
      const ref = readReference(text, i, where);
      tokens.push({
        kind: 'operand',
        operand: { parts: [{ name: ref.name, offset: i }], offset: i },
        offset: i,
      });
      i = ref.end;
    } else {
      throw badCondition(text, where, i, `unexpected character ${JSON.stringify(c)}`);
    }
  }
  tokens.push({ kind: 'end', offset: text.length });
  return tokens;
}

class Parser {
  private pos = 0;
  private depth = 0;
  private readonly text: string;
  private readonly tokens: Token[];
  private readonly where: string;
  constructor(text: string, tokens: Token[], where: string) {
    this.text = text;
    this.tokens = tokens;
    this.where = where;
  }

  private peek(): Token {
    return this.tokens[this.pos] ?? { kind: 'end', offset: this.text.length };
  }

  private next(): Token {
    const t = this.peek();
    this.pos++;
    return t;
  }

  private fail(t: Token, what: string): MelangeError {
    return badCondition(this.text, this.where, t.offset, what);
  }

  private enter(t: Token): void {
    this.depth++;
    if (this.depth > MAX_CONDITION_DEPTH)
      throw this.fail(t, `nesting deeper than ${MAX_CONDITION_DEPTH} levels`);
  }

  parse(): ConditionNode {
    const first = this.peek();
    if (first.kind === 'end') throw this.fail(first, 'empty condition');
    const node = this.or();
    const rest = this.peek();
    if (rest.kind !== 'end') {
      throw this.fail(
        rest,
        rest.kind === ')' ? 'unbalanced ")"' : `unexpected ${describe(rest)} after a complete condition`,
      );
    }
    return node;
  }

  private or(): ConditionNode {
    let left = this.and();
    while (this.peek().kind === '||') {
      this.next();
      left = { type: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): ConditionNode {
    let left = this.unary();
    while (this.peek().kind === '&&') {
      this.next();
      left = { type: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): ConditionNode {
    const t = this.peek();
    if (t.kind === '!') {
      this.next();
      this.enter(t);
      const operand = this.unary();
      this.depth--;
      return { type: 'not', operand, offset: t.offset };
    }
    return this.primary();
  }

  private primary(): ConditionNode {
    const t = this.next();
    if (t.kind === '(') {
      this.enter(t);
      const inner = this.or();
      this.depth--;
      const close = this.next();
      if (close.kind !== ')')
        throw this.fail(
          close.kind === 'end' ? t : close,
          close.kind === 'end'
            ? 'unbalanced "(" (no closing ")")'
            : `expected ")" but found ${describe(close)}`,
        );
      return inner;
    }
    if (t.kind !== 'operand') {
      throw this.fail(
        t,
        t.kind === 'end'
          ? 'unexpected end of condition (an operand is missing)'
          : `expected an operand but found ${describe(t)}`,
      );
    }
    const op = this.peek();
    if (op.kind === '==' || op.kind === '!=') {
      this.next();
      const right = this.next();
      if (right.kind !== 'operand') {
        throw this.fail(
          right,
          right.kind === 'end'
            ? `"${op.kind}" has no right-hand operand`
            : `expected an operand after "${op.kind}" but found ${describe(right)}`,
        );
      }
      return { type: 'compare', op: op.kind, left: t.operand, right: right.operand };
    }
    return { type: 'value', operand: t.operand };
  }
}

function describe(t: Token): string {
  if (t.kind === 'operand') return 'an operand';
  if (t.kind === 'end') return 'the end';
  return `"${t.kind}"`;
}

/**
 * Parse a condition.
 *
 * @param text - the `if:` text as written
 * @param where - what it is, for messages (`pipeline[3].if`)
 * @returns the syntax tree
 * @throws {MelangeError} MELANGE_BAD_CONDITION (with the column) for an empty, malformed, too long or too deep
 *   expression; MELANGE_BAD_SUBSTITUTION for a malformed `${{`
 */
export function parseCondition(text: string, where: string): ConditionNode {
  if (text.length > MAX_CONDITION_LENGTH) {
    throw badCondition(
      text,
      where,
      MAX_CONDITION_LENGTH,
      `condition longer than ${MAX_CONDITION_LENGTH} characters`,
    );
  }
  return new Parser(text, tokenize(text, where), where).parse();
}

function operandValue(op: Operand, lookup: VariableLookup, text: string, where: string): string {
  let out = '';
  for (const part of op.parts) {
    if (typeof part === 'string') out += part;
    else {
      const value = lookup.get(part.name);
      if (value === undefined)
        throw unknownVariableError([part.name], lookup, `${where} (${positionOf(text, part.offset)})`);
      out += value;
    }
  }
  return out;
}

/**
 * Evaluate a parsed condition. Every variable is resolved (also in branches that do not decide the result),
 * so an unknown name is always reported.
 *
 * @param node - from {@link parseCondition}
 * @param text - the condition text (for messages)
 * @param lookup - the variables in scope
 * @param where - context for messages
 * @returns the value
 * @throws {MelangeError} MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_CONDITION for a bare value that is not
 *   `true`/`false`
 */
export function evaluateNode(
  node: ConditionNode,
  text: string,
  lookup: VariableLookup,
  where: string,
): boolean {
  switch (node.type) {
    case 'or': {
      const l = evaluateNode(node.left, text, lookup, where);
      const r = evaluateNode(node.right, text, lookup, where);
      return l || r;
    }
    case 'and': {
      const l = evaluateNode(node.left, text, lookup, where);
      const r = evaluateNode(node.right, text, lookup, where);
      return l && r;
    }
    case 'not':
      return !evaluateNode(node.operand, text, lookup, where);
    case 'compare': {
      const l = operandValue(node.left, lookup, text, where);
      const r = operandValue(node.right, lookup, text, where);
      return node.op === '==' ? l === r : l !== r;
    }
    case 'value': {
      const v = operandValue(node.operand, lookup, text, where);
      if (v === 'true') return true;
      if (v === 'false') return false;
      throw badCondition(
        text,
        where,
        node.operand.offset,
        `a bare operand must be 'true' or 'false', not ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)} (compare it with == or !=)`,
      );
    }
  }
}

/**
 * Parse and evaluate a condition.
 *
 * @param text - the `if:` text as written
 * @param lookup - the variables in scope
 * @param where - context for messages
 * @returns whether the condition holds
 * @throws {MelangeError} MELANGE_BAD_CONDITION, MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 * @example
 * evaluateCondition("${{build.arch}} == 'x86_64' && !(${{package.name}} == 'x')", vars, 'pipeline[0].if')
 */
export function evaluateCondition(text: string, lookup: VariableLookup, where: string): boolean {
  return evaluateNode(parseCondition(text, where), text, lookup, where);
}

/**
 * Quote a value as a condition string literal (double quotes; `\\`, `\"`, `\n`, `\t` escaped).
 *
 * @param value - any text
 * @returns a literal that parses back to `value`
 */
export function quoteConditionLiteral(value: string): string {
  return `"${value.replace(/[\\"\n\t]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\${c}`))}"`;
}

function render(
  node: ConditionNode,
  text: string,
  lookup: VariableLookup,
  where: string,
  parent: number,
): string {
  // precedence: or 1, and 2, not/compare/value 3
  switch (node.type) {
    case 'or':
    case 'and': {
      const prec = node.type === 'or' ? 1 : 2;
      const op = node.type === 'or' ? '||' : '&&';
      const s = `${render(node.left, text, lookup, where, prec)} ${op} ${render(node.right, text, lookup, where, prec + 1)}`;
      return prec < parent ? `(${s})` : s;
    }
    case 'not': {
      const inner = render(node.operand, text, lookup, where, 3);
      return node.operand.type === 'compare' ? `!(${inner})` : `!${inner}`;
    }
    case 'compare':
      return `${quoteConditionLiteral(operandValue(node.left, lookup, text, where))} ${node.op} ${quoteConditionLiteral(operandValue(node.right, lookup, text, where))}`;
    case 'value':
      return quoteConditionLiteral(operandValue(node.operand, lookup, text, where));
  }
}

/**
 * A condition with every variable replaced by a quoted literal, in a canonical form that parses back to the
 * same tree (for the compiled config, where no `${{…}}` may remain).
 *
 * @param text - the `if:` text as written
 * @param lookup - the variables in scope
 * @param where - context for messages
 * @returns e.g. `"x86_64" == "x86_64" && !("hello" == "x")`
 * @throws {MelangeError} MELANGE_BAD_CONDITION, MELANGE_UNKNOWN_VARIABLE, MELANGE_BAD_SUBSTITUTION
 */
export function resolveCondition(text: string, lookup: VariableLookup, where: string): string {
  return render(parseCondition(text, where), text, lookup, where, 0);
}

/**
 * A parser for the part of Go's `text/template` language that `melange query` users write
 * (https://pkg.go.dev/text/template): text and `{{actions}}` with `{{-`/`-}}` trimming and `{{/* comments *\/}}`;
 * pipelines of commands joined by `|`; fields (`.Package.Name`), `.`, variables (`$`, `$x`, `$x.Name`),
 * declarations and assignments (`$x := …`, `$x = …`, `range $i, $e := …`), parenthesised pipelines,
 * string (`"…"`, raw), character, number, boolean and `nil` constants, function calls; `if`/`else if`/`else`,
 * `range` (with `else`, `break`, `continue`), `with` (with `else with`), `end`.
 *
 * Not supported (a MELANGE_QUERY_BAD_TEMPLATE error says so): `define`, `template`, `block`, and methods with
 * arguments. Function names are checked at parse time, as Go does.
 *
 * Hostile templates are bounded: {@link MAX_TEMPLATE_LENGTH} characters, {@link MAX_NESTING} levels of
 * blocks and parentheses.
 */
import { MelangeError } from '../errors.ts';

/** Longest template accepted. */
export const MAX_TEMPLATE_LENGTH = 64 * 1024;
/** Deepest nesting of blocks (`if`, `range`, `with`) and parentheses. */
export const MAX_NESTING = 64;

/** An operand of a command. */
export type Arg =
  | { kind: 'field'; pos: number; names: string[] }
  | { kind: 'dot'; pos: number }
  | { kind: 'var'; pos: number; name: string; names: string[] }
  | { kind: 'ident'; pos: number; name: string }
  | { kind: 'nil'; pos: number }
  | { kind: 'bool'; pos: number; value: boolean }
  | { kind: 'number'; pos: number; value: number; text: string }
  | { kind: 'string'; pos: number; value: string }
  | { kind: 'pipe'; pos: number; pipe: Pipe; names: string[] };

/** A command: a function or operand and its arguments. */
export interface Command {
  pos: number;
  args: Arg[];
}

/** A pipeline with its optional declaration (`$x :=`) or assignment (`$x =`). */
export interface Pipe {
  pos: number;
  vars: string[];
  assign: boolean;
  cmds: Command[];
}

/** A template node. */
export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pos: number; pipe: Pipe }
  | { kind: 'if' | 'with'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { kind: 'range'; pos: number; pipe: Pipe; list: Node[]; elseList?: Node[] }
  | { kind: 'break' | 'continue'; pos: number };

/** Names of the functions a template may call. */
export const FUNCTION_NAMES: ReadonlySet<string> = new Set([
  'and',
  'or',
  'not',
  'len',
  'index',
  'slice',
  'print',
  'printf',
  'println',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'html',
  'urlquery',
]);

/**
 * Line and column (1-based) of an offset in the template.
 *
 * @param text - the template
 * @param offset - an offset into it
 * @returns `line:column`
 */
export function position(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `${line}:${column}`;
}

type TokenKind =
  | 'text'
  | 'open'
  | 'close'
  | 'space'
  | 'field'
  | 'dot'
  | 'var'
  | 'ident'
  | 'string'
  | 'char'
  | 'number'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'eof';

interface Token {
  kind: TokenKind;
  pos: number;
  value: string;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[\p{L}\p{Nd}_]$/u.test(c);

class Lexer {
  readonly tokens: Token[] = [];
  private pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  fail(pos: number, message: string): never {
    throw new MelangeError('MELANGE_QUERY_BAD_TEMPLATE', `template ${position(this.text, pos)}: ${message}`, {
      hint: 'queries use Go text/template syntax, e.g. {{.Package.Name}}-{{.Package.Version}}-r{{.Package.Epoch}}',
      data: { position: position(this.text, pos) },
    });
  }

  run(): Token[] {
    const t = this.text;
    while (this.pos < t.length) {
      const open = t.indexOf('{{', this.pos);
      const end = open < 0 ? t.length : open;
      let text = t.slice(this.pos, end);
      if (open >= 0 && t[open + 2] === '-' && isSpace(t[open + 3])) text = text.replace(/[ \t\r\n]+$/, '');
      if (text !== '') this.tokens.push({ kind: 'text', pos: this.pos, value: text });
      if (open < 0) {
        this.pos = t.length;
        break;
      }
      this.pos = open + 2;
      if (t[this.pos] === '-' && isSpace(t[this.pos + 1])) this.pos += 2;
      while (isSpace(t[this.pos])) this.pos++;
      if (t.startsWith('/*', this.pos)) {
        this.comment(open);
        continue;
      }
      this.tokens.push({ kind: 'open', pos: open, value: '{{' });
      this.action(open);
    }
    this.tokens.push({ kind: 'eof', pos: t.length, value: '' });
    return this.tokens;
  }

  /** After a closing delimiter with `-}}`, drop the whitespace that follows. */
  private trimAfter(): void {
    while (isSpace(this.text[this.pos])) this.pos++;
  }

  private comment(open: number): void {
    const t = this.text;
    const end = t.indexOf('*/', this.pos + 2);
    if (end < 0) this.fail(open, 'unclosed comment');
    this.pos = end + 2;
    if (t.startsWith(' -}}', this.pos)) {
      this.pos += 4;
      this.trimAfter();
    } else if (t.startsWith('}}', this.pos)) this.pos += 2;
    else this.fail(open, 'comment ends before closing delimiter');
  }

  private action(open: number): void {
    const t = this.text;
    let depth = 0;
    for (;;) {
      if (this.pos >= t.length) this.fail(open, 'unclosed action');
      const c = t[this.pos]!;
      const start = this.pos;
      if (isSpace(c)) {
        // ` -}}` closes with trimming.
        let j = this.pos;
        while (isSpace(t[j])) j++;
        if (t.startsWith('-}}', j) && depth === 0) {
          this.tokens.push({ kind: 'close', pos: j, value: '}}' });
          this.pos = j + 3;
          this.trimAfter();
          return;
        }
        this.tokens.push({ kind: 'space', pos: start, value: ' ' });
        this.pos = j;
        continue;
      }
      if (t.startsWith('}}', this.pos)) {
        if (depth > 0) this.fail(this.pos, 'unclosed left paren');
        this.tokens.push({ kind: 'close', pos: start, value: '}}' });
        this.pos += 2;
        return;
      }
      if (c === '|') this.push('pipe', start, 1);
      else if (c === '(') {
        if (++depth > MAX_NESTING) this.fail(start, `parentheses nest deeper than ${MAX_NESTING}`);
        this.push('lparen', start, 1);
      } else if (c === ')') {
        if (--depth < 0) this.fail(start, 'unexpected right paren');
        this.push('rparen', start, 1);
      } else if (c === ',') this.push('comma', start, 1);
      else if (c === '=') this.push('assign', start, 1);
      else if (c === ':') {
        if (t[this.pos + 1] !== '=') this.fail(start, 'expected :=');
        this.push('declare', start, 2);
      } else if (c === '"') this.quoted(start);
      else if (c === '`') {
        const end = t.indexOf('`', this.pos + 1);
        if (end < 0) this.fail(start, 'unterminated raw quoted string');
        this.tokens.push({ kind: 'string', pos: start, value: t.slice(this.pos + 1, end) });
        this.pos = end + 1;
      } else if (c === "'") this.char(start);
      else if (c === '$') {
        let j = this.pos + 1;
        while (isAlnum(t[j])) j++;
        this.tokens.push({ kind: 'var', pos: start, value: t.slice(this.pos, j) });
        this.pos = j;
      } else if (c === '.' && !/[0-9]/.test(t[this.pos + 1] ?? '')) {
        if (isAlnum(t[this.pos + 1])) {
          let j = this.pos + 1;
          while (isAlnum(t[j])) j++;
          this.tokens.push({ kind: 'field', pos: start, value: t.slice(this.pos + 1, j) });
          this.pos = j;
        } else this.push('dot', start, 1);
      } else if (/[0-9+\-.]/.test(c)) this.number(start);
      else if (isAlnum(c)) {
        let j = this.pos;
        while (isAlnum(t[j])) j++;
        this.tokens.push({ kind: 'ident', pos: start, value: t.slice(this.pos, j) });
        this.pos = j;
      } else this.fail(start, `unrecognized character in action: ${JSON.stringify(c)}`);
    }
  }

  private push(kind: TokenKind, start: number, length: number): void {
    this.tokens.push({ kind, pos: start, value: this.text.slice(start, start + length) });
    this.pos = start + length;
  }

  private quoted(start: number): void {
    const t = this.text;
    let j = this.pos + 1;
    let out = '';
    for (;;) {
      const c = t[j];
      if (c === undefined || c === '\n') this.fail(start, 'unterminated quoted string');
      if (c === '"') break;
      if (c === '\\') {
        const [value, next] = this.escape(j, '"', start);
        out += value;
        j = next;
        continue;
      }
      out += c;
      j++;
    }
    this.tokens.push({ kind: 'string', pos: start, value: out });
    this.pos = j + 1;
  }

  private char(start: number): void {
    const t = this.text;
    let value: string;
    let j: number;
    if (t[this.pos + 1] === '\\') [value, j] = this.escape(this.pos + 1, "'", start);
    else {
      const cp = t.codePointAt(this.pos + 1);
      if (cp === undefined || t[this.pos + 1] === "'") this.fail(start, 'empty character constant');
      value = String.fromCodePoint(cp);
      j = this.pos + 1 + value.length;
    }
    if (t[j] !== "'") this.fail(start, 'unterminated character constant');
    this.tokens.push({ kind: 'char', pos: start, value });
    this.pos = j + 1;
  }

  /** A Go escape sequence at `j` (the backslash): its value and the offset after it. */
  private escape(j: number, quote: string, start: number): [string, number] {
    const t = this.text;
    const c = t[j + 1];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
    };
    if (c !== undefined && simple[c] !== undefined) return [simple[c], j + 2];
    if (c === quote) return [quote, j + 2];
    const hex = (len: number): [string, number] => {
      const digits = t.slice(j + 2, j + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(digits)) this.fail(start, 'invalid escape in string');
      const cp = parseInt(digits, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(start, 'invalid Unicode escape');
      return [String.fromCodePoint(cp), j + 2 + len];
    };
    if (c === 'x') return hex(2);
    if (c === 'u') return hex(4);
    if (c === 'U') return hex(8);
    if (c !== undefined && /[0-7]/.test(c)) {
      const digits = t.slice(j + 1, j + 4);
      if (!/^[0-7]{3}$/.test(digits)) this.fail(start, 'invalid octal escape');
      return [String.fromCharCode(parseInt(digits, 8) & 0xff), j + 4];
    }
    this.fail(start, 'unknown escape sequence');
  }

  private number(start: number): void {
    const t = this.text;
    const m =
      /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?)/.exec(
        t.slice(this.pos, this.pos + 400),
      );
    const text = m?.[0] ?? '';
    if (text === '' || text === '+' || text === '-' || text === '.' || isAlnum(t[this.pos + text.length]))
      this.fail(start, `bad number syntax: ${JSON.stringify(t.slice(this.pos, this.pos + 20))}`);
    this.tokens.push({ kind: 'number', pos: start, value: text });
    this.pos += text.length;
  }
}

function parseNumber(text: string): number | undefined {
  const clean = text.replace(/_/g, '');
  const sign = clean.startsWith('-') ? -1 : 1;
  const body = clean.replace(/^[+-]/, '');
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (/^0[bB]/.test(body)) n = parseInt(body.slice(2), 2);
  else if (/^0[oO]/.test(body)) n = parseInt(body.slice(2), 8);
  else n = Number(body);
  return Number.isFinite(n) ? sign * n : undefined;
}

class Parser {
  private i = 0;
  private depth = 0;
  private rangeDepth = 0;
  private readonly tokens: Token[];
  private readonly lexer: Lexer;
  constructor(lexer: Lexer, tokens: Token[]) {
    this.lexer = lexer;
    this.tokens = tokens;
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  private skipSpace(): void {
    while (this.peek().kind === 'space') this.i++;
  }
  private nextNonSpace(): Token {
    this.skipSpace();
    return this.next();
  }
  private peekNonSpace(): Token {
    this.skipSpace();
    return this.peek();
  }
  private fail(pos: number, message: string): never {
    this.lexer.fail(pos, message);
  }

  /** Top level: nodes until EOF. */
  parseTemplate(): Node[] {
    const { list, end } = this.list();
    if (end !== undefined) this.fail(end.pos, `unexpected {{${end.word}}}`);
    return list;
  }

  /** Nodes until `{{end}}`, `{{else…}}` or EOF; the terminating keyword is returned, not consumed beyond its word. */
  private list(): { list: Node[]; end?: { word: 'end' | 'else'; pos: number } } {
    const list: Node[] = [];
    for (;;) {
      const tok = this.next();
      if (tok.kind === 'eof') {
        this.i--;
        return { list };
      }
      if (tok.kind === 'text') {
        list.push({ kind: 'text', text: tok.value });
        continue;
      }
      // tok is 'open'
      const head = this.peekNonSpace();
      if (head.kind === 'ident') {
        switch (head.value) {
          case 'end':
          case 'else':
            this.next();
            return { list, end: { word: head.value, pos: head.pos } };
          case 'if':
          case 'range':
          case 'with':
            this.next();
            list.push(this.control(head.value, head.pos));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0) this.fail(head.pos, `{{${head.value}}} outside {{range}}`);
            this.next();
            this.expectClose(head.value);
            list.push({ kind: head.value, pos: head.pos });
            continue;
          case 'define':
          case 'template':
          case 'block':
            this.fail(head.pos, `{{${head.value}}} is not supported by tk melange query`);
        }
      }
      const pipe = this.pipeline('command', head.pos);
      list.push({ kind: 'action', pos: head.pos, pipe });
    }
  }

  private expectClose(context: string): void {
    const tok = this.nextNonSpace();
    if (tok.kind !== 'close') this.fail(tok.pos, `unexpected ${describe(tok)} in ${context}`);
  }

  private control(word: 'if' | 'range' | 'with', pos: number): Node {
    if (++this.depth > MAX_NESTING) this.fail(pos, `blocks nest deeper than ${MAX_NESTING}`);
    const pipe = this.pipeline(word, pos);
    if (word === 'range') this.rangeDepth++;
    const body = this.list();
    if (word === 'range') this.rangeDepth--;
    if (body.end === undefined) this.fail(pos, `unexpected EOF: {{${word}}} has no {{end}}`);
    let elseList: Node[] | undefined;
    if (body.end.word === 'else') {
      const after = this.peekNonSpace();
      if ((word === 'if' || word === 'with') && after.kind === 'ident' && after.value === word) {
        // `{{else if …}}` / `{{else with …}}`: a nested block that shares our {{end}}.
        this.next();
        elseList = [this.control(word, after.pos)];
        this.depth--;
        return { kind: word, pos, pipe, list: body.list, elseList };
      }
      this.expectClose('else');
      const rest = this.list();
      if (rest.end?.word !== 'end') this.fail(pos, `{{${word}}} has no {{end}} after its {{else}}`);
      this.expectClose('end');
      elseList = rest.list;
    } else this.expectClose('end');
    this.depth--;
    return word === 'range'
      ? { kind: 'range', pos, pipe, list: body.list, ...(elseList === undefined ? {} : { elseList }) }
      : { kind: word, pos, pipe, list: body.list, ...(elseList === undefined ? {} : { elseList }) };
  }

  /** A pipeline up to `}}` (or `)` inside parentheses). */
  private pipeline(context: string, pos: number, inParens = false): Pipe {
    const pipe: Pipe = { pos, vars: [], assign: false, cmds: [] };
    // Declarations: $x := / $x = / $i, $e :=
    const save = this.i;
    const first = this.peekNonSpace();
    if (first.kind === 'var') {
      this.next();
      const after = this.peekNonSpace();
      if (after.kind === 'declare' || after.kind === 'assign') {
        this.next();
        pipe.vars.push(first.value);
        pipe.assign = after.kind === 'assign';
      } else if (after.kind === 'comma' && context === 'range') {
        this.next();
        const second = this.nextNonSpace();
        if (second.kind !== 'var') this.fail(second.pos, 'range can only initialize variables');
        const op = this.nextNonSpace();
        if (op.kind !== 'declare' && op.kind !== 'assign')
          this.fail(op.pos, 'expected := after range variables');
        pipe.vars.push(first.value, second.value);
        pipe.assign = op.kind === 'assign';
      } else this.i = save;
    }
    if (pipe.vars[0] === '$') this.fail(first.pos, 'cannot declare or assign $');
    for (;;) {
      const tok = this.peekNonSpace();
      if (tok.kind === 'close' && !inParens) {
        this.next();
        break;
      }
      if (tok.kind === 'rparen' && inParens) {
        this.next();
        break;
      }
      if (tok.kind === 'close' || tok.kind === 'rparen' || tok.kind === 'eof')
        this.fail(tok.pos, `unexpected ${describe(tok)} in ${context}`);
      pipe.cmds.push(this.command(context));
      const sep = this.peekNonSpace();
      if (sep.kind === 'pipe') {
        this.next();
        if (pipe.cmds.length > 0 && this.peekNonSpace().kind === 'close')
          this.fail(sep.pos, 'missing command after |');
      }
    }
    if (pipe.cmds.length === 0) this.fail(pos, `missing value for ${context}`);
    return pipe;
  }

  private command(context: string): Command {
    const cmd: Command = { pos: this.peek().pos, args: [] };
    for (;;) {
      const tok = this.peekNonSpace();
      if (tok.kind === 'close' || tok.kind === 'rparen' || tok.kind === 'pipe' || tok.kind === 'eof') break;
      cmd.args.push(this.operand(context));
      const after = this.peek();
      if (
        after.kind !== 'space' &&
        after.kind !== 'close' &&
        after.kind !== 'rparen' &&
        after.kind !== 'pipe'
      )
        this.fail(after.pos, `missing space before ${describe(after)}`);
    }
    if (cmd.args.length === 0) this.fail(cmd.pos, `empty command in ${context}`);
    return cmd;
  }

  /** A term and the field names that follow it directly (`$x.Name`, `(…).Name`). */
  private operand(context: string): Arg {
    const tok = this.next();
    const fields = (): string[] => {
      const names: string[] = [];
      while (this.peek().kind === 'field') names.push(this.next().value);
      return names;
    };
    switch (tok.kind) {
      case 'field':
        return { kind: 'field', pos: tok.pos, names: [tok.value, ...fields()] };
      case 'dot': {
        if (this.peek().kind === 'field') this.fail(tok.pos, 'unexpected . after term "."');
        return { kind: 'dot', pos: tok.pos };
      }
      case 'var':
        return { kind: 'var', pos: tok.pos, name: tok.value, names: fields() };
      case 'string':
        return { kind: 'string', pos: tok.pos, value: tok.value };
      case 'char':
        return { kind: 'number', pos: tok.pos, value: tok.value.codePointAt(0)!, text: tok.value };
      case 'number': {
        const value = parseNumber(tok.value);
        if (value === undefined) this.fail(tok.pos, `bad number: ${tok.value}`);
        return { kind: 'number', pos: tok.pos, value, text: tok.value };
      }
      case 'lparen': {
        if (++this.depth > MAX_NESTING) this.fail(tok.pos, `parentheses nest deeper than ${MAX_NESTING}`);
        const pipe = this.pipeline('parenthesized pipeline', tok.pos, true);
        this.depth--;
        return { kind: 'pipe', pos: tok.pos, pipe, names: fields() };
      }
      case 'ident': {
        if (tok.value === 'true' || tok.value === 'false')
          return { kind: 'bool', pos: tok.pos, value: tok.value === 'true' };
        if (tok.value === 'nil') return { kind: 'nil', pos: tok.pos };
        if (!FUNCTION_NAMES.has(tok.value)) this.fail(tok.pos, `function "${tok.value}" not defined`);
        if (this.peek().kind === 'field') this.fail(tok.pos, `unexpected field after function ${tok.value}`);
        return { kind: 'ident', pos: tok.pos, name: tok.value };
      }
      default:
        this.fail(tok.pos, `unexpected ${describe(tok)} in ${context}`);
    }
  }
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'close':
      return '"}}"';
    case 'eof':
      return 'EOF';
    case 'rparen':
      return '")"';
    default:
      return JSON.stringify(tok.value);
  }
}

/**
 * Parse a template.
 *
 * @param text - the template text
 * @returns its nodes
 * @throws {MelangeError} MELANGE_QUERY_BAD_TEMPLATE with the line and column of the problem
 * @example
 * parseTemplate('{{.Package.Name}}-{{.Package.Version}}');
 */
export function parseTemplate(text: string): Node[] {
  if (text.length > MAX_TEMPLATE_LENGTH) {
    throw new MelangeError(
      'MELANGE_QUERY_BAD_TEMPLATE',
      `the template is ${text.length} characters long, over the ${MAX_TEMPLATE_LENGTH}-character limit`,
      { hint: 'queries are short templates, such as {{.Package.Name}}-{{.Package.Version}}' },
    );
  }
  const lexer = new Lexer(text);
  const tokens = lexer.run();
  return new Parser(lexer, tokens).parseTemplate();
}

/**
 * Running a parsed template over a {@link GoValue} (Go `text/template` semantics: fields and methods of
 * structs, map keys as fields, `<no value>` for a missing key, truth as Go defines it, `range` over slices,
 * maps in key order and integers, variables scoped to their block).
 *
 * Bounded for hostile templates: at most {@link MAX_STEPS} evaluation steps and {@link MAX_OUTPUT}
 * characters of output, whatever nesting of `range` the template has.
 */
import { MelangeError, type MelangeErrorCode } from '../errors.ts';
import { callFunction } from './funcs.ts';
import { position, type Arg, type Command, type Node, type Pipe } from './parse.ts';
import {
  formatValue,
  GoMap,
  GoPointer,
  GoSlice,
  GoStruct,
  isTrue,
  typeName,
  type GoValue,
} from './values.ts';

/** Most evaluation steps (nodes, commands, fields, iterations) one run may take. */
export const MAX_STEPS = 1_000_000;
/** Longest output, in characters. */
export const MAX_OUTPUT = 16 * 1024 * 1024;

/** Thrown by `{{break}}` and `{{continue}}`, caught by the enclosing `range`. */
class Break extends Error {}
class Continue extends Error {}
const BREAK = new Break('{{break}} outside {{range}}');
const CONTINUE = new Continue('{{continue}} outside {{range}}');

interface Scope {
  vars: Map<string, GoValue>;
  parent?: Scope;
}

class Exec {
  private steps = 0;
  private out: string[] = [];
  private size = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  fail(code: MelangeErrorCode, pos: number, message: string, hint?: string): never {
    const where = position(this.text, pos);
    throw new MelangeError(code, `template ${where}: ${message}`, {
      hint:
        hint ??
        (code === 'MELANGE_QUERY_UNKNOWN_FIELD'
          ? "fields use melange's Go names: {{.Package.Name}}, {{.Package.Version}}, {{.Package.Epoch}}, {{range .Subpackages}}{{.Name}}{{end}}"
          : 'check the template against Go text/template rules'),
      data: { position: where },
    });
  }

  private tick(pos: number): void {
    if (++this.steps > MAX_STEPS)
      this.fail(
        'MELANGE_QUERY_FAILED',
        pos,
        `the template took more than ${MAX_STEPS} steps`,
        'simplify the template',
      );
  }

  private write(text: string, pos: number): void {
    this.size += text.length;
    if (this.size > MAX_OUTPUT)
      this.fail(
        'MELANGE_QUERY_FAILED',
        pos,
        `the output is over ${MAX_OUTPUT} characters`,
        'simplify the template',
      );
    this.out.push(text);
  }

  run(nodes: readonly Node[], data: GoValue): string {
    const scope: Scope = { vars: new Map([['$', data]]) };
    try {
      this.list(nodes, data, scope);
    } catch (e) {
      if (e instanceof Break || e instanceof Continue)
        this.fail('MELANGE_QUERY_BAD_TEMPLATE', 0, '{{break}} or {{continue}} outside {{range}}');
      throw e;
    }
    return this.out.join('');
  }

  private list(nodes: readonly Node[], dot: GoValue, scope: Scope): void {
    for (const node of nodes) this.node(node, dot, scope);
  }

  private node(node: Node, dot: GoValue, scope: Scope): void {
    switch (node.kind) {
      case 'text':
        this.write(node.text, 0);
        return;
      case 'action': {
        this.tick(node.pos);
        const value = this.pipe(node.pipe, dot, scope);
        if (node.pipe.vars.length === 0) this.write(formatValue(value), node.pos);
        return;
      }
      case 'if':
      case 'with': {
        this.tick(node.pos);
        const inner: Scope = { vars: new Map(), parent: scope };
        const value = this.pipe(node.pipe, dot, inner);
        if (isTrue(value)) this.list(node.list, node.kind === 'with' ? value : dot, inner);
        // A variable declared in the condition is in scope up to {{end}}, the {{else}} branch included.
        else if (node.elseList !== undefined) this.list(node.elseList, dot, inner);
        return;
      }
      case 'range':
        this.range(node, dot, scope);
        return;
      case 'break':
        throw BREAK;
      case 'continue':
        throw CONTINUE;
    }
  }

  private range(node: Extract<Node, { kind: 'range' }>, dot: GoValue, scope: Scope): void {
    this.tick(node.pos);
    // The range variables are set per iteration; evaluate the pipeline without declaring them.
    const value = this.pipe({ ...node.pipe, vars: [] }, dot, scope);
    let items: [GoValue, GoValue][];
    if (value instanceof GoSlice) items = value.items.map((v, i) => [i, v]);
    else if (value instanceof GoMap) items = value.sortedKeys().map((k) => [k, value.entries.get(k)]);
    else if (typeof value === 'number' && Number.isInteger(value)) {
      if (value > MAX_STEPS) this.fail('MELANGE_QUERY_FAILED', node.pos, `range over ${value} is too long`);
      items = Array.from({ length: Math.max(0, value) }, (_, i) => [i, i]);
    } else if (value === undefined || value === null) items = [];
    else this.fail('MELANGE_QUERY_FAILED', node.pipe.pos, `range can't iterate over ${formatValue(value)}`);
    if (items.length === 0) {
      if (node.elseList !== undefined) this.list(node.elseList, dot, { vars: new Map(), parent: scope });
      return;
    }
    for (const [key, elem] of items) {
      this.tick(node.pos);
      const inner: Scope = { vars: new Map(), parent: scope };
      const [first, second] = node.pipe.vars;
      const set = (name: string, v: GoValue): void => {
        if (node.pipe.assign) this.assign(name, v, inner, node.pos);
        else inner.vars.set(name, v);
      };
      if (second !== undefined) {
        set(first!, key);
        set(second, elem);
      } else if (first !== undefined) set(first, elem);
      try {
        this.list(node.list, elem, inner);
      } catch (e) {
        if (e instanceof Break) break;
        if (e instanceof Continue) continue;
        throw e;
      }
    }
  }

  private lookup(name: string, scope: Scope, pos: number): GoValue {
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
      if (s.vars.has(name)) return s.vars.get(name);
    }
    this.fail('MELANGE_QUERY_FAILED', pos, `undefined variable: ${name}`);
  }

  private assign(name: string, value: GoValue, scope: Scope, pos: number): void {
    for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
      if (s.vars.has(name)) {
        s.vars.set(name, value);
        return;
      }
    }
    this.fail('MELANGE_QUERY_FAILED', pos, `undefined variable: ${name}`);
  }

  private pipe(pipe: Pipe, dot: GoValue, scope: Scope): GoValue {
    let value: GoValue;
    let piped = false;
    for (const cmd of pipe.cmds) {
      value = this.command(cmd, dot, scope, piped ? { value } : undefined);
      piped = true;
    }
    const [name] = pipe.vars;
    if (name !== undefined) {
      if (pipe.assign) this.assign(name, value, scope, pipe.pos);
      else scope.vars.set(name, value);
    }
    return value;
  }

  private command(cmd: Command, dot: GoValue, scope: Scope, final: { value: GoValue } | undefined): GoValue {
    this.tick(cmd.pos);
    const [first, ...rest] = cmd.args;
    if (first === undefined) this.fail('MELANGE_QUERY_FAILED', cmd.pos, 'empty command');
    if (first.kind === 'ident') {
      const args = rest.map((a) => () => this.arg(a, dot, scope));
      if (final !== undefined) args.push(() => final.value);
      return callFunction(first.name, args, (message) =>
        this.fail('MELANGE_QUERY_FAILED', first.pos, message),
      );
    }
    if (first.kind === 'nil') this.fail('MELANGE_QUERY_FAILED', first.pos, 'nil is not a command');
    if (rest.length > 0 || final !== undefined) {
      const fieldLike = first.kind === 'field' || (first.kind === 'var' && first.names.length > 0);
      this.fail(
        'MELANGE_QUERY_FAILED',
        first.pos,
        fieldLike
          ? `${this.describe(first)} is not a method but has arguments`
          : `can't give argument to non-function ${this.describe(first)}`,
      );
    }
    return this.arg(first, dot, scope);
  }

  private describe(arg: Arg): string {
    switch (arg.kind) {
      case 'field':
        return `.${arg.names.join('.')}`;
      case 'var':
        return `${arg.name}${arg.names.map((n) => `.${n}`).join('')}`;
      case 'dot':
        return '.';
      case 'string':
        return JSON.stringify(arg.value);
      case 'number':
        return arg.text;
      default:
        return arg.kind;
    }
  }

  private arg(arg: Arg, dot: GoValue, scope: Scope): GoValue {
    this.tick(arg.pos);
    switch (arg.kind) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'bool':
      case 'number':
      case 'string':
        return arg.value;
      case 'field':
        return this.fields(dot, arg.names, arg.pos, '');
      case 'var':
        return this.fields(this.lookup(arg.name, scope, arg.pos), arg.names, arg.pos, arg.name);
      case 'pipe':
        return this.fields(
          this.pipe(arg.pipe, dot, { vars: new Map(), parent: scope }),
          arg.names,
          arg.pos,
          '(…)',
        );
      case 'ident':
        return callFunction(arg.name, [], (message) => this.fail('MELANGE_QUERY_FAILED', arg.pos, message));
    }
  }

  /** Follow a chain of field names from a receiver. */
  private fields(receiver: GoValue, names: readonly string[], pos: number, base: string): GoValue {
    let value = receiver;
    let path = base;
    for (const name of names) {
      this.tick(pos);
      path += `.${name}`;
      value = this.field(value, name, pos, path);
    }
    return value;
  }

  private field(receiver: GoValue, name: string, pos: number, path: string): GoValue {
    let v = receiver;
    if (v instanceof GoPointer) {
      if (v.target === null)
        this.fail('MELANGE_QUERY_FAILED', pos, `at <${path}>: nil pointer evaluating ${v.type}.${name}`);
      v = v.target;
    }
    if (v instanceof GoStruct) {
      if (v.fields.has(name)) return v.fields.get(name);
      const method = v.methods[name];
      if (method !== undefined) return method();
      const known = [...v.fields.keys(), ...Object.keys(v.methods)].join(', ');
      this.fail(
        'MELANGE_QUERY_UNKNOWN_FIELD',
        pos,
        `at <${path}>: can't evaluate field ${name} in type ${v.type}`,
        `${v.type} has: ${known}`,
      );
    }
    if (v instanceof GoMap) return v.entries.get(name);
    if (v === undefined || v === null)
      this.fail('MELANGE_QUERY_FAILED', pos, `at <${path}>: nil pointer evaluating interface {}.${name}`);
    this.fail(
      'MELANGE_QUERY_UNKNOWN_FIELD',
      pos,
      `at <${path}>: can't evaluate field ${name} in type ${typeName(v)}`,
    );
  }
}

/**
 * Run a parsed template.
 *
 * @param text - the template text (for positions in messages)
 * @param nodes - the parsed template
 * @param data - the value `.` starts as
 * @returns the output
 * @throws {MelangeError} MELANGE_QUERY_UNKNOWN_FIELD, MELANGE_QUERY_FAILED
 */
export function executeTemplate(text: string, nodes: readonly Node[], data: GoValue): string {
  return new Exec(text).run(nodes, data);
}

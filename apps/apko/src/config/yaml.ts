/**
 * YAML text → plain JS value, keeping the source position of every key and value.
 *
 * The conversion is guided by the schema (a {@link YamlGuide}) so that scalars become what apko's decoder (Go yaml.v3)
 * would make of them:
 * - a string field takes any scalar's source text (`PORT: 8080` → "8080", `VERSION: 1.0` → "1.0"),
 *   because yaml.v3 decodes ints, floats and bools into Go strings by their text;
 * - a number field reads `0755` as octal (yaml.v3 follows YAML 1.1 there; YAML 1.2 would say 755) as well
 *   as `0o755`, `0x1ed` and `0b…`;
 * - a boolean field takes YAML 1.1's `yes`/`no`/`on`/`off` (yaml.v3 does for typed bools);
 * - `key:` with no value means the key is absent (yaml.v3 leaves the Go zero value), except in string
 *   maps, where it is the empty string.
 * Duplicate keys are reported (yaml.v3 rejects them); `__proto__` keys are refused.
 *
 * Hostile input: the yaml package recurses once per nesting level while lexing `- - - …` and while
 * composing, and overflows the stack at about a thousand levels. Before parsing, a scan bounds the
 * structure (compact indicators per line, indentation, flow nesting); the converter bounds nesting depth
 * and the number of values aliases expand to (billion laughs); a stack overflow that gets through
 * anyway is reported as CONFIG_TOO_LARGE, never thrown raw.
 */
import {
  Lexer,
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Scalar,
} from 'yaml';
import { ConfigError, type ConfigIssue } from './errors.ts';

/** A key or index on the way from the document root to a value. */
export type PathSegment = string | number;

/** A 1-based line and column. */
export interface SourcePos {
  line: number;
  column: number;
}

/** Where a value (and the key that names it, for map entries) is written. */
export interface NodePosition {
  file: string;
  value: SourcePos;
  key?: SourcePos;
}

/** Positions of every value of a document, by path. */
export class PositionIndex {
  readonly #map = new Map<string, { path: PathSegment[]; pos: NodePosition }>();

  /** Record the position of the value at `path`. */
  set(path: readonly PathSegment[], pos: NodePosition): void {
    this.#map.set(pathKey(path), { path: [...path], pos });
  }

  /** The position recorded for exactly `path`. */
  get(path: readonly PathSegment[]): NodePosition | undefined {
    return this.#map.get(pathKey(path))?.pos;
  }

  /** The position of `path`, or of its nearest ancestor that has one (a missing key: its map). */
  locate(path: readonly PathSegment[]): NodePosition | undefined {
    for (let n = path.length; n >= 0; n--) {
      const found = this.get(path.slice(0, n));
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** Every recorded entry. */
  entries(): IterableIterator<{ path: PathSegment[]; pos: NodePosition }> {
    return this.#map.values();
  }
}

function pathKey(path: readonly PathSegment[]): string {
  return JSON.stringify(path);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Render a path the way issues show it: `accounts.users[0].uid`, `annotations["org.opencontainers.x"]`.
 *
 * @param path - keys and indexes
 * @returns the dotted form (`''` for the root)
 */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENT.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Limits on one YAML document. */
export const YAML_LIMITS = {
  /** Nesting of maps and sequences, after alias expansion. Real configs nest 4 deep. */
  maxDepth: 64,
  /** Values produced by expanding aliases (other values are bounded by the file size). */
  maxAliasNodes: 10_000,
  /** `[`/`{` nesting, checked before parsing. */
  maxFlowDepth: 64,
  /** Compact block indicators (`- - -`) on one line, checked before parsing. */
  maxCompactIndicators: 16,
  /** Leading spaces on a line, checked before parsing. */
  maxIndent: 256,
};

/** The result of reading one YAML document. */
export interface YamlDocument {
  value: unknown;
  positions: PositionIndex;
  /** Problems found while converting (duplicate keys, non-string keys); the document is still usable. */
  issues: ConfigIssue[];
}

/** How the scalars of a value are read (see the file comment). */
export type YamlKind = 'string' | 'number' | 'boolean' | 'other';

/**
 * What the reader knows of the schema a document will be checked against: made from a zod schema by
 * `zodGuide` (`zod-guide.ts`) or from plain data by `shapeGuide` (`shape.ts`), which needs no zod.
 */
export interface YamlGuide {
  /** How a scalar at this place is read. */
  readonly kind: YamlKind;
  /** Whether this is a map of free keys (a record), where `key:` alone is the empty string. */
  readonly record: boolean;
  /** The guide of a map entry or list item, or undefined when the schema has no such child. */
  child(key: PathSegment): YamlGuide | undefined;
}

function kindOf(guide: YamlGuide | undefined): YamlKind {
  return guide?.kind ?? 'other';
}

const YAML11_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON']);
const YAML11_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);

function scalarValue(node: Scalar, kind: YamlKind): unknown {
  const value = node.value;
  if (value === null || value === undefined) return null;
  const plain = node.type === 'PLAIN' && node.tag === undefined;
  const source = node.source ?? String(value as string | number | boolean);
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value;
      return plain ? source : String(value as number | boolean);
    case 'number':
      if (plain) {
        const octal = /^([-+]?)0([0-7]+)$/.exec(source);
        if (octal !== null) return (octal[1] === '-' ? -1 : 1) * parseInt(octal[2]!, 8);
        const binary = /^([-+]?)0b([01]+)$/.exec(source);
        if (binary !== null) return (binary[1] === '-' ? -1 : 1) * parseInt(binary[2]!, 2);
      }
      return value;
    case 'boolean':
      if (plain && typeof value === 'string') {
        if (YAML11_TRUE.has(value)) return true;
        if (YAML11_FALSE.has(value)) return false;
      }
      return value;
    default:
      return value;
  }
}

interface Ctx {
  doc: Document.Parsed;
  file: string;
  lc: LineCounter;
  positions: PositionIndex;
  issues: ConfigIssue[];
  aliasNodes: number;
  aliases: Set<unknown>;
}

function posOf(ctx: Ctx, offset: number): SourcePos {
  const { line, col } = ctx.lc.linePos(offset);
  return { line, column: col };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0];
}

function issueAt(
  ctx: Ctx,
  path: PathSegment[],
  offset: number | undefined,
  message: string,
  hint?: string,
): void {
  const pos = offset === undefined ? { line: 1, column: 1 } : posOf(ctx, offset);
  ctx.issues.push({
    path: formatPath(path),
    message,
    file: ctx.file,
    line: pos.line,
    column: pos.column,
    code: 'CONFIG_INVALID',
    ...(hint === undefined ? {} : { hint }),
  });
}

function tooLarge(file: string, message: string): ConfigError {
  return new ConfigError('CONFIG_TOO_LARGE', `${file}: ${message}`, {
    hint: 'an apko configuration is a few kilobytes of plain YAML; check that this is the right file',
    data: { file },
  });
}

function convert(ctx: Ctx, node: unknown, schema: YamlGuide | undefined, path: PathSegment[]): unknown {
  if (path.length > YAML_LIMITS.maxDepth) {
    throw tooLarge(
      ctx.file,
      `values are nested more than ${YAML_LIMITS.maxDepth} levels deep at ${formatPath(path)}`,
    );
  }
  if (ctx.aliases.size > 0 && ++ctx.aliasNodes > YAML_LIMITS.maxAliasNodes) {
    throw tooLarge(ctx.file, `aliases expand to more than ${YAML_LIMITS.maxAliasNodes} values`);
  }
  if (node === null || node === undefined) return null;
  if (isAlias(node)) {
    const target = node.resolve(ctx.doc);
    if (target === undefined) {
      issueAt(ctx, path, rangeStart(node), `unknown alias *${node.source}`);
      return null;
    }
    if (ctx.aliases.has(target)) {
      issueAt(ctx, path, rangeStart(node), `alias *${node.source} refers to itself`);
      return null;
    }
    ctx.aliases.add(target);
    try {
      const start = rangeStart(node);
      if (start !== undefined) ctx.positions.set(path, { file: ctx.file, value: posOf(ctx, start) });
      return convertNode(ctx, target, schema, path, false);
    } finally {
      ctx.aliases.delete(target);
    }
  }
  return convertNode(ctx, node, schema, path, true);
}

function convertNode(
  ctx: Ctx,
  node: unknown,
  schema: YamlGuide | undefined,
  path: PathSegment[],
  recordPosition: boolean,
): unknown {
  const start = rangeStart(node);
  if (recordPosition && start !== undefined) {
    const existing = ctx.positions.get(path);
    ctx.positions.set(path, { ...existing, file: ctx.file, value: posOf(ctx, start) });
  }
  if (isScalar(node)) return scalarValue(node, kindOf(schema));
  if (isSeq(node)) {
    return node.items.map((item, i) => convert(ctx, item, schema?.child(i), [...path, i]));
  }
  if (isMap(node)) {
    const isRecord = schema?.record === true;
    const out: Record<string, unknown> = {};
    const seen = new Map<string, SourcePos>();
    for (const pair of node.items) {
      const keyNode = pair.key;
      const keyStart = rangeStart(keyNode) ?? start;
      if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
        issueAt(ctx, path, keyStart, 'map keys must be plain strings');
        continue;
      }
      const key =
        typeof keyNode.value === 'string'
          ? keyNode.value
          : (keyNode.source ?? String(keyNode.value as number));
      const keyPos = posOf(ctx, keyStart ?? 0);
      const childPath = [...path, key];
      const first = seen.get(key);
      if (first !== undefined) {
        issueAt(
          ctx,
          childPath,
          keyStart,
          `duplicate key "${key}" (first at line ${first.line}, column ${first.column})`,
        );
        continue;
      }
      seen.set(key, keyPos);
      if (key === '__proto__') {
        issueAt(ctx, childPath, keyStart, 'the key "__proto__" is not allowed');
        continue;
      }
      const child = schema?.child(key);
      ctx.positions.set(childPath, { file: ctx.file, key: keyPos, value: keyPos });
      let value = convert(ctx, pair.value, child, childPath);
      const entry = ctx.positions.get(childPath);
      if (entry !== undefined) ctx.positions.set(childPath, { ...entry, key: keyPos });
      if (value === null) {
        if (isRecord && kindOf(child) === 'string') value = '';
        else if (!isRecord) continue; // `key:` alone: absent, as yaml.v3 leaves the zero value
      }
      out[key] = value;
    }
    return out;
  }
  issueAt(ctx, path, start, 'unsupported YAML node');
  return null;
}

function preScan(text: string, file: string): void {
  const compact = new RegExp(String.raw`^[ \t]*(?:[-?:][ \t]+){${YAML_LIMITS.maxCompactIndicators},}`, 'm');
  const m = compact.exec(text);
  if (m !== null) {
    const line = text.slice(0, m.index).split('\n').length;
    throw tooLarge(
      file,
      `line ${line} opens more than ${YAML_LIMITS.maxCompactIndicators} nested collections`,
    );
  }
  const indent = new RegExp(String.raw`^ {${YAML_LIMITS.maxIndent + 1},}`, 'm');
  const i = indent.exec(text);
  if (i !== null) {
    const line = text.slice(0, i.index).split('\n').length;
    throw tooLarge(file, `line ${line} is indented by more than ${YAML_LIMITS.maxIndent} columns`);
  }
  // Cheap first: only lex when raw brackets could nest too deep (the lexer knows quotes and comments).
  let depth = 0;
  let max = 0;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  if (max <= YAML_LIMITS.maxFlowDepth) return;
  depth = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > YAML_LIMITS.maxFlowDepth) {
        throw tooLarge(file, `[ and { are nested more than ${YAML_LIMITS.maxFlowDepth} levels deep`);
      }
    } else if (token === ']' || token === '}') depth = Math.max(0, depth - 1);
  }
}

function syntaxIssue(file: string, lc: LineCounter, offset: number, message: string): ConfigIssue {
  const { line, col } = lc.linePos(offset);
  return { path: '', message, file, line, column: col, code: 'CONFIG_YAML_SYNTAX' };
}

/**
 * Parse YAML text into a plain value with positions, guided by `guide`.
 *
 * @param text - the document (a UTF-8 decoded file)
 * @param file - name used in issues
 * @param guide - what the schema the value will be checked against says about kinds and records
 * @returns the value, its positions, and conversion issues (duplicate keys…)
 * @throws {ConfigError} CONFIG_YAML_SYNTAX listing every YAML error (also for several documents in one
 *   file); CONFIG_TOO_LARGE when the structure exceeds {@link YAML_LIMITS}
 */
export function readYaml(text: string, file: string, guide: YamlGuide): YamlDocument {
  preScan(text, file);
  const lc = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, {
      lineCounter: lc,
      uniqueKeys: false,
      prettyErrors: false,
      strict: true,
      version: '1.2',
    }) as Document.Parsed[];
  } catch (error) {
    if (error instanceof RangeError) throw tooLarge(file, 'the YAML nests too deeply to parse');
    throw error;
  }
  const syntax: ConfigIssue[] = [];
  for (const doc of docs) {
    for (const e of doc.errors) syntax.push(syntaxIssue(file, lc, e.pos[0], e.message));
    for (const w of doc.warnings) syntax.push(syntaxIssue(file, lc, w.pos[0], w.message));
  }
  if (docs.length > 1) {
    const second = docs[1]!;
    syntax.push(
      syntaxIssue(
        file,
        lc,
        second.range[0],
        `the file holds ${docs.length} YAML documents; a configuration is one document (apko would silently read only the first)`,
      ),
    );
  }
  if (syntax.length > 0) {
    const lines = syntax.map((s) => `  ${s.file}:${s.line}:${s.column}: ${s.message}`);
    throw new ConfigError(
      'CONFIG_YAML_SYNTAX',
      `${file}: the YAML is not well-formed:\n${lines.join('\n')}`,
      {
        hint: 'fix the YAML at the positions shown',
        data: { issues: syntax },
      },
    );
  }
  const positions = new PositionIndex();
  const issues: ConfigIssue[] = [];
  const doc = docs[0];
  if (doc === undefined || doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    issues.push({
      path: '',
      message: 'the configuration is empty',
      file,
      line: 1,
      column: 1,
      code: 'CONFIG_INVALID',
      hint: 'an image configuration needs at least contents.packages',
    });
    return { value: {}, positions, issues };
  }
  const ctx: Ctx = { doc, file, lc, positions, issues, aliasNodes: 0, aliases: new Set() };
  let value: unknown;
  try {
    value = convert(ctx, doc.contents, guide, []);
  } catch (error) {
    if (error instanceof RangeError) throw tooLarge(file, 'the YAML nests too deeply to convert');
    throw error;
  }
  return { value, positions, issues };
}

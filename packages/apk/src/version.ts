/**
 * apk version strings: validation, structure, ordering and constraint matching, as apk-tools 2.14
 * implements them in `src/version.c` (`apk_version_validate`, `apk_version_compare_blob_fuzzy`) and
 * `src/package.c` (`apk_dep_is_materialized`). Reference: `apk-and-apko.md` §3.1 and §3.3.
 *
 * Grammar (Gentoo-style): `N{.N}[a-z]{_suffix[N]}[-rN]`, for example `1.36.1-r0`,
 * `6.4_p20230722-r0`, `1.2.3_git20230101-r1`. The apk-tools 3 `~hash` part is not valid in 2.14.
 *
 * Ordering walks both strings one token at a time. A token has a *kind*; apk-tools numbers the
 * kinds (invalid -1, digit-after-dot 0, digit 1, letter 2, suffix 3, suffix number 4, revision 5,
 * end 6) and compares the *values* of tokens while the kinds of both sides agree. When the values
 * are equal but one side continues, the side whose next token is a pre-release suffix (`_alpha`,
 * `_beta`, `_pre`, `_rc`) is smaller; otherwise the side whose next kind has the lower number is
 * greater (so `1.0 < 1.0.0`, `1.0 < 1.0-r0`, `1.0 < 1.0_p1`).
 *
 * {@link compareVersions} reproduces apk-tools 2.14 bit for bit on *every* string, valid or not,
 * because apk-tools itself sorts whatever it finds in an index. Validation is deliberately
 * stricter than apk-tools 2.14 (see {@link isValidVersion}).
 */
import { ApkError } from './errors.ts';

/**
 * A version operator as written in a dependency token (`name<op>version`).
 *
 * - `=`, `<`, `>`, `<=`, `>=`: plain comparisons.
 * - `~`: fuzzy (prefix) match; `=~` and `~=` are spellings of the same thing, because apk-tools
 *   treats any `~` in an operator as "fuzzy and equal".
 * - `>~` / `<~`: greater than, or fuzzy-equal / less than, or fuzzy-equal.
 *
 * The identity-checksum pin `><` is not a version operator; see `Dependency.checksum`.
 */
export type VersionOp = '=' | '<' | '>' | '<=' | '>=' | '~' | '=~' | '~=' | '>~' | '<~';

/** Every {@link VersionOp}, canonical spellings first. */
export const VERSION_OPS: readonly VersionOp[] = ['=', '<', '>', '<=', '>=', '~', '>~', '<~', '=~', '~='];

/** The result of {@link compareVersions}: a is less than, equal to, or greater than b. */
export type VersionComparison = -1 | 0 | 1;

/** A pre-release (`alpha`…`rc`) or post-release (`cvs`…`p`) suffix name. */
export type VersionSuffixName = 'alpha' | 'beta' | 'pre' | 'rc' | 'cvs' | 'svn' | 'git' | 'hg' | 'p';

/** One `_suffix[N]` part of a version. */
export interface VersionSuffix {
  /** The suffix name without the underscore. */
  readonly name: VersionSuffixName;
  /** The digits after the name, as written (may have leading zeros); absent when there are none. */
  readonly number?: string;
}

/**
 * A version split into its grammar parts. Numbers stay strings: they may carry leading zeros
 * (which matter for ordering after a dot) and may exceed `Number.MAX_SAFE_INTEGER`.
 */
export interface ParsedVersion {
  /** The version as given. */
  readonly text: string;
  /** The dot-separated numbers, as written (`['1', '36', '1']`). */
  readonly numbers: readonly string[];
  /** The single lowercase letter after the numbers, if any (`'a'` in `1.0a`). */
  readonly letter?: string;
  /** The `_suffix[N]` parts in order. */
  readonly suffixes: readonly VersionSuffix[];
  /** The digits of `-rN`, if present (`'0'` in `1.36.1-r0`). */
  readonly revision?: string;
}

/** Which grammar {@link isValidVersion} checks. */
export type VersionDialect = 'strict' | 'apk-tools-2.14';

/** Options of {@link isValidVersion}. */
export interface VersionValidationOptions {
  /**
   * `'strict'` (default): the documented grammar, as `parseVersion` accepts it.
   * `'apk-tools-2.14'`: exactly what apk-tools 2.14 `apk_version_validate` accepts, which is laxer
   * (it accepts `''`, `a1`, `1..2`, `1.0-r`, `1a2`).
   */
  readonly dialect?: VersionDialect;
}

/** apk-tools 2.14 rejects a digit run of this many digits or more (`if (i >= 18) goto invalid`). */
const MAX_DIGITS_EXCLUSIVE = 18;
/** Longest digit run read as a plain JS number; longer runs use bigint to stay exact. */
const MAX_SAFE_DIGITS = 15;

// Token kinds, numbered as apk-tools 2.14 numbers them: the numbers themselves are compared.
const KIND_INVALID = -1;
const KIND_DIGIT_OR_ZERO = 0;
const KIND_DIGIT = 1;
const KIND_LETTER = 2;
const KIND_SUFFIX = 3;
const KIND_SUFFIX_NO = 4;
const KIND_REVISION_NO = 5;
const KIND_END = 6;

const CHAR_NUL = 0x00;
const CHAR_DASH = 0x2d;
const CHAR_DOT = 0x2e;
const CHAR_ZERO = 0x30;
const CHAR_NINE = 0x39;
const CHAR_UNDERSCORE = 0x5f;
const CHAR_LOWER_A = 0x61;
const CHAR_LOWER_R = 0x72;
const CHAR_LOWER_Z = 0x7a;

/** Pre-release suffixes, valued -4..-1 (checked first, so `_pre` wins over `_p`). */
const PRE_SUFFIXES: readonly VersionSuffixName[] = ['alpha', 'beta', 'pre', 'rc'];
/** Post-release suffixes, valued 0..4. */
const POST_SUFFIXES: readonly VersionSuffixName[] = ['cvs', 'svn', 'git', 'hg', 'p'];

const GRAMMAR_HINT =
  'apk versions look like N{.N}[a-z]{_suffix[N]}[-rN], e.g. 1.36.1-r0, 2.2.39_rc1 or 6.4_p20230722-r0';

/** A token value: numbers up to 15 digits as `number`, longer ones as `bigint` (exact up to 17). */
type TokenValue = number | bigint;

/** A read position in one version string, plus the kind of the token that starts there. */
interface Cursor {
  readonly text: string;
  pos: number;
  kind: number;
}

function isDigitCode(code: number): boolean {
  return code >= CHAR_ZERO && code <= CHAR_NINE;
}

function isLowerCode(code: number): boolean {
  return code >= CHAR_LOWER_A && code <= CHAR_LOWER_Z;
}

/** Kinds may only rise along a version, except for these three steps back. */
function isAllowedStepBack(next: number, current: number): boolean {
  return (
    (next === KIND_DIGIT_OR_ZERO && current === KIND_DIGIT) ||
    (next === KIND_SUFFIX && current === KIND_SUFFIX_NO) ||
    (next === KIND_DIGIT && current === KIND_LETTER)
  );
}

/** Decide the kind of the token at the cursor, consuming any separator (`next_token`). */
function advanceKind(cursor: Cursor): void {
  const { text } = cursor;
  const code = cursor.pos < text.length ? text.charCodeAt(cursor.pos) : CHAR_NUL;
  let next = KIND_INVALID;
  if (cursor.pos >= text.length || code === CHAR_NUL) {
    next = KIND_END;
  } else if ((cursor.kind === KIND_DIGIT || cursor.kind === KIND_DIGIT_OR_ZERO) && isLowerCode(code)) {
    next = KIND_LETTER;
  } else if (cursor.kind === KIND_LETTER && isDigitCode(code)) {
    next = KIND_DIGIT;
  } else if (cursor.kind === KIND_SUFFIX && isDigitCode(code)) {
    next = KIND_SUFFIX_NO;
  } else {
    if (code === CHAR_DOT) {
      next = KIND_DIGIT_OR_ZERO;
    } else if (code === CHAR_UNDERSCORE) {
      next = KIND_SUFFIX;
    } else if (
      code === CHAR_DASH &&
      cursor.pos + 1 < text.length &&
      text.charCodeAt(cursor.pos + 1) === CHAR_LOWER_R
    ) {
      next = KIND_REVISION_NO;
      cursor.pos++;
    }
    // The separator (or the offending character) is consumed either way.
    cursor.pos++;
  }
  if (next < cursor.kind && !isAllowedStepBack(next, cursor.kind)) next = KIND_INVALID;
  cursor.kind = next;
}

function markInvalid(cursor: Cursor): TokenValue {
  cursor.kind = KIND_INVALID;
  return -1;
}

/** The value of a suffix name at `pos` (prefix match, as apk-tools does), or undefined. */
function matchSuffix(text: string, pos: number): { value: number; length: number } | undefined {
  for (let i = 0; i < PRE_SUFFIXES.length; i++) {
    const name = PRE_SUFFIXES[i]!;
    if (text.startsWith(name, pos)) return { value: i - PRE_SUFFIXES.length, length: name.length };
  }
  for (let i = 0; i < POST_SUFFIXES.length; i++) {
    const name = POST_SUFFIXES[i]!;
    if (text.startsWith(name, pos)) return { value: i, length: name.length };
  }
  return undefined;
}

/** Read the token at the cursor, return its value and move to the next token (`get_token`). */
function readToken(cursor: Cursor): TokenValue {
  const { text } = cursor;
  if (cursor.pos >= text.length) {
    cursor.kind = KIND_END;
    return 0;
  }
  const start = cursor.pos;
  const kind = cursor.kind;
  let length = 0;
  let value: TokenValue = 0;
  let follow = KIND_INVALID;
  if (kind === KIND_DIGIT_OR_ZERO && text.charCodeAt(start) === CHAR_ZERO) {
    // After a dot, a run of zeros is worth minus (its length - 1); the last zero stays in the
    // string and is read again as a plain digit token. This makes 1.001 < 1.01 < 1.1.
    while (start + length + 1 < text.length && text.charCodeAt(start + length + 1) === CHAR_ZERO) length++;
    follow = KIND_DIGIT;
    value = -length;
  } else if (
    kind === KIND_DIGIT_OR_ZERO ||
    kind === KIND_DIGIT ||
    kind === KIND_SUFFIX_NO ||
    kind === KIND_REVISION_NO
  ) {
    while (start + length < text.length && isDigitCode(text.charCodeAt(start + length))) length++;
    if (length >= MAX_DIGITS_EXCLUSIVE) return markInvalid(cursor);
    if (length > 0) {
      const digits = text.slice(start, start + length);
      value = length > MAX_SAFE_DIGITS ? BigInt(digits) : Number(digits);
    }
  } else if (kind === KIND_LETTER) {
    value = text.charCodeAt(start);
    length = 1;
  } else if (kind === KIND_SUFFIX) {
    const suffix = matchSuffix(text, start);
    if (suffix === undefined) return markInvalid(cursor);
    value = suffix.value;
    length = suffix.length;
  } else {
    return markInvalid(cursor);
  }
  cursor.pos = start + length;
  if (cursor.pos >= text.length) cursor.kind = KIND_END;
  else if (follow !== KIND_INVALID) cursor.kind = follow;
  else advanceKind(cursor);
  return value;
}

function sameValue(a: TokenValue, b: TokenValue): boolean {
  return !(a < b) && !(a > b);
}

/**
 * apk-tools 2.14 `apk_version_compare_blob_fuzzy`. With `fuzzy`, running out of tokens (or
 * reaching tokens of different kinds) with all values equal counts as equal.
 */
function compareTokens(a: string, b: string, fuzzy: boolean): VersionComparison {
  const ca: Cursor = { text: a, pos: 0, kind: KIND_DIGIT };
  const cb: Cursor = { text: b, pos: 0, kind: KIND_DIGIT };
  let av: TokenValue = 0;
  let bv: TokenValue = 0;
  while (ca.kind === cb.kind && ca.kind !== KIND_END && ca.kind !== KIND_INVALID && sameValue(av, bv)) {
    av = readToken(ca);
    bv = readToken(cb);
  }
  if (av < bv) return -1;
  if (av > bv) return 1;
  if (ca.kind === cb.kind || fuzzy) return 0;
  // One side continues. A pre-release suffix (and an unknown suffix, valued -1) makes it smaller.
  if (ca.kind === KIND_SUFFIX && readToken({ ...ca }) < 0) return -1;
  if (cb.kind === KIND_SUFFIX && readToken({ ...cb }) < 0) return 1;
  // Otherwise the side whose next kind is numbered lower is greater.
  if (ca.kind > cb.kind) return -1;
  if (cb.kind > ca.kind) return 1;
  return 0;
}

/**
 * Compare two versions exactly as apk-tools 2.14 `apk_version_compare` does.
 *
 * Works on any string: apk-tools orders invalid versions too (token by token until the first
 * invalid token), so this never throws. On valid versions it is a total preorder; distinct strings
 * can compare equal (`1` and `01`).
 *
 * @param a - the left version
 * @param b - the right version
 * @returns -1 if a sorts before b, 0 if they are equal, 1 if a sorts after b
 *
 * @example
 * compareVersions('1.0', '1.0-r0'); // -1
 * compareVersions('1.0_rc1', '1.0'); // -1
 * ['1.10', '1.2', '1.9'].sort(compareVersions); // ['1.2', '1.9', '1.10']
 */
export function compareVersions(a: string, b: string): VersionComparison {
  return compareTokens(a, b, false);
}

/**
 * Whether `version` fuzzy-matches `target` (apk-tools `~`): the token values agree until either
 * side runs out. `1.6` fuzzy-matches `1.6.5`, `1.6-r3` and `1.6.0_pre1`, but not `1.60` or `1.7`.
 * The relation is symmetric.
 *
 * @param version - the candidate version
 * @param target - the version in the constraint
 * @returns true if neither differs from the other before one of them ends
 */
export function fuzzyMatchesVersion(version: string, target: string): boolean {
  return compareTokens(version, target, true) === 0;
}

// apk-tools' result mask bits (apk_version.h).
const MASK_EQUAL = 1;
const MASK_LESS = 2;
const MASK_GREATER = 4;
const MASK_FUZZY = 8;

const OP_MASKS: Readonly<Record<VersionOp, number>> = {
  '=': MASK_EQUAL,
  '<': MASK_LESS,
  '>': MASK_GREATER,
  '<=': MASK_LESS | MASK_EQUAL,
  '>=': MASK_GREATER | MASK_EQUAL,
  '~': MASK_FUZZY | MASK_EQUAL,
  '=~': MASK_FUZZY | MASK_EQUAL,
  '~=': MASK_FUZZY | MASK_EQUAL,
  '>~': MASK_GREATER | MASK_FUZZY | MASK_EQUAL,
  '<~': MASK_LESS | MASK_FUZZY | MASK_EQUAL,
};

const COMPARISON_MASKS: Readonly<Record<VersionComparison, number>> = {
  [-1]: MASK_LESS,
  0: MASK_EQUAL,
  1: MASK_GREATER,
};

/**
 * Whether a string is a {@link VersionOp}.
 *
 * @param text - an operator as written, e.g. `'>='`
 * @returns true for the ten spellings of {@link VersionOp}
 */
export function isVersionOp(text: string): text is VersionOp {
  return Object.hasOwn(OP_MASKS, text);
}

/**
 * Whether `version` satisfies `op target`, as apk-tools 2.14 decides for a dependency
 * (`apk_version_compare_blob_fuzzy(version, target, fuzzy) & mask`).
 *
 * - `>~1.6` matches `1.6.5` (fuzzy-equal) and `1.7` (greater), not `1.5`.
 * - `<~1.6` matches `1.5` and `1.6.9` (fuzzy-equal), not `1.7`.
 * - `=1.0` does not match `1.0-r0` (apk-tools orders `1.0 < 1.0-r0`).
 *
 * @param version - the candidate version (usually a package's `V:`)
 * @param op - the operator
 * @param target - the version in the constraint
 * @returns true if the candidate is in range
 * @throws {ApkError} APK_BAD_DEPENDENCY if `op` is not a {@link VersionOp} (only possible from untyped callers)
 *
 * @example
 * versionMatches('1.6.5', '~', '1.6'); // true
 * versionMatches('1.0-r0', '=', '1.0'); // false
 */
export function versionMatches(version: string, op: VersionOp, target: string): boolean {
  if (!isVersionOp(op)) {
    throw new ApkError('APK_BAD_DEPENDENCY', `unknown version operator ${JSON.stringify(op)}`, {
      hint: `use one of ${VERSION_OPS.join(' ')}`,
      data: { op },
    });
  }
  const mask = OP_MASKS[op];
  return (COMPARISON_MASKS[compareTokens(version, target, (mask & MASK_FUZZY) !== 0)] & mask) !== 0;
}

/** Why a version failed the strict grammar: a message and the offset it points at. */
interface VersionProblem {
  readonly offset: number;
  readonly message: string;
}

function describeChar(text: string, offset: number): string {
  const codePoint = text.codePointAt(offset) ?? 0;
  if (codePoint < 0x20 || codePoint === 0x7f || codePoint > 0x7e)
    return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${String.fromCodePoint(codePoint)}'`;
}

function readDigits(text: string, pos: number): number {
  let end = pos;
  while (end < text.length && isDigitCode(text.charCodeAt(end))) end++;
  return end;
}

type StrictResult =
  | { readonly ok: true; readonly version: ParsedVersion }
  | { readonly ok: false; readonly problem: VersionProblem };

function digitsProblem(text: string, start: number, end: number, what: string): VersionProblem | undefined {
  if (end === start)
    return {
      offset: start,
      message: `${what} at offset ${start} has no digits (found ${start < text.length ? describeChar(text, start) : 'the end'})`,
    };
  if (end - start >= MAX_DIGITS_EXCLUSIVE) {
    return {
      offset: start,
      message: `${what} at offset ${start} has ${end - start} digits; apk-tools allows at most ${MAX_DIGITS_EXCLUSIVE - 1}`,
    };
  }
  return undefined;
}

/** The strict grammar as a hand-written scanner, so failures can say what and where. */
function scanStrict(text: string): StrictResult {
  const fail = (problem: VersionProblem): StrictResult => ({ ok: false, problem });
  if (text.length === 0) return fail({ offset: 0, message: 'the version is empty' });
  const numbers: string[] = [];
  let pos = 0;
  for (;;) {
    const end = readDigits(text, pos);
    const problem = digitsProblem(
      text,
      pos,
      end,
      numbers.length === 0 ? 'the leading number' : "the number after '.'",
    );
    if (problem !== undefined) {
      if (numbers.length === 0 && end === pos)
        return fail({
          offset: 0,
          message: `a version must start with a digit, found ${describeChar(text, 0)}`,
        });
      return fail(problem);
    }
    numbers.push(text.slice(pos, end));
    pos = end;
    if (text.charCodeAt(pos) !== CHAR_DOT) break;
    pos++;
  }
  let letter: string | undefined;
  if (pos < text.length && isLowerCode(text.charCodeAt(pos))) {
    letter = text[pos];
    pos++;
  }
  const suffixes: VersionSuffix[] = [];
  while (text.charCodeAt(pos) === CHAR_UNDERSCORE) {
    const nameStart = pos + 1;
    let nameEnd = nameStart;
    while (nameEnd < text.length && isLowerCode(text.charCodeAt(nameEnd))) nameEnd++;
    const name = text.slice(nameStart, nameEnd);
    if (
      !PRE_SUFFIXES.includes(name as VersionSuffixName) &&
      !POST_SUFFIXES.includes(name as VersionSuffixName)
    ) {
      return fail({
        offset: pos,
        message: `unknown suffix '_${name}' at offset ${pos}; expected one of ${[...PRE_SUFFIXES, ...POST_SUFFIXES].map((s) => `_${s}`).join(', ')}`,
      });
    }
    const digitsEnd = readDigits(text, nameEnd);
    if (digitsEnd - nameEnd >= MAX_DIGITS_EXCLUSIVE) {
      return fail(digitsProblem(text, nameEnd, digitsEnd, `the number of suffix '_${name}'`)!);
    }
    suffixes.push(
      digitsEnd > nameEnd
        ? { name: name as VersionSuffixName, number: text.slice(nameEnd, digitsEnd) }
        : { name: name as VersionSuffixName },
    );
    pos = digitsEnd;
  }
  let revision: string | undefined;
  if (text.charCodeAt(pos) === CHAR_DASH) {
    if (text.charCodeAt(pos + 1) !== CHAR_LOWER_R) {
      return fail({ offset: pos, message: `'-' at offset ${pos} must start a revision '-rN'` });
    }
    const end = readDigits(text, pos + 2);
    const problem = digitsProblem(text, pos + 2, end, "the revision '-r'");
    if (problem !== undefined) return fail(problem);
    revision = text.slice(pos + 2, end);
    pos = end;
  }
  if (pos < text.length) {
    const found = describeChar(text, pos);
    const after =
      revision !== undefined
        ? 'after the revision'
        : suffixes.length > 0
          ? 'after the suffixes'
          : letter !== undefined
            ? 'after the letter'
            : 'after the numbers';
    const extra =
      text[pos] === '~' ? " ('~hash' commit parts are apk-tools 3 syntax, not valid in 2.14)" : '';
    return fail({ offset: pos, message: `unexpected ${found} at offset ${pos} ${after}${extra}` });
  }
  const version: ParsedVersion = {
    text,
    numbers,
    ...(letter !== undefined ? { letter } : {}),
    suffixes,
    ...(revision !== undefined ? { revision } : {}),
  };
  return { ok: true, version };
}

/** Shorten untrusted text for an error message. */
function quoteForMessage(text: string): string {
  const MAX_QUOTED = 80;
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);
}

/**
 * Whether `version` is a valid apk version.
 *
 * The default `'strict'` dialect is the documented grammar `N{.N}[a-z]{_suffix[N]}[-rN]` with
 * digit runs of at most 17 digits: what apk-tools 3 enforces and what abuild and melange produce.
 * Every strict version is also valid to apk-tools 2.14.
 *
 * The `'apk-tools-2.14'` dialect reproduces `apk_version_validate` exactly. It is laxer because
 * its tokenizer tolerates empty parts: it accepts `''`, `a1`, `1..2`, `1.`, `1.0-r` and `1a2`, and
 * still rejects `1.0_foo`, `1.0-r1a`, `1.0ab` and 18-digit numbers.
 *
 * @param version - the version string
 * @param options - which dialect to check (default `'strict'`)
 * @returns true if the version is valid in that dialect
 */
export function isValidVersion(version: string, options: VersionValidationOptions = {}): boolean {
  if (options.dialect === 'apk-tools-2.14') {
    const cursor: Cursor = { text: version, pos: 0, kind: KIND_DIGIT };
    while (cursor.kind !== KIND_END && cursor.kind !== KIND_INVALID) readToken(cursor);
    return cursor.kind === KIND_END;
  }
  return scanStrict(version).ok;
}

/**
 * Split a version into its grammar parts, checking the strict grammar (see {@link isValidVersion}).
 *
 * @param version - the version string
 * @returns the parts: numbers, letter, suffixes and revision
 * @throws {ApkError} APK_BAD_VERSION if the version is not valid, naming what is wrong and where
 *
 * @example
 * parseVersion('6.4_p20230722-r0');
 * // { text: '6.4_p20230722-r0', numbers: ['6', '4'], suffixes: [{ name: 'p', number: '20230722' }], revision: '0' }
 */
export function parseVersion(version: string): ParsedVersion {
  const result = scanStrict(version);
  if (result.ok) return result.version;
  throw new ApkError(
    'APK_BAD_VERSION',
    `invalid version ${quoteForMessage(version)}: ${result.problem.message}`,
    {
      hint: GRAMMAR_HINT,
      data: { version, offset: result.problem.offset },
    },
  );
}

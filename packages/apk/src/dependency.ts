/**
 * Dependency tokens as they appear in APKINDEX `D:`/`i:` lines, `.PKGINFO` `depend =`,
 * `/etc/apk/world` and apko's `contents.packages`, plus `p:` provide tokens. Reference:
 * `apk-and-apko.md` §2.3, §3.3 and §3.4; apk-tools 2.14 `src/package.c` (`apk_blob_pull_dep`,
 * `apk_blob_push_dep`, `apk_dep_is_materialized`, `apk_dep_is_provided`).
 *
 * Token shape (apk-tools order): `[!]name[@tag][op version]`, or `[!]name[@tag]><checksum` for an
 * identity pin. apko writes the tag last (`name[op version]@tag`); both orders are accepted and
 * normalised, and {@link formatDependency} always writes the apk-tools order.
 *
 * Security: tokens come from downloaded indexes and user config, so the parser is stricter than
 * apk-tools (which accepts any byte in a name). Names must be printable ASCII: no whitespace,
 * control characters or non-ASCII letters, which rules out look-alike names (Cyrillic `а` for
 * Latin `a`) and terminal escape sequences in messages. Tokens longer than
 * {@link MAX_DEPENDENCY_TOKEN_LENGTH} are refused, and error messages quote at most 80 characters.
 */
import { Buffer } from 'node:buffer';
import { ApkError } from './errors.ts';
import {
  isValidVersion,
  parseVersion,
  versionMatches,
  type VersionDialect,
  type VersionOp,
} from './version.ts';

/** A parsed dependency token. Optional fields are absent (not `undefined`) when not written. */
export interface Dependency {
  /** The name, including any namespace prefix (`so:libc.musl-x86_64.so.1`, `cmd:sh`, `pc:zlib`). */
  name: string;
  /** The repository tag without `@` (`edge` in `busybox@edge`). */
  tag?: string;
  /** `!name`: the package must not be installed (in the given version range). */
  conflict: boolean;
  /** The version operator; always a canonical spelling (never `=~` or `~=`) when parsed. */
  op?: VersionOp;
  /** The version the operator compares against; present exactly when `op` is. */
  version?: string;
  /** An identity pin `name><Q1…`: the package's `C:` checksum. Excludes `op` and `version`. */
  checksum?: string;
}

/** A parsed `p:` (provides) token: `name` is a virtual provide, `name=version` a versioned one. */
export interface Provide {
  /** The provided name (`so:libz.so.1`, `cmd:gzip`, `/bin/sh`). */
  name: string;
  /** The provided version; absent for a virtual (unversioned) provide. */
  version?: string;
}

/** Options of the dependency and provide parsers and formatters. */
export interface DependencyParseOptions {
  /**
   * How versions are validated (see `isValidVersion`). `'strict'` (default) rejects versions
   * apk-tools 3 rejects; `'apk-tools-2.14'` accepts what apk-tools 2.14 accepts, such as
   * Alpine's `aspell-ru=0.99f7-r1`. Use the latter when reading indexes leniently.
   */
  readonly versionDialect?: VersionDialect;
}

/** The longest dependency or provide token accepted. Real APKINDEX tokens stay under 256. */
export const MAX_DEPENDENCY_TOKEN_LENGTH = 1024;

/** Operator spellings accepted in a token, mapped to the canonical spelling kept in `Dependency.op`. */
const OP_SPELLINGS: Readonly<Record<string, VersionOp>> = {
  '=': '=',
  '<': '<',
  '>': '>',
  '<=': '<=',
  '>=': '>=',
  '~': '~',
  '=~': '~',
  '~=': '~',
  '>~': '>~',
  '<~': '<~',
};
/** The identity-checksum operator. */
const CHECKSUM_OP = '><';
/** Characters that start an operator (apk-tools `apk_spn_dependency_comparer`). */
const OP_CHARS = '<=>~';
const TAG_PATTERN = /^[A-Za-z0-9._-]+$/;
/** `Q1` + base64 of a 20-byte SHA-1 (27 characters and one `=`). */
const Q1_CHECKSUM_PATTERN = /^Q1[A-Za-z0-9+/]{27}=$/;
/** `X1` + hex SHA-1, a legacy form apk-tools still reads. */
const X1_CHECKSUM_PATTERN = /^X1[0-9A-Fa-f]{40}$/;
/** Bare hex MD5, the oldest form apk-tools still reads. */
const MD5_CHECKSUM_PATTERN = /^[0-9A-Fa-f]{32}$/;
/** What a separator between tokens of a list may be. apk-tools uses only space and newline. */
const LIST_SEPARATOR = /[ \t\r\n]+/;
const MAX_QUOTED = 80;

const DEPENDENCY_HINT =
  'write [!]name[@tag][op version], e.g. busybox, !foo, so:libc.musl-x86_64.so.1, busybox@edge>=1.36 or cmd:sh=1.36.1-r0';
const OP_HINT = 'use one of = < > <= >= ~ >~ <~ (=~ and ~= mean ~), or >< followed by a Q1 checksum';
const VERSION_HINT = 'apk versions look like N{.N}[a-z]{_suffix[N]}[-rN], e.g. 1.36.1-r0 or 6.4_p20230722-r0';

function quote(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);
}

function describeCodePoint(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

function fail(
  kind: string,
  token: string,
  reason: string,
  hint: string,
  extra: Record<string, unknown> = {},
): never {
  throw new ApkError('APK_BAD_DEPENDENCY', `invalid ${kind} ${quote(token)}: ${reason}`, {
    hint,
    data: { token, reason, ...extra },
  });
}

/**
 * Reject what can never be part of a token: emptiness, excess length, whitespace, control and
 * non-ASCII characters. Everything after this check is printable ASCII.
 */
function checkTokenCharacters(kind: string, token: string): void {
  if (token.length === 0) fail(kind, token, 'the token is empty', DEPENDENCY_HINT);
  if (token.length > MAX_DEPENDENCY_TOKEN_LENGTH) {
    fail(
      kind,
      token,
      `the token is ${token.length} characters long; the limit is ${MAX_DEPENDENCY_TOKEN_LENGTH}`,
      'check the input for a missing separator or corrupted data',
    );
  }
  for (let offset = 0; offset < token.length; offset++) {
    const code = token.charCodeAt(offset);
    if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) {
      fail(
        kind,
        token,
        `whitespace at offset ${offset}`,
        'a token holds one dependency; parse a space-separated list with parseDependencyList',
        { offset },
      );
    }
    if (code < 0x20 || code === 0x7f) {
      fail(
        kind,
        token,
        `control character ${describeCodePoint(code)} at offset ${offset}`,
        'remove the control character; names and versions are printable ASCII',
        { offset },
      );
    }
    if (code > 0x7e) {
      const codePoint = token.codePointAt(offset) ?? code;
      fail(
        kind,
        token,
        `non-ASCII character ${describeCodePoint(codePoint)} at offset ${offset}`,
        'package names and versions are ASCII; check for a look-alike letter',
        { offset },
      );
    }
  }
}

function checkName(kind: string, token: string, name: string): void {
  if (name.length === 0) fail(kind, token, 'the package name is empty', DEPENDENCY_HINT);
  if (name.includes('!')) {
    fail(
      kind,
      token,
      `'!' in name ${quote(name)}; it may only appear once, first, to mark a conflict`,
      DEPENDENCY_HINT,
    );
  }
  for (const char of `${OP_CHARS}@`) {
    if (name.includes(char)) fail(kind, token, `name ${quote(name)} contains '${char}'`, DEPENDENCY_HINT);
  }
}

function checkTag(kind: string, token: string, tag: string): void {
  if (tag.length === 0)
    fail(
      kind,
      token,
      "'@' is not followed by a repository tag",
      'write name@tag, where tag names a repository line "@tag <url>"',
    );
  if (!TAG_PATTERN.test(tag)) {
    fail(
      kind,
      token,
      `repository tag ${quote(tag)} may only contain letters, digits, '.', '_' and '-'`,
      'write name@tag, where tag names a repository line "@tag <url>"',
    );
  }
}

function checkVersion(kind: string, token: string, version: string, dialect: VersionDialect): void {
  if (isValidVersion(version, { dialect })) return;
  let reason = `${quote(version)} is not a valid apk-tools 2.14 version`;
  if (dialect === 'strict') {
    try {
      parseVersion(version);
    } catch (error) {
      if (error instanceof ApkError) reason = error.message;
    }
  }
  throw new ApkError('APK_BAD_VERSION', `invalid ${kind} ${quote(token)}: ${reason}`, {
    hint: VERSION_HINT,
    data: { token, version },
  });
}

function isChecksum(text: string): boolean {
  return Q1_CHECKSUM_PATTERN.test(text) || X1_CHECKSUM_PATTERN.test(text) || MD5_CHECKSUM_PATTERN.test(text);
}

function checkChecksum(kind: string, token: string, checksum: string): void {
  if (!isChecksum(checksum)) {
    fail(
      kind,
      token,
      `${quote(checksum)} is not a package checksum (Q1 + 28 base64 characters)`,
      "pin an identity with name><Q1…, using the package's C: value from APKINDEX",
    );
  }
}

/** Split `text` into the part before the first operator character, the operator run and the rest. */
function splitOperator(text: string): { before: string; op?: string; after?: string } {
  let start = 0;
  while (start < text.length && !OP_CHARS.includes(text[start]!)) start++;
  if (start === text.length) return { before: text };
  let end = start;
  while (end < text.length && OP_CHARS.includes(text[end]!)) end++;
  return { before: text.slice(0, start), op: text.slice(start, end), after: text.slice(end) };
}

/**
 * Parse one dependency token.
 *
 * Accepted: `name`, `!name`, `name@tag`, `name[@tag]<op><version>` with op one of
 * `= < > <= >= ~ =~ ~= >~ <~`, the identity pin `name[@tag]><Q1…`, and apko's order with the tag
 * last (`busybox=1.36.1-r0@local`). Names are printable ASCII without `<>=~@!` (so `so:`, `cmd:`,
 * `pc:` names and paths such as `/bin/sh` are fine); tags are `[A-Za-z0-9._-]+`.
 *
 * Stricter than apk-tools 2.14, which accepts any byte in a name, an empty name, and operator runs
 * such as `==`, `=>` or `<>`; see the module comment for why.
 *
 * @param token - one token, without surrounding whitespace
 * @param options - how to validate versions (default strict)
 * @returns the dependency, with `op` in canonical spelling (`=~` and `~=` become `~`)
 * @throws {ApkError} APK_BAD_DEPENDENCY if the token is empty, too long, contains whitespace,
 *   control or non-ASCII characters, has an empty or malformed name or tag, two tags, an unknown
 *   operator, an operator without a version, or a malformed checksum
 * @throws {ApkError} APK_BAD_VERSION if the version after the operator is invalid
 *
 * @example
 * parseDependency('busybox@edge>=1.36');
 * // { name: 'busybox', tag: 'edge', conflict: false, op: '>=', version: '1.36' }
 * parseDependency('busybox=1.36.1-r0@local'); // apko order, same result as busybox@local=1.36.1-r0
 */
export function parseDependency(token: string, options: DependencyParseOptions = {}): Dependency {
  const kind = 'dependency';
  checkTokenCharacters(kind, token);
  const conflict = token.startsWith('!');
  const { before, op: opText, after } = splitOperator(conflict ? token.slice(1) : token);

  let value = after;
  let trailingTag: string | undefined;
  const valueAt = value?.indexOf('@') ?? -1;
  if (value !== undefined && valueAt >= 0) {
    trailingTag = value.slice(valueAt + 1);
    value = value.slice(0, valueAt);
  }
  const nameAt = before.indexOf('@');
  const name = nameAt >= 0 ? before.slice(0, nameAt) : before;
  const leadingTag = nameAt >= 0 ? before.slice(nameAt + 1) : undefined;

  checkName(kind, token, name);
  if (leadingTag !== undefined && trailingTag !== undefined) {
    fail(kind, token, 'it has two repository tags', 'write the tag once, after the name: name@tag=version');
  }
  const tag = leadingTag ?? trailingTag;
  if (tag !== undefined) checkTag(kind, token, tag);
  const base: Dependency = { name, ...(tag !== undefined ? { tag } : {}), conflict };
  if (opText === undefined) return base;

  if (value === undefined || value.length === 0) {
    fail(
      kind,
      token,
      `the operator '${opText}' has no version after it`,
      'write name=version (e.g. busybox=1.36.1-r0), or drop the operator to accept any version',
    );
  }
  if (opText === CHECKSUM_OP) {
    checkChecksum(kind, token, value);
    return { ...base, checksum: value };
  }
  const op = Object.hasOwn(OP_SPELLINGS, opText) ? OP_SPELLINGS[opText] : undefined;
  if (op === undefined) fail(kind, token, `unknown operator '${opText}'`, OP_HINT);
  checkVersion(kind, token, value, options.versionDialect ?? 'strict');
  return { ...base, op, version: value };
}

/**
 * Write a dependency as a token in apk-tools order (`[!]name[@tag][op version]`), so that
 * `parseDependency(formatDependency(d))` equals `d` (with `=~`/`~=` written as `~`).
 *
 * @param dep - the dependency
 * @param options - how to validate the version (default strict)
 * @returns the token
 * @throws {ApkError} APK_BAD_DEPENDENCY if a field could not be parsed back: a bad name or tag,
 *   `op` without `version` (or the reverse), both `op` and `checksum`, or a malformed checksum
 * @throws {ApkError} APK_BAD_VERSION if `version` is invalid
 *
 * @example
 * formatDependency({ name: 'busybox', tag: 'local', conflict: false, op: '=', version: '1.36.1-r0' });
 * // 'busybox@local=1.36.1-r0'
 */
export function formatDependency(dep: Dependency, options: DependencyParseOptions = {}): string {
  const kind = 'dependency';
  const head = `${dep.conflict ? '!' : ''}${dep.name}${dep.tag !== undefined ? `@${dep.tag}` : ''}`;
  checkName(kind, head, dep.name);
  if (dep.tag !== undefined) checkTag(kind, head, dep.tag);
  if (dep.checksum !== undefined && (dep.op !== undefined || dep.version !== undefined)) {
    fail(
      kind,
      head,
      'it has both a checksum pin and a version constraint',
      'keep either checksum or op and version',
    );
  }
  if ((dep.op === undefined) !== (dep.version === undefined)) {
    fail(kind, head, 'op and version must be given together', 'set both op and version, or neither');
  }
  let token = head;
  if (dep.checksum !== undefined) token += `${CHECKSUM_OP}${dep.checksum}`;
  if (dep.op !== undefined && dep.version !== undefined) {
    const op = Object.hasOwn(OP_SPELLINGS, dep.op) ? OP_SPELLINGS[dep.op] : undefined;
    if (op === undefined) fail(kind, head, `unknown operator ${quote(dep.op)}`, OP_HINT);
    token += `${op}${dep.version}`;
  }
  // Parsing the result checks the version and checksum with the same rules as reading them, and
  // catches a version that smuggles in a separator ('@', an operator character).
  const parsed = parseDependency(token, options);
  if (parsed.version !== dep.version || parsed.checksum !== dep.checksum || parsed.tag !== dep.tag) {
    fail(
      kind,
      token,
      'it would not parse back to the same dependency',
      'remove separator characters (@ < = > ~) from the version or checksum',
    );
  }
  return token;
}

/**
 * Parse a list of dependency tokens separated by spaces or newlines, as in APKINDEX `D:`/`i:`
 * values, `.PKGINFO` and `/etc/apk/world`. Tabs and carriage returns also separate tokens
 * (apk-tools would make them part of a name); empty input gives an empty list.
 *
 * @param text - the list
 * @param options - how to validate versions (default strict)
 * @returns the dependencies in order
 * @throws {ApkError} APK_BAD_DEPENDENCY or APK_BAD_VERSION for the first bad token, with its
 *   1-based position in the message and `data.index` (0-based)
 *
 * @example
 * parseDependencyList('so:libc.musl-x86_64.so.1 busybox>=1.36 !foo');
 */
export function parseDependencyList(text: string, options: DependencyParseOptions = {}): Dependency[] {
  const tokens = text.split(LIST_SEPARATOR).filter((token) => token.length > 0);
  return tokens.map((token, index) => {
    try {
      return parseDependency(token, options);
    } catch (error) {
      if (!(error instanceof ApkError)) throw error;
      throw new ApkError(error.code, `token ${index + 1} of the dependency list: ${error.message}`, {
        hint: error.hint,
        cause: error,
        data: { ...error.data, index },
      });
    }
  });
}

/**
 * Whether `version` lies in the dependency's version range. No operator means any version. The
 * `conflict` flag is not applied (for `!foo<2` this answers "is it below 2?"), and an identity pin
 * cannot be decided from a version, so it gives false; use {@link isDependencySatisfied} for both.
 *
 * @param dep - the dependency
 * @param version - the candidate version
 * @returns true if the candidate is in range
 * @throws {ApkError} APK_BAD_DEPENDENCY if `dep.op` is set without `dep.version`
 */
export function dependencyMatchesVersion(dep: Dependency, version: string): boolean {
  if (dep.checksum !== undefined) return false;
  if (dep.op === undefined) return true;
  if (dep.version === undefined)
    fail(
      'dependency',
      dep.name,
      `operator '${dep.op}' has no version`,
      'set both op and version, or neither',
    );
  return versionMatches(version, dep.op, dep.version);
}

/** What a dependency is checked against: a package, or one of its `p:` provides. */
export interface DependencyCandidate {
  /** The package's (or provide's) version; absent for a virtual provide. */
  readonly version?: string;
  /** The package's identity checksum (`C:`), needed only for `><` pins. */
  readonly checksum?: string;
}

/** Decode a checksum to `type:hex` so different encodings of the same digest compare equal. */
function checksumKey(text: string): string | undefined {
  if (Q1_CHECKSUM_PATTERN.test(text)) return `sha1:${Buffer.from(text.slice(2), 'base64').toString('hex')}`;
  if (X1_CHECKSUM_PATTERN.test(text)) return `sha1:${text.slice(2).toLowerCase()}`;
  if (MD5_CHECKSUM_PATTERN.test(text)) return `md5:${text.toLowerCase()}`;
  return undefined;
}

/**
 * Whether a candidate with this name satisfies the dependency, exactly as apk-tools 2.14 decides
 * (`apk_dep_is_materialized` for a package, `apk_dep_is_provided` for a provide). The caller has
 * already matched the name.
 *
 * - No operator: satisfied unless it is a conflict.
 * - A versioned dependency against a virtual provide (no version): satisfied only if a conflict.
 * - Otherwise the version range decides, inverted for a conflict.
 * - An identity pin compares checksums and, as in apk-tools, ignores `conflict`.
 *
 * @param dep - the dependency
 * @param candidate - the candidate's version and checksum
 * @returns true if installing the candidate satisfies (or does not violate) the dependency
 * @throws {ApkError} APK_BAD_DEPENDENCY if `dep.op` is set without `dep.version`
 */
export function isDependencySatisfied(dep: Dependency, candidate: DependencyCandidate): boolean {
  if (dep.checksum !== undefined) {
    const wanted = checksumKey(dep.checksum);
    return (
      wanted !== undefined && candidate.checksum !== undefined && wanted === checksumKey(candidate.checksum)
    );
  }
  if (dep.op === undefined) return !dep.conflict;
  if (candidate.version === undefined) return dep.conflict;
  return dependencyMatchesVersion(dep, candidate.version) !== dep.conflict;
}

/**
 * Parse one `p:` (provides) token: `name` for a virtual provide or `name=version` for a versioned
 * one. Names follow the same rules as in {@link parseDependency}.
 *
 * @param token - one token, without surrounding whitespace
 * @param options - how to validate the version (default strict)
 * @returns the provide
 * @throws {ApkError} APK_BAD_DEPENDENCY if the token is malformed, starts with `!`, carries an
 *   `@tag`, or uses an operator other than `=`
 * @throws {ApkError} APK_BAD_VERSION if the version is invalid
 *
 * @example
 * parseProvide('so:libz.so.1=1.2.13'); // { name: 'so:libz.so.1', version: '1.2.13' }
 * parseProvide('cmd:gzip'); // { name: 'cmd:gzip' }
 */
export function parseProvide(token: string, options: DependencyParseOptions = {}): Provide {
  const kind = 'provide';
  const hint = 'a provide is name (virtual) or name=version, e.g. so:libz.so.1=1.2.13';
  checkTokenCharacters(kind, token);
  if (token.startsWith('!')) fail(kind, token, "a provide cannot be a conflict ('!')", hint);
  const { before: name, op, after: version } = splitOperator(token);
  if (name.includes('@') || version?.includes('@'))
    fail(kind, token, 'a provide cannot carry a repository tag', hint);
  checkName(kind, token, name);
  if (op === undefined) return { name };
  if (op !== '=') fail(kind, token, `a provide only uses '=', not '${op}'`, hint);
  if (version === undefined || version.length === 0) fail(kind, token, "'=' has no version after it", hint);
  checkVersion(kind, token, version, options.versionDialect ?? 'strict');
  return { name, version };
}

/**
 * Write a provide as a `p:` token (`name` or `name=version`).
 *
 * @param provide - the provide
 * @param options - how to validate the version (default strict)
 * @returns the token
 * @throws {ApkError} APK_BAD_DEPENDENCY if the name would not parse back
 * @throws {ApkError} APK_BAD_VERSION if the version is invalid
 */
export function formatProvide(provide: Provide, options: DependencyParseOptions = {}): string {
  const token = provide.version === undefined ? provide.name : `${provide.name}=${provide.version}`;
  parseProvide(token, options);
  return token;
}

/**
 * `.PKGINFO`: the package's metadata inside its control section. UTF-8 text, one `key = value` per line
 * (the separator is exactly space-equals-space), `#` comments, multi-valued keys repeated one value per
 * line. apk-tools ignores lines without ` = ` and keys it does not know; tk keeps every line so nothing
 * is lost. Some melange versions write one `license` line per license (Wolfi's ruby3.2-base64 has
 * `license = Ruby` and `license = BSD-2-Clause`): tk joins them with ` AND `, where apk-tools keeps the
 * last and apko the first. Other repeated single-valued keys keep their first value, with a warning.
 * Reference: apk-tools 2.14 `src/package.c` (read_info_line), melange `pkg/build/package.go` template.
 */
import { ApkError } from './errors.ts';

/** The parsed `.PKGINFO`. Single-valued keys are optional fields; repeated keys are arrays in file order. */
export interface PkgInfo {
  pkgname: string;
  pkgver: string;
  pkgdesc?: string;
  url?: string;
  builddate?: number;
  packager?: string;
  size?: number;
  arch?: string;
  origin?: string;
  commit?: string;
  maintainer?: string;
  license?: string;
  depend: string[];
  provides: string[];
  install_if: string[];
  replaces: string[];
  /** Space-separated directory globs, one value per `triggers` line. */
  triggers: string[];
  provider_priority?: number;
  replaces_priority?: number;
  /** Lowercase hex SHA-256 of the compressed data section. */
  datahash?: string;
  /** Keys tk does not model (`pkgbase`, `checkdepend`…), in file order. */
  other: [key: string, value: string][];
}

const SINGLE_TEXT = [
  'pkgname',
  'pkgver',
  'pkgdesc',
  'url',
  'packager',
  'arch',
  'origin',
  'commit',
  'maintainer',
  'license',
  'datahash',
] as const;
const SINGLE_NUMBER = ['builddate', 'size', 'provider_priority', 'replaces_priority'] as const;
const MULTI = ['depend', 'provides', 'install_if', 'replaces', 'triggers'] as const;

type SingleText = (typeof SINGLE_TEXT)[number];
type SingleNumber = (typeof SINGLE_NUMBER)[number];
type Multi = (typeof MULTI)[number];

/** Options for {@link parsePkgInfo}. */
export interface ParsePkgInfoOptions {
  /** Throw on recoverable problems instead of reporting them. Default false. */
  strict?: boolean;
  /** Receives recoverable problems in lenient mode. */
  warn?: (message: string, code: string) => void;
  /** Where the text came from, for messages. */
  source?: string;
}

function isOneOf<T extends string>(list: readonly T[], key: string): key is T {
  return (list as readonly string[]).includes(key);
}

/**
 * Parse `.PKGINFO` text.
 *
 * @param text - the file's content
 * @param options - strictness, warning sink, source name
 * @returns the metadata
 * @throws {ApkError} APK_BAD_PKGINFO when pkgname or pkgver is missing, a number is malformed, a
 *   single-valued key repeats, or (strict) a line has no ` = `
 * @example
 * parsePkgInfo('pkgname = hello\npkgver = 1.0-r0\n').pkgname // 'hello'
 */
export function parsePkgInfo(text: string, options: ParsePkgInfoOptions = {}): PkgInfo {
  const source = options.source ?? '.PKGINFO';
  const fail = (message: string): never => {
    throw new ApkError('APK_BAD_PKGINFO', `${source}: ${message}`, {
      hint: 'the package metadata is malformed; rebuild the package',
    });
  };
  const warn = (message: string, code: string): void => {
    if (options.strict === true) fail(message);
    options.warn?.(`${source}: ${message}`, code);
  };
  const info: Partial<Record<SingleText, string>> & Partial<Record<SingleNumber, number>> = {};
  const lists: Record<Multi, string[]> = {
    depend: [],
    provides: [],
    install_if: [],
    replaces: [],
    triggers: [],
  };
  const other: [string, string][] = [];
  const lines = text.split('\n');
  lines.forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '' || line.startsWith('#')) return;
    const sep = line.indexOf(' = ');
    if (sep < 0) {
      // "url =" with nothing after: melange trims nothing, but other writers may.
      if (line.endsWith(' =')) return handle(line.slice(0, -2), '', index);
      return warn(
        `line ${index + 1} has no " = " separator: ${JSON.stringify(line.slice(0, 80))}`,
        'APK_PKGINFO_BAD_LINE',
      );
    }
    handle(line.slice(0, sep), line.slice(sep + 3), index);
  });

  function handle(key: string, value: string, index: number): void {
    if (isOneOf(MULTI, key)) {
      lists[key].push(value);
    } else if (isOneOf(SINGLE_TEXT, key)) {
      const previous = info[key];
      if (previous === undefined) info[key] = value;
      else if (key === 'license') info.license = `${previous} AND ${value}`;
      else if (key === 'pkgname' || key === 'pkgver' || key === 'datahash')
        fail(`line ${index + 1}: ${key} appears twice`);
      else
        warn(`line ${index + 1}: ${key} appears twice; the first value is kept`, 'APK_PKGINFO_REPEATED_KEY');
    } else if (isOneOf(SINGLE_NUMBER, key)) {
      if (info[key] !== undefined)
        return warn(
          `line ${index + 1}: ${key} appears twice; the first value is kept`,
          'APK_PKGINFO_REPEATED_KEY',
        );
      if (!/^-?[0-9]{1,15}$/.test(value))
        fail(`line ${index + 1}: ${key} is not a whole number: ${JSON.stringify(value)}`);
      info[key] = Number(value);
    } else {
      other.push([key, value]);
    }
  }

  if (info.pkgname === undefined || info.pkgname === '') fail('pkgname is missing');
  if (info.pkgver === undefined || info.pkgver === '') fail('pkgver is missing');
  if (info.datahash !== undefined && !/^[0-9a-f]{64}$/.test(info.datahash))
    fail(`datahash is not 64 lowercase hex digits: ${JSON.stringify(info.datahash)}`);
  const result: PkgInfo = { pkgname: info.pkgname!, pkgver: info.pkgver!, ...lists, other };
  for (const key of SINGLE_TEXT)
    if (info[key] !== undefined && key !== 'pkgname' && key !== 'pkgver') result[key] = info[key];
  for (const key of SINGLE_NUMBER) if (info[key] !== undefined) result[key] = info[key];
  return result;
}

/**
 * Write `.PKGINFO` in melange's order: a comment, then pkgname, pkgver, arch, size, origin, pkgdesc, url,
 * commit, maintainer, license, builddate, packager; repeated depend, provides, replaces, install_if,
 * triggers; provider_priority, replaces_priority; other keys; datahash last.
 *
 * @param info - the metadata
 * @param generator - the comment's tool name
 * @returns the text, ending in a newline
 * @throws {ApkError} APK_BAD_PKGINFO when a value contains a newline
 */
export function serializePkgInfo(info: PkgInfo, generator = 'tk'): string {
  const lines = [`# Generated by ${generator}`];
  const put = (key: string, value: string | number | undefined): void => {
    if (value === undefined) return;
    const text = String(value);
    if (/[\n\r]/.test(text))
      throw new ApkError('APK_BAD_PKGINFO', `.PKGINFO ${key} contains a line break: ${JSON.stringify(text)}`);
    lines.push(`${key} = ${text}`);
  };
  put('pkgname', info.pkgname);
  put('pkgver', info.pkgver);
  put('arch', info.arch);
  put('size', info.size);
  put('origin', info.origin);
  put('pkgdesc', info.pkgdesc);
  put('url', info.url);
  put('commit', info.commit);
  put('maintainer', info.maintainer);
  put('license', info.license);
  put('builddate', info.builddate);
  put('packager', info.packager);
  for (const value of info.depend) put('depend', value);
  for (const value of info.provides) put('provides', value);
  for (const value of info.replaces) put('replaces', value);
  for (const value of info.install_if) put('install_if', value);
  for (const value of info.triggers) put('triggers', value);
  put('provider_priority', info.provider_priority);
  put('replaces_priority', info.replaces_priority);
  for (const [key, value] of info.other) put(key, value);
  put('datahash', info.datahash);
  return lines.join('\n') + '\n';
}

/**
 * A PkgInfo with only a name and version set; convenient for building packages.
 *
 * @param pkgname - package name
 * @param pkgver - version including `-rN`
 * @returns a PkgInfo with empty lists
 */
export function emptyPkgInfo(pkgname: string, pkgver: string): PkgInfo {
  return { pkgname, pkgver, depend: [], provides: [], install_if: [], replaces: [], triggers: [], other: [] };
}

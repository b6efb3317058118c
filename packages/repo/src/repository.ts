/**
 * Repository lines, as written in apko's `contents.repositories`, melange's `environment.contents.repositories`,
 * `--repository-append` and `/etc/apk/repositories`:
 *
 *     https://dl-cdn.alpinelinux.org/alpine/v3.19/main     a remote repository (http or https)
 *     /abs/path | ./packages | packages | file:///x          a local folder (relative to the config's folder)
 *     @local ./packages                                     a tagged repository (`name@local` pins to it)
 *
 * A repository holds one folder per apk architecture: `<repo>/<arch>/APKINDEX.tar.gz` next to
 * `<repo>/<arch>/<name>-<version>.apk` (apko `pkg/apk/apk/repository.go`, apk-tools `src/database.c`).
 *
 * A line is one or two whitespace-separated fields; anything else (spaces inside a path, control characters,
 * schemes other than http, https and file, queries and fragments that would break the `<repo>/<arch>/…` URL
 * scheme) is refused here rather than turned into a confusing download error later. Relative paths are
 * resolved against a base folder the caller passes (the config file's folder, or `-C/--workdir`), never the
 * process's working directory: apko resolves them against its CWD, and users are confused by it (apko#549).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { internalError } from '@tk/core';
import { RepoError } from './errors.ts';

/** A parsed repository line. */
export interface RepositorySpec {
  /** The line as written (surrounding whitespace trimmed). */
  line: string;
  /** The tag of a tagged repository (`@local ./packages` → `local`). */
  tag?: string;
  /** The repository part as written, without the tag, trailing `/` trimmed; relative paths stay relative. */
  location: string;
  /** Where the repository is: `http:`, `https:` or (for local folders) an absolute `file:` URL. No trailing `/`. */
  url: URL;
}

/** Options of {@link parseRepository}. */
export interface ParseRepositoryOptions {
  /** Absolute folder that relative paths are resolved against (the config file's folder or the workdir). */
  baseDir: string;
}

/** Characters a repository tag may use (apk-tools and go-apk; `-` and `_` included, go-apk#239). */
const TAG_PATTERN = /^[A-Za-z0-9._-]+$/;
/** The longest line accepted; real repository URLs are far shorter. */
const MAX_LINE_LENGTH = 4096;
// C0 controls, DEL and C1 controls: they end up in /etc/apk/repositories and in log lines.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f-\x9f]/;
/** A URL scheme at the start of a location (`ftp:`, `s3:`, `git+ssh:`). */
const SCHEME_PATTERN = /^([A-Za-z][A-Za-z0-9+.-]*):/;
/** Characters that are not allowed in an architecture or a package file name component. */
const SAFE_COMPONENT = /^[A-Za-z0-9._+~-]+$/;

/**
 * Strip credentials from a URL for messages (`https://user:pass@host/x` → `https://user:***@host/x`).
 *
 * @param url - any URL
 * @returns the URL as text, with the password (or a user name given alone, which is often a token) masked;
 *   text that is not a URL is returned with anything shaped like `//user:pass@` masked
 */
export function redactUrl(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : new URL(url.href);
  } catch {
    return redactLine(String(url));
  }
  if (parsed.password !== '') parsed.password = '***';
  else if (parsed.username !== '') parsed.username = '***';
  return parsed.href;
}

function badLine(line: string, problem: string, hint: string): RepoError {
  // A line may carry credentials (https://user:token@host/…): never echo them back.
  const shown = redactLine(line);
  return new RepoError('REPO_BAD_REPOSITORY', `repository ${JSON.stringify(shown)}: ${problem}`, {
    hint,
    data: { line: shown },
  });
}

function redactLine(line: string): string {
  return line.replace(/(\/\/[^/@\s]*?):[^/@\s]*@/g, '$1:***@').replace(/(\/\/)[^/:@\s]+@/g, '$1***@');
}

function trimTrailingSlashes(text: string): string {
  let end = text.length;
  while (end > 1 && text[end - 1] === '/') end--;
  return text.slice(0, end);
}

function parseRemote(line: string, location: string): URL {
  // WHATWG URL parsing is forgiving (`https:///host`, `https:\\host`); a repository line should not be.
  if (!/^[A-Za-z]+:\/\/[^/\\]/.test(location) || location.includes('\\'))
    throw badLine(line, 'is not a valid URL', 'write it as https://host/path');
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw badLine(line, 'is not a valid URL', 'write it as https://host/path');
  }
  if (url.hostname === '') throw badLine(line, 'has no host name', 'write it as https://host/path');
  if (url.search !== '' || url.hash !== '' || location.includes('?') || location.includes('#'))
    throw badLine(
      line,
      'has a query or fragment; packages are fetched from <repository>/<arch>/…, which would break it',
      'remove the part from "?" or "#" on',
    );
  url.pathname = trimTrailingSlashes(url.pathname);
  return url;
}

function parseFileUrl(line: string, location: string): URL {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw badLine(line, 'is not a valid file: URL', 'write it as file:///absolute/path or as a plain path');
  }
  if (!/^file:\/\/(localhost)?\//i.test(location) || (url.hostname !== '' && url.hostname !== 'localhost'))
    throw badLine(
      line,
      'is not a local file: URL (file:///absolute/path)',
      'write it as file:///absolute/path or as a plain path',
    );
  if (url.search !== '' || url.hash !== '')
    throw badLine(line, 'has a query or fragment', 'remove the part from "?" or "#" on');
  if (/%2f|%00/i.test(url.pathname))
    throw badLine(
      line,
      'encodes "/" or NUL in its path',
      'write the path without percent-encoded separators',
    );
  return new URL(`file://${trimTrailingSlashes(url.pathname)}`);
}

/**
 * Parse one repository line.
 *
 * @param line - e.g. `https://dl-cdn.alpinelinux.org/alpine/v3.19/main`, `./packages`, `@local ./packages`
 * @param options - `baseDir`: absolute folder for relative paths (the config file's folder or the workdir)
 * @returns the tag, the location as written and the resolved URL
 * @throws {RepoError} REPO_BAD_REPOSITORY for empty lines, whitespace or control characters inside a field,
 *   bad tags, schemes other than http, https and file, and malformed URLs
 * @example
 * parseRepository('@local ./packages', { baseDir: '/src/app' });
 * // { line: '@local ./packages', tag: 'local', location: './packages', url: URL('file:///src/app/packages') }
 */
export function parseRepository(line: string, options: ParseRepositoryOptions): RepositorySpec {
  if (typeof line !== 'string') throw badLine(String(line), 'is not text', 'write one repository per line');
  if (!isAbsolute(options.baseDir))
    internalError(`parseRepository: baseDir must be absolute, got ${JSON.stringify(options.baseDir)}`);
  if (line.length > MAX_LINE_LENGTH)
    throw badLine(
      line.slice(0, 64) + '…',
      `is ${line.length} characters long (limit ${MAX_LINE_LENGTH})`,
      'shorten the URL or path',
    );
  const trimmed = line.trim();
  if (trimmed === '')
    throw badLine(line, 'is empty', 'remove the empty entry, or write a URL or a path such as ./packages');
  const fields = trimmed.split(/[ \t]+/);
  for (const field of fields) {
    if (CONTROL_CHARACTER.test(field))
      throw badLine(
        trimmed,
        'contains a control character',
        'remove it (was the line pasted from a terminal?)',
      );
    if (/\s/.test(field))
      throw badLine(
        trimmed,
        'contains whitespace inside a field',
        'write "@tag location" or just "location"',
      );
  }
  let tag: string | undefined;
  let location: string;
  if (fields[0]!.startsWith('@')) {
    tag = fields[0]!.slice(1);
    if (tag === '')
      throw badLine(
        trimmed,
        'has an empty tag ("@" alone)',
        'write "@name location", e.g. "@local ./packages"',
      );
    if (!TAG_PATTERN.test(tag))
      throw badLine(
        trimmed,
        `has an invalid tag ${JSON.stringify(tag)}: tags use letters, digits, ".", "_" and "-"`,
        'rename the tag, e.g. "@local ./packages"',
      );
    if (fields.length < 2)
      throw badLine(trimmed, 'has a tag but no location', 'write "@name location", e.g. "@local ./packages"');
    if (fields.length > 2)
      throw badLine(
        trimmed,
        `has ${fields.length} fields; expected "@tag location"`,
        'paths with spaces are not supported in repository lines',
      );
    location = fields[1]!;
    if (location.startsWith('@'))
      throw badLine(trimmed, 'has two tags', 'write "@name location", e.g. "@local ./packages"');
  } else {
    if (fields.length > 1)
      throw badLine(
        trimmed,
        `has ${fields.length} fields; expected a URL or a path (tags start with "@")`,
        'write "@tag location" or just "location"; paths with spaces are not supported',
      );
    location = fields[0]!;
  }
  if (location.startsWith('#')) throw badLine(trimmed, 'is a comment, not a repository', 'remove the line');
  location = trimTrailingSlashes(location);
  const scheme = SCHEME_PATTERN.exec(location)?.[1]?.toLowerCase();
  let url: URL;
  if (scheme === 'http' || scheme === 'https') url = parseRemote(trimmed, location);
  else if (scheme === 'file') url = parseFileUrl(trimmed, location);
  else if (scheme !== undefined)
    throw badLine(
      trimmed,
      `uses the unsupported scheme "${scheme}:"; repositories are http(s) URLs or local paths`,
      `for a local folder whose name contains ":", write it as ./${location}`,
    );
  else {
    const path = resolve(options.baseDir, location);
    url = pathToFileURL(trimTrailingSlashes(path));
  }
  return { line: trimmed, ...(tag === undefined ? {} : { tag }), location, url };
}

function checkComponent(value: string, what: string): void {
  if (
    typeof value !== 'string' ||
    value === '' ||
    value === '.' ||
    value === '..' ||
    !SAFE_COMPONENT.test(value)
  ) {
    throw new RepoError(
      'REPO_BAD_PACKAGE_NAME',
      `${what} ${JSON.stringify(value)} cannot be part of a repository path`,
      {
        hint: 'the index names a package with unsafe characters ("/", "..", spaces, control characters); it was not downloaded',
        data: { [what]: value },
      },
    );
  }
}

function join(spec: RepositorySpec, ...components: string[]): URL {
  const base = spec.url.href.endsWith('/') ? spec.url.href.slice(0, -1) : spec.url.href;
  return new URL(`${base}/${components.join('/')}`);
}

/**
 * The URL of a repository's index for an architecture: `<repo>/<arch>/APKINDEX.tar.gz`.
 *
 * @param spec - the repository
 * @param arch - an apk architecture (`x86_64`, `aarch64`…)
 * @returns the index URL
 * @throws {RepoError} REPO_BAD_PACKAGE_NAME when `arch` is not a plain name
 */
export function indexUrl(spec: RepositorySpec, arch: string): URL {
  checkComponent(arch, 'arch');
  return join(spec, arch, 'APKINDEX.tar.gz');
}

/**
 * The URL of a package file: `<repo>/<arch>/<name>-<version>.apk` (apko and apk-tools).
 *
 * @param spec - the repository
 * @param arch - an apk architecture
 * @param name - the package name
 * @param version - the package version
 * @returns the package URL
 * @throws {RepoError} REPO_BAD_PACKAGE_NAME when a part contains `/`, `..`, whitespace or other unsafe characters
 */
export function packageUrl(spec: RepositorySpec, arch: string, name: string, version: string): URL {
  checkComponent(arch, 'arch');
  checkComponent(name, 'name');
  checkComponent(version, 'version');
  return join(spec, arch, `${name}-${version}.apk`);
}

/**
 * Repository lines, as in `contents.repositories` and `/etc/apk/repositories`: `URL-or-path`, or
 * `@tag URL-or-path` for a tagged repository whose packages are installed only when asked for as
 * `name@tag` (apko `pkg/build/types/types.go` `processRepositoryURLs`; apk-tools `repositories(5)`).
 */
import { ConfigError } from './errors.ts';

/** A parsed repository line. */
export interface RepositoryLine {
  /** The tag without `@`, for `@tag url` lines. */
  tag?: string;
  /** The URL or path, trailing `/` removed (as apko trims it). */
  url: string;
}

/** Tag names: the same characters `@tk/apk` accepts in `name@tag` (apko allows only letters and digits). */
export const REPOSITORY_TAG_PATTERN = /^[A-Za-z0-9._-]+$/;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const ALLOWED_SCHEMES = new Set(['http', 'https', 'file']);
// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const CONTROL = /[\u0000-\u001f\u007f]/;

function bad(line: string, reason: string, hint: string): never {
  throw new ConfigError('CONFIG_INVALID', `invalid repository "${line}": ${reason}`, {
    hint,
    data: { line },
  });
}

/**
 * Parse one repository line.
 *
 * @param line - `https://host/path`, `./packages`, `@local ./packages`
 * @returns the tag (if any) and the URL or path without trailing slashes
 * @throws {ConfigError} CONFIG_INVALID for an empty line, a tag without a repository, a malformed tag,
 *   more than two fields, control characters, or a URL scheme other than http, https or file
 * @example
 * parseRepositoryLine('@local ./packages/'); // { tag: 'local', url: './packages' }
 */
export function parseRepositoryLine(line: string): RepositoryLine {
  if (CONTROL.test(line)) bad(line, 'it contains a control character', 'remove the control character');
  const fields = line
    .trim()
    .split(/\s+/)
    .filter((f) => f !== '');
  if (fields.length === 0) bad(line, 'it is empty', 'remove the empty entry');
  if (fields.length > 2) {
    bad(line, `it has ${fields.length} fields`, 'write either "URL" or "@tag URL"');
  }
  let tag: string | undefined;
  let url = fields[0]!;
  if (fields.length === 2) {
    if (!url.startsWith('@'))
      bad(line, `"${url}" should be a tag starting with @`, 'write either "URL" or "@tag URL"');
    tag = url.slice(1);
    url = fields[1]!;
    if (!REPOSITORY_TAG_PATTERN.test(tag)) {
      bad(line, `the tag "@${tag}" is not letters, digits, ".", "_" or "-"`, 'rename the tag, e.g. @local');
    }
  } else if (url.startsWith('@')) {
    bad(line, 'a tag needs a repository after it', 'write "@tag URL", e.g. "@local ./packages"');
  }
  if (url.startsWith('@')) bad(line, 'two tags', 'write "@tag URL"');
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && !ALLOWED_SCHEMES.has(scheme)) {
    bad(line, `the scheme "${scheme}://" is not supported`, 'use an http(s) URL or a local path');
  }
  const trimmed = url.replace(/\/+$/, '');
  if (trimmed === '' || (scheme !== undefined && trimmed.length <= scheme.length + 3)) {
    bad(line, 'the URL or path is empty', 'give a URL or a path');
  }
  return tag === undefined ? { url: trimmed } : { tag, url: trimmed };
}

/**
 * Format a repository line back (`@tag url` or `url`).
 *
 * @param repo - a parsed line
 * @returns the line
 */
export function formatRepositoryLine(repo: RepositoryLine): string {
  return repo.tag === undefined ? repo.url : `@${repo.tag} ${repo.url}`;
}

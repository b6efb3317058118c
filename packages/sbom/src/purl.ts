/**
 * Package URLs (https://github.com/package-url/purl-spec): `pkg:<type>/<namespace>/<name>@<version>?<qualifiers>#<subpath>`.
 *
 * Segments are percent-encoded except for the unreserved characters and `:` (the spec says `:` is never
 * encoded), so `libstdc++` is `libstdc%2B%2B` as trivy and syft write it. Qualifiers are sorted by key and
 * their values escaped like Go's `url.QueryEscape` (what apko uses, giving
 * `mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson`), except that a space is `%20` as the purl spec
 * wants rather than Go's `+`.
 */
import { compareCodePoints, utf8 } from '@tk/core';

function percentEncode(text: string, keep: RegExp): string {
  let out = '';
  for (const ch of text) {
    if (keep.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of utf8(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const SEGMENT_KEEP = /^[A-Za-z0-9._~:-]$/;
const QUERY_KEEP = /^[A-Za-z0-9._~-]$/;

/** Escape one path segment of a purl (namespace part, name or version). */
export function escapePurlSegment(text: string): string {
  return percentEncode(text, SEGMENT_KEEP);
}

/** Escape a qualifier value like Go's `url.QueryEscape`, with `%20` for a space. */
export function escapeQualifierValue(text: string): string {
  return percentEncode(text, QUERY_KEEP);
}

/** The parts of a purl. Empty or undefined parts are left out. */
export interface PurlParts {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  /** Written sorted by key; undefined or empty values are dropped. */
  qualifiers?: Readonly<Record<string, string | undefined>>;
  subpath?: string;
}

/**
 * Write a purl.
 *
 * @param parts - type, namespace (may hold `/`), name, version, qualifiers, subpath
 * @returns the purl text
 * @example
 * formatPurl({ type: 'apk', namespace: 'wolfi', name: 'libstdc++', version: '13.2.0-r1', qualifiers: { arch: 'x86_64' } })
 * // 'pkg:apk/wolfi/libstdc%2B%2B@13.2.0-r1?arch=x86_64'
 */
export function formatPurl(parts: PurlParts): string {
  let out = `pkg:${parts.type}/`;
  if (parts.namespace !== undefined && parts.namespace !== '') {
    out += parts.namespace
      .split('/')
      .filter((segment) => segment !== '')
      .map(escapePurlSegment)
      .join('/');
    out += '/';
  }
  out += escapePurlSegment(parts.name);
  if (parts.version !== undefined && parts.version !== '') out += `@${escapePurlSegment(parts.version)}`;
  const qualifiers = Object.entries(parts.qualifiers ?? {})
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .sort((a, b) => compareCodePoints(a[0], b[0]));
  if (qualifiers.length > 0)
    out += `?${qualifiers.map(([key, value]) => `${key}=${escapeQualifierValue(value)}`).join('&')}`;
  if (parts.subpath !== undefined && parts.subpath !== '') {
    out += `#${parts.subpath
      .split('/')
      .filter((segment) => segment !== '' && segment !== '.' && segment !== '..')
      .map(escapePurlSegment)
      .join('/')}`;
  }
  return out;
}

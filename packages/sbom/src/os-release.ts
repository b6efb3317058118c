/**
 * `/etc/os-release` (https://www.freedesktop.org/software/systemd/man/os-release.html): `KEY=value` lines,
 * values optionally quoted. tk reads it the way apko's `ParseReleaseData` does (`pkg/build/sbom.go`): blank
 * lines and `#` comments are skipped and surrounding `"` are trimmed; unlike apko, a line without `=` is
 * skipped instead of failing the build, and single quotes and backslash escapes are understood.
 */
import type { OsRelease } from './model.ts';

/** Largest os-release text read; the rest is ignored (real files are a few hundred bytes). */
const MAX_OS_RELEASE_BYTES = 64 * 1024;

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) {
    const inner = v.slice(1, -1);
    return v[0] === '"' ? inner.replace(/\\([\\"$`])/g, '$1') : inner;
  }
  return v.replace(/^"+|"+$/g, '');
}

/**
 * Parse the text of an os-release file.
 *
 * @param text - the file content
 * @returns the fields tk uses (`ID`, `NAME`, `VERSION_ID`, `PRETTY_NAME`), each only when present
 * @example
 * parseOsRelease('ID=wolfi\nNAME="Wolfi"\n') // { ID: 'wolfi', NAME: 'Wolfi' }
 */
export function parseOsRelease(text: string): OsRelease {
  const fields = new Map<string, string>();
  for (const line of text.slice(0, MAX_OS_RELEASE_BYTES).split(/\r?\n/)) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    fields.set(line.slice(0, eq).trim(), unquote(line.slice(eq + 1)));
  }
  const out: OsRelease = {};
  for (const key of ['ID', 'NAME', 'VERSION_ID', 'PRETTY_NAME'] as const) {
    const value = fields.get(key);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

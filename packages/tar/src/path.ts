/**
 * Path safety for entries that will land on a filesystem. apk-tools refuses names that start with `/`,
 * contain control characters or have `.`/`..` components ("ignoring malicious file"); tk refuses them too,
 * with a coded error instead of silently skipping, and normalises the harmless forms (`./a`, `a/`).
 */
import { TarError } from './errors.ts';

/**
 * Normalise an entry path and refuse unsafe ones.
 *
 * @param name - the path as stored in the archive
 * @returns the path without a leading `./` or trailing `/`
 * @throws {TarError} TAR_UNSAFE_PATH for absolute paths, `..` or `.` components inside, empty names,
 *   NUL or other control characters, backslashes
 * @example
 * checkEntryPath('./usr/bin/') // 'usr/bin'
 */
export function checkEntryPath(name: string): string {
  const unsafe = (why: string): never => {
    throw new TarError('TAR_UNSAFE_PATH', `unsafe path ${JSON.stringify(name)} in archive: ${why}`, {
      hint: 'the archive tries to write outside its root or uses malformed names; it was not extracted',
      data: { path: name },
    });
  };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) unsafe('control character');
  if (name.startsWith('/')) unsafe('absolute path');
  if (name.includes('\\')) unsafe('backslash');
  let path = name;
  while (path.startsWith('./')) path = path.slice(2);
  path = path.replace(/\/+$/, '');
  if (path === '' || path === '.') unsafe('empty path');
  for (const part of path.split('/')) {
    if (part === '') unsafe('empty component');
    if (part === '..') unsafe('".." component');
    if (part === '.') unsafe('"." component');
  }
  return path;
}

/**
 * Check a link target relative to the entry that holds it: a symlink may point anywhere *inside* the
 * root (absolute targets are taken as relative to the root, as in a chroot), never above it.
 *
 * @param entryPath - the checked path of the link itself
 * @param target - the link target
 * @returns true when the target, resolved lexically from the link's directory, stays inside the root
 */
export function linkStaysInside(entryPath: string, target: string): boolean {
  if (target === '' || target.includes('\0')) return false;
  const parts = target.startsWith('/') ? [] : entryPath.split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return false;
      parts.pop();
    } else parts.push(part);
  }
  return true;
}

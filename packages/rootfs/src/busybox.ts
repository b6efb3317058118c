/**
 * Busybox applet links (apko `busybox.go`): when the root has `bin/busybox`, every applet path listed in
 * `/etc/busybox-paths.d/<package>` gets a RELATIVE symlink to it (relative links work in any sandbox;
 * absolute ones break when the root is not mounted at /). Existing files and links are kept.
 */
import { fromUtf8 } from '@tk/core';
import { meta, type FsTree } from './tree.ts';

/**
 * Create busybox applet links.
 *
 * @param tree - the root
 * @param mtime - timestamp of created links and directories
 * @returns the number of links created
 */
export function createBusyboxLinks(tree: FsTree, mtime: number): number {
  const busybox = tree.get('bin/busybox', { follow: true });
  if (busybox?.kind !== 'file') return 0;
  const pathsDir = tree.get('etc/busybox-paths.d', { follow: true });
  if (pathsDir?.kind !== 'dir') return 0;
  const applets = new Set<string>();
  for (const name of [...pathsDir.children.keys()].sort()) {
    const file = pathsDir.children.get(name);
    if (file?.kind !== 'file') continue;
    let text: string;
    try {
      text = fromUtf8(file.data);
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const path = line.trim().replace(/^\/+/, '');
      if (path !== '' && !path.split('/').includes('..')) applets.add(path);
    }
  }
  let created = 0;
  for (const path of [...applets].sort()) {
    if (path === 'bin/busybox' || tree.get(path) !== undefined) continue;
    const dir = path.split('/').slice(0, -1);
    tree.mkdirAll(dir.join('/'), meta(0o755, mtime));
    tree.put(path, {
      kind: 'symlink',
      meta: meta(0o777, mtime),
      target: relativeTo(dir, ['bin', 'busybox']),
    });
    created++;
  }
  return created;
}

/** The relative path from directory `from` to `to` (both as components from the root). */
function relativeTo(from: readonly string[], to: readonly string[]): string {
  let common = 0;
  while (common < from.length && common < to.length - 1 && from[common] === to[common]) common++;
  return [...Array<string>(from.length - common).fill('..'), ...to.slice(common)].join('/');
}

/**
 * The tree as a flat, ordered list of entries for a layer tar: directory-walk order, hard links after
 * their first path, owner names from the image's own /etc/passwd and /etc/group.
 */
import { accountNames } from './accounts.ts';
import type { FsTree } from './tree.ts';

/** One entry, shaped for a tar writer (`@tk/oci`'s LayerEntry). */
export interface TreeEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, Uint8Array>;
  data?: Uint8Array;
}

/**
 * List the tree's entries.
 *
 * @param tree - the root
 * @returns entries in layer order
 */
export function treeEntries(tree: FsTree): TreeEntry[] {
  const names = accountNames(tree);
  return tree.walk().map(({ path, node, linkTo }): TreeEntry => {
    const base = {
      path,
      mode: node.meta.mode,
      uid: node.meta.uid,
      gid: node.meta.gid,
      uname: names.user(node.meta.uid),
      gname: names.group(node.meta.gid),
      mtime: node.meta.mtime,
      ...(Object.keys(node.meta.xattrs).length > 0 ? { xattrs: node.meta.xattrs } : {}),
    };
    if (linkTo !== undefined) return { ...base, type: 'hardlink', linkname: linkTo };
    switch (node.kind) {
      case 'dir':
        return { ...base, type: 'directory' };
      case 'file':
        return { ...base, type: 'file', data: node.data };
      case 'symlink':
        return { ...base, type: 'symlink', linkname: node.target };
      case 'char':
      case 'block':
        return { ...base, type: node.kind, devmajor: node.major, devminor: node.minor };
      case 'fifo':
        return { ...base, type: 'fifo' };
    }
  });
}

/**
 * `paths:` mutations (apko; apk-and-apko.md §6): directory, empty-file, hardlink, symlink, permissions.
 * Unlike apko, a missing `permissions` never means mode 0, a symlink mutation never chmods its target,
 * and an absent uid or gid leaves that id unchanged (apko sets the other one to 0).
 */
import { RootfsError } from './errors.ts';
import { meta, type FsNode, type FsTree } from './tree.ts';

/** One mutation. */
export interface PathMutation {
  path: string;
  type: 'directory' | 'empty-file' | 'hardlink' | 'symlink' | 'permissions';
  uid?: number;
  gid?: number;
  permissions?: number;
  source?: string;
  recursive?: boolean;
}

function fail(m: PathMutation, why: string): RootfsError {
  return new RootfsError('ROOTFS_BAD_STEP', `paths: ${m.type} ${m.path}: ${why}`, {
    hint: 'fix the paths: entry in the image configuration',
    data: { path: m.path },
  });
}

function chown(node: FsNode, m: PathMutation): void {
  if (m.uid !== undefined) node.meta.uid = m.uid;
  if (m.gid !== undefined) node.meta.gid = m.gid;
}

function forEach(node: FsNode, recursive: boolean, fn: (n: FsNode) => void): void {
  fn(node);
  if (recursive && node.kind === 'dir')
    for (const child of node.children.values()) if (child.kind !== 'symlink') forEach(child, true, fn);
}

/**
 * Apply mutations in order.
 *
 * @param tree - the root
 * @param mutations - the configured paths
 * @param mtime - timestamp for what is created
 * @throws {RootfsError} ROOTFS_BAD_STEP when a mutation cannot apply
 */
export function applyPaths(tree: FsTree, mutations: readonly PathMutation[], mtime: number): void {
  for (const m of mutations) {
    const path = m.path.replace(/^\/+/, '');
    if (path === '') throw fail(m, 'the root itself cannot be mutated');
    switch (m.type) {
      case 'directory': {
        const dir = tree.mkdirAll(path, meta(m.permissions ?? 0o755, mtime));
        forEach(dir, m.recursive === true, (n) => {
          if (m.permissions !== undefined) n.meta.mode = m.permissions;
          chown(n, m);
        });
        break;
      }
      case 'empty-file': {
        tree.mkdirAll(path.split('/').slice(0, -1).join('/'), meta(0o755, mtime));
        const node: FsNode = {
          kind: 'file',
          meta: meta(m.permissions ?? 0o644, mtime),
          data: new Uint8Array(0),
        };
        chown(node, m);
        tree.put(path, node);
        break;
      }
      case 'symlink': {
        if (m.source === undefined || m.source === '') throw fail(m, 'needs a source (the link target)');
        tree.mkdirAll(path.split('/').slice(0, -1).join('/'), meta(0o755, mtime));
        tree.remove(path);
        const node: FsNode = { kind: 'symlink', meta: meta(0o777, mtime), target: m.source };
        chown(node, m);
        tree.put(path, node);
        break;
      }
      case 'hardlink': {
        if (m.source === undefined || m.source === '') throw fail(m, 'needs a source (the existing file)');
        const source = tree.get(m.source.replace(/^\/+/, ''), { follow: true });
        if (source?.kind !== 'file') throw fail(m, `source ${m.source} is not a regular file`);
        tree.mkdirAll(path.split('/').slice(0, -1).join('/'), meta(0o755, mtime));
        tree.remove(path);
        tree.put(path, source);
        if (m.permissions !== undefined) source.meta.mode = m.permissions;
        chown(source, m);
        break;
      }
      case 'permissions': {
        const node = tree.get(path);
        if (node === undefined) throw fail(m, 'nothing exists at this path');
        if (m.permissions === undefined && m.uid === undefined && m.gid === undefined)
          throw fail(m, 'needs permissions, uid or gid');
        forEach(node, m.recursive === true, (n) => {
          if (m.permissions !== undefined && n.kind !== 'symlink') n.meta.mode = m.permissions;
          chown(n, m);
        });
        break;
      }
    }
  }
}

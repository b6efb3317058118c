/**
 * An in-memory root filesystem: the image layer and the build sandbox are both built here first.
 *
 * The tree is closed: every path is resolved from its root, symlinks are followed with chroot semantics
 * (absolute targets start at the root, `..` stops at the root), so nothing written here can land outside
 * it, whatever the packages contain. Hard links are two directory entries sharing one file node, as on a
 * real filesystem. Walking yields entries in directory-walk order (a directory before its children,
 * siblings by name), the order layers are written in.
 */
import { RootfsError } from './errors.ts';

/** Metadata every node has. */
export interface NodeMeta {
  /** Permission bits plus setuid/setgid/sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Unix seconds. */
  mtime: number;
  xattrs: Record<string, Uint8Array>;
}

/** A directory. */
export interface DirNode {
  kind: 'dir';
  meta: NodeMeta;
  children: Map<string, FsNode>;
}

/** A regular file; several paths may share one (hard links). */
export interface FileNode {
  kind: 'file';
  meta: NodeMeta;
  data: Uint8Array;
}

/** A symbolic link. */
export interface SymlinkNode {
  kind: 'symlink';
  meta: NodeMeta;
  target: string;
}

/** A character or block device. */
export interface DeviceNode {
  kind: 'char' | 'block';
  meta: NodeMeta;
  major: number;
  minor: number;
}

/** A named pipe. */
export interface FifoNode {
  kind: 'fifo';
  meta: NodeMeta;
}

/** Any node. */
export type FsNode = DirNode | FileNode | SymlinkNode | DeviceNode | FifoNode;

/** One entry of a walk. */
export interface WalkEntry {
  /** Path from the root, no leading `/`. */
  path: string;
  node: FsNode;
  /** For the second and later paths of a hard-linked file: the first path (walk order). */
  linkTo?: string;
}

const MAX_SYMLINK_HOPS = 40;

/** Split a path into components, refusing `..` and empty names where the caller's path must be plain. */
function components(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

function badPath(path: string, why: string): RootfsError {
  return new RootfsError('ROOTFS_BAD_PATH', `cannot use ${JSON.stringify(path)}: ${why}`, {
    hint: 'a package or image step uses a path that clashes with what is already in the root',
    data: { path },
  });
}

/** Default metadata: root-owned, given mode, given time. */
export function meta(mode: number, mtime = 0, uid = 0, gid = 0): NodeMeta {
  return { mode, uid, gid, mtime, xattrs: {} };
}

/** The in-memory filesystem. */
export class FsTree {
  readonly root: DirNode;

  constructor(rootMeta: NodeMeta = meta(0o755)) {
    this.root = { kind: 'dir', meta: rootMeta, children: new Map() };
  }

  /**
   * Resolve a path to the directory that holds its last component, following symlinks in the parents.
   *
   * @returns the parent directory, the last name, and the canonical path of the result
   * @throws {RootfsError} ROOTFS_BAD_PATH when a parent is missing (unless `create`), not a directory, or loops
   */
  resolveParent(
    path: string,
    options: { create?: NodeMeta } = {},
  ): { dir: DirNode; name: string; canonical: string } {
    const parts = components(path);
    const name = parts.pop();
    if (name === undefined) throw badPath(path, 'it is the root');
    if (name === '..') throw badPath(path, '".." as the last component');
    const { dir, canonical } = this.#walkDirs(parts, path, options.create, 0);
    return { dir, name, canonical: canonical === '' ? name : `${canonical}/${name}` };
  }

  #walkDirs(
    parts: string[],
    original: string,
    create: NodeMeta | undefined,
    hops: number,
  ): { dir: DirNode; canonical: string } {
    let dir = this.root;
    const stack: { dir: DirNode; name: string }[] = [];
    const queue = [...parts];
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === '..') {
        // chroot semantics: ".." at the root stays at the root.
        stack.pop();
        dir = stack.at(-1)?.dir ?? this.root;
        continue;
      }
      let child = dir.children.get(part);
      if (child === undefined) {
        if (create === undefined) throw badPath(original, `${JSON.stringify(part)} does not exist`);
        child = { kind: 'dir', meta: { ...create, xattrs: {} }, children: new Map() };
        dir.children.set(part, child);
      }
      if (child.kind === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) throw badPath(original, 'too many levels of symbolic links');
        const target = components(child.target);
        if (child.target.startsWith('/')) {
          stack.length = 0;
          dir = this.root;
        }
        queue.unshift(...target);
        continue;
      }
      if (child.kind !== 'dir')
        throw badPath(original, `${JSON.stringify(part)} is a ${child.kind}, not a directory`);
      stack.push({ dir: child, name: part });
      dir = child;
    }
    return { dir, canonical: stack.map((s) => s.name).join('/') };
  }

  /**
   * Find a node.
   *
   * @param path - path from the root
   * @param options - `follow` resolves a final symlink too
   * @returns the node, or undefined when nothing is there (or a parent is missing)
   */
  get(path: string, options: { follow?: boolean } = {}): FsNode | undefined {
    try {
      return this.#lookup(components(path), options.follow === true, 0, path);
    } catch {
      return undefined;
    }
  }

  #lookup(parts: string[], follow: boolean, hops: number, original: string): FsNode | undefined {
    if (parts.length === 0) return this.root;
    const last = parts[parts.length - 1]!;
    if (last === '..') return this.#walkDirs(parts, original, undefined, hops).dir;
    const { dir, canonical } = this.#walkDirs(parts.slice(0, -1), original, undefined, hops);
    const node = dir.children.get(last);
    if (node?.kind !== 'symlink' || !follow) return node;
    if (++hops > MAX_SYMLINK_HOPS) throw badPath(original, 'too many levels of symbolic links');
    const base = node.target.startsWith('/') ? [] : components(canonical);
    return this.#lookup([...base, ...components(node.target)], true, hops, original);
  }

  /**
   * The canonical path of a path (parents resolved through symlinks; the last component kept).
   *
   * @throws {RootfsError} ROOTFS_BAD_PATH
   */
  canonical(path: string): string {
    return this.resolveParent(path).canonical;
  }

  /**
   * Create a directory and any missing parents (parents get `parentMeta`). An existing directory, or a
   * symlink to one, is kept as it is.
   *
   * @returns the directory node
   * @throws {RootfsError} ROOTFS_BAD_PATH when something else is in the way
   */
  mkdirAll(path: string, dirMeta: NodeMeta, parentMeta: NodeMeta = meta(0o755, dirMeta.mtime)): DirNode {
    if (components(path).length === 0) return this.root;
    const { dir, name } = this.resolveParent(path, { create: parentMeta });
    const existing = dir.children.get(name);
    if (existing === undefined) {
      const node: DirNode = {
        kind: 'dir',
        meta: { ...dirMeta, xattrs: { ...dirMeta.xattrs } },
        children: new Map(),
      };
      dir.children.set(name, node);
      return node;
    }
    const target = existing.kind === 'symlink' ? this.get(path, { follow: true }) : existing;
    if (target?.kind !== 'dir') throw badPath(path, `a ${existing.kind} is in the way of a directory`);
    return target;
  }

  /**
   * Put a node at a path, replacing what is there unless it is a directory.
   *
   * @throws {RootfsError} ROOTFS_BAD_PATH when the parent is missing or a directory is in the way
   */
  put(path: string, node: Exclude<FsNode, DirNode>): void {
    const { dir, name } = this.resolveParent(path);
    const existing = dir.children.get(name);
    if (existing?.kind === 'dir') throw badPath(path, 'a directory is in the way');
    dir.children.set(name, node);
  }

  /**
   * Remove what is at a path (a directory with everything in it).
   *
   * @returns whether something was removed
   */
  remove(path: string): boolean {
    let resolved;
    try {
      resolved = this.resolveParent(path);
    } catch {
      return false;
    }
    return resolved.dir.children.delete(resolved.name);
  }

  /**
   * Walk the whole tree in directory-walk order (the root itself is not listed).
   *
   * @returns entries; hard-linked files are listed once as files and then with `linkTo` the first path
   */
  walk(): WalkEntry[] {
    const out: WalkEntry[] = [];
    const seen = new Map<FileNode, string>();
    const visit = (dir: DirNode, prefix: string): void => {
      for (const name of [...dir.children.keys()].sort(byCodeUnits)) {
        const node = dir.children.get(name)!;
        const path = prefix === '' ? name : `${prefix}/${name}`;
        if (node.kind === 'file') {
          const first = seen.get(node);
          if (first === undefined) {
            seen.set(node, path);
            out.push({ path, node });
          } else out.push({ path, node, linkTo: first });
        } else out.push({ path, node });
        if (node.kind === 'dir') visit(node, path);
      }
    };
    visit(this.root, '');
    return out;
  }
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

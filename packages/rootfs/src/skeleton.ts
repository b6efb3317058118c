/**
 * The skeleton created before any package (apko `InitDB`, apk-and-apko.md §5.1): the directories every
 * root has, and the device nodes an image needs (a build sandbox gets its /dev from the runner).
 * `lib/apk/db` is made after the packages, so that a usr-merged baselayout's `lib -> usr/lib` symlink
 * can be installed first and the database lands behind it.
 */
import { meta, type FsTree } from './tree.ts';

/** Options for {@link createSkeleton}. */
export interface SkeletonOptions {
  /** Timestamp of created entries. */
  mtime: number;
  /** Create /dev/null & co. (images: yes; folders for bubblewrap: no, it mounts its own /dev). */
  devices: boolean;
}

const DIRS: readonly [string, number][] = [
  ['dev', 0o755],
  ['etc', 0o755],
  ['etc/apk', 0o755],
  ['etc/apk/keys', 0o755],
  ['proc', 0o555],
  ['tmp', 0o1777],
  ['usr', 0o755],
  ['var', 0o755],
  ['var/cache', 0o755],
  ['var/cache/apk', 0o755],
  ['var/cache/misc', 0o755],
];

const DEVICES: readonly [string, number, number, number][] = [
  ['dev/console', 5, 1, 0o620],
  ['dev/null', 1, 3, 0o666],
  ['dev/random', 1, 8, 0o666],
  ['dev/urandom', 1, 9, 0o666],
  ['dev/zero', 1, 5, 0o666],
];

/**
 * Create the skeleton.
 *
 * @param tree - an empty root
 * @param options - timestamp, devices
 */
export function createSkeleton(tree: FsTree, options: SkeletonOptions): void {
  tree.root.meta.mtime = options.mtime;
  for (const [path, mode] of DIRS) tree.mkdirAll(path, meta(mode, options.mtime));
  if (options.devices) ensureDevices(tree, options.mtime);
}

/**
 * (Re)create the five device nodes if missing (apko does this after every step).
 *
 * @param tree - the root
 * @param mtime - timestamp
 */
export function ensureDevices(tree: FsTree, mtime: number): void {
  tree.mkdirAll('dev', meta(0o755, mtime));
  for (const [path, major, minor, mode] of DEVICES) {
    if (tree.get(path) === undefined) tree.put(path, { kind: 'char', meta: meta(mode, mtime), major, minor });
  }
}

/**
 * Writing an {@link FsTree} into a real, empty folder (a build sandbox). The tree was resolved in memory,
 * so nothing here follows a symlink: directories are created one by one, files are created exclusively,
 * symlinks are written as links and never traversed, hard links point at files this function created.
 * Owners are applied with lchown when running as root (otherwise skipped, with one warning). Device nodes
 * are skipped (the sandbox runner mounts its own /dev); xattrs cannot be set from Node and are skipped with
 * a warning naming the files.
 */
import { randomBytes } from 'node:crypto';
import {
  chmod,
  lchown,
  link,
  lutimes,
  mkdir,
  readdir,
  rename,
  rm,
  rmdir,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { RootfsError } from './errors.ts';
import type { FsTree } from './tree.ts';

/** Options for {@link materialize}. */
export interface MaterializeOptions {
  /** Apply owners (needs root). Default: when `isRoot`. */
  owners?: boolean;
  /** Whether the process runs as root (the caller knows; libraries do not ask the process). */
  isRoot: boolean;
  logger?: Logger;
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return true;
    throw error;
  }
}

/**
 * Write the tree into `dir`, which must not exist or be empty. The tree is written into a temporary
 * sibling folder and renamed into place at the end, so a failure leaves nothing half-written at `dir`.
 *
 * @param tree - the root
 * @param dir - target folder
 * @param options - owners, logger
 * @throws {RootfsError} ROOTFS_WRITE_FAILED
 */
export async function materialize(tree: FsTree, dir: string, options: MaterializeOptions): Promise<void> {
  if (!(await isEmptyOrMissing(dir))) {
    throw new RootfsError('ROOTFS_WRITE_FAILED', `${dir} is not empty`, {
      hint: 'give an empty or new folder for the root filesystem',
    });
  }
  await mkdir(dirname(dir), { recursive: true });
  const temp = join(dirname(dir), `.${basename(dir)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeTree(tree, temp, options);
    await rmdir(dir).catch((error: { code?: string }) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    if (error instanceof RootfsError) throw error;
    throw new RootfsError(
      'ROOTFS_WRITE_FAILED',
      `writing the root filesystem into ${dir} failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function writeTree(tree: FsTree, dir: string, options: MaterializeOptions): Promise<void> {
  const logger = options.logger ?? silentLogger;
  const owners = options.owners ?? options.isRoot;
  await mkdir(dir, { mode: 0o755 });
  const skippedXattrs: string[] = [];
  let skippedDevices = 0;
  const dirs: { path: string; mode: number; mtime: number }[] = [];
  {
    for (const entry of tree.walk()) {
      const target = join(dir, entry.path);
      const { node } = entry;
      if (entry.linkTo !== undefined) {
        await link(join(dir, entry.linkTo), target);
        continue;
      }
      switch (node.kind) {
        case 'dir':
          await mkdir(target, { mode: 0o700 });
          dirs.push({ path: target, mode: node.meta.mode, mtime: node.meta.mtime });
          break;
        case 'file':
          await writeFile(target, node.data, { flag: 'wx', mode: 0o600 });
          break;
        case 'symlink':
          await symlink(node.target, target);
          break;
        case 'char':
        case 'block':
        case 'fifo':
          skippedDevices++;
          continue;
      }
      if (Object.keys(node.meta.xattrs).length > 0) skippedXattrs.push(entry.path);
      if (owners) await lchown(target, node.meta.uid, node.meta.gid);
      // chmod after chown: changing the owner clears setuid/setgid bits.
      if (node.kind === 'file') await chmod(target, node.meta.mode);
      if (node.kind !== 'dir') await lutimes(target, node.meta.mtime, node.meta.mtime);
    }
    // Directory modes and times last: children were written into them first.
    for (const d of dirs.reverse()) {
      await chmod(d.path, d.mode);
      await lutimes(d.path, d.mtime, d.mtime);
    }
    await chmod(dir, tree.root.meta.mode);
  }
  if (!owners) logger.warn(`owners were not applied to ${dir} (not running as root)`, 'ROOTFS_NO_OWNERS');
  if (skippedDevices > 0) logger.debug(`${skippedDevices} device nodes were not created in ${dir}`);
  if (skippedXattrs.length > 0)
    logger.warn(
      `extended attributes were not written for ${skippedXattrs.length} file(s) in ${dir}: ${skippedXattrs.slice(0, 5).join(', ')}`,
      'ROOTFS_NO_XATTRS',
    );
}

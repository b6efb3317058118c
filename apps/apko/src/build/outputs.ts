/**
 * Writing a build: the docker-load tarball (with the OCI index inside) or an OCI image layout, the SBOM
 * files, and the root filesystem tar of `build-minirootfs`.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { concatBytes, writeFileAtomic, type Logger } from '@tk/core';
import { gzip } from '@tk/gzip';
import { archiveRepoTags, writeDockerArchiveFile, writeOciLayout, writeLayerTar } from '@tk/oci';
import { treeEntries } from '@tk/rootfs';
import type { ArchBuild } from './assemble.ts';
import type { BuildResult } from './build.ts';
import type { SbomFile } from './sbom.ts';

/** Where and how to write. */
export interface OutputOptions {
  /** The tarball file, or the layout directory for `oci`. */
  output: string;
  /** `docker` (default: a `docker load`-able tar, as apko writes) or `oci` (an image layout folder). */
  format: 'docker' | 'oci';
  /**
   * Image tags (`hello:latest`); the tarball names each arch `hello:latest-amd64`, and a single-arch
   * tarball's image also `hello:latest`.
   */
  tags: readonly string[];
  logger: Logger;
}

/**
 * Write the image. For a tarball, logs (info) the names `docker load`/`podman load` give its images.
 *
 * @param result - the build
 * @param options - output path, format, tags
 */
export async function writeImage(result: BuildResult, options: OutputOptions): Promise<void> {
  if (options.format === 'oci') {
    const tag = options.tags[0]?.split('@')[0]?.split(':').slice(1).pop();
    await writeOciLayout(options.output, result.index, { tag: tag ?? 'latest', logger: options.logger });
  } else {
    await mkdir(dirname(options.output), { recursive: true });
    await writeDockerArchiveFile(options.output, result.index, { tags: [...options.tags] });
    const names = archiveRepoTags(result.index, options.tags).flat();
    options.logger.info(`wrote ${options.output}; it loads as ${names.join(', ')}`);
  }
}

/**
 * Write SBOM files into a directory.
 *
 * @param dir - target directory (created when missing)
 * @param files - the documents
 * @returns the paths written
 */
export async function writeSboms(dir: string, files: readonly SbomFile[]): Promise<string[]> {
  // Each file is written atomically on its own, so they can be written at the same time.
  return Promise.all(
    files.map(async (file) => {
      const path = join(dir, file.name);
      await writeFileAtomic(path, file.text, { mkdir: true });
      return path;
    }),
  );
}

/**
 * `build-minirootfs`: the root filesystem of one arch as a tar (gzip-compressed when the name ends in
 * `.gz`; apko always writes it uncompressed despite its `.tar.gz` example).
 *
 * @param arch - the built arch
 * @param output - the file
 */
export async function writeRootfsTar(arch: ArchBuild, output: string): Promise<void> {
  const tar = writeLayerTar(treeEntries(arch.tree));
  await writeFileAtomic(output, /\.t?gz$/.test(output) ? await gzip(tar.chunks) : concatBytes(tar.chunks), {
    mkdir: true,
  });
}

/** Re-export for the CLI: the layer media type of result images. */
export type { BuildResult };

/**
 * `tk apko build`: configuration → per-arch roots → layers → images → index, plus the lock and SBOMs.
 */
import { createHash } from 'node:crypto';
import { basename, relative } from 'node:path';
import { mapLimit, toBase64, type Logger } from '@tk/core';
import { assembleIndex, formatCreated, type IndexArtifact } from '@tk/oci';
import { lockPackageFor, lockRepositoryFor, type LockFile, type ResolvedPackage } from '@tk/solver';
import { buildArch, imageAnnotations, sectionDigests, type ArchBuild } from './assemble.ts';
import type { BuildOptions } from './options.ts';
import { prepareBuild, resolveArchs, type PreparedBuild } from './prepare.ts';

export { resolveImage } from './resolve.ts';

/** A finished build, before anything is written. */
export interface BuildResult {
  prepared: PreparedBuild;
  archs: ArchBuild[];
  index: IndexArtifact;
  /** The index time: the newest arch time. */
  created: number;
}

/**
 * Build an image index for every configured arch.
 *
 * @param options - configuration path, flags, environment, logger
 * @returns the images and everything about them (nothing is written)
 * @example
 * const { index } = await buildImage({ configPath: 'apko.yaml', workdir: process.cwd(), env: process.env, hostArch: 'x64', toolVersion: '0.1.0' });
 */
export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const prepared = await prepareBuild(options);
  try {
    const resolved = await resolveArchs(prepared);
    const archs = await mapLimit(resolved, ARCH_CONCURRENCY, (r) => buildArch(prepared, r, prepared.logger));
    const created = Math.max(...archs.map((a) => a.created));
    const index = assembleIndex(
      archs.map((a) => a.image),
      imageAnnotations(prepared.config, formatCreated(created)),
    );
    return { prepared, archs, index, created };
  } finally {
    await prepared.fetcher.close?.();
  }
}

/**
 * Arches built at the same time. Two is enough to overlap one arch's fetch, tree and tar work (main
 * thread) with the other's deflate (worker threads); more would only multiply peak memory.
 */
const ARCH_CONCURRENCY = 2;

/** `sha256-<base64>` of the configuration files, as apko's lock records it. */
function configChecksum(prepared: PreparedBuild): string {
  const hash = createHash('sha256');
  for (const file of prepared.configFiles) hash.update(file.bytes);
  return `sha256-${toBase64(new Uint8Array(hash.digest()))}`;
}

/**
 * The lock file of a build: keyring, repositories per arch and every package with its byte ranges.
 *
 * @param prepared - the build
 * @param packages - per arch, the resolved packages and (when fetched) their bytes and sections
 * @returns the lock (apko's `.lock.json` shape)
 */
export function lockFileFor(
  prepared: PreparedBuild,
  packages: readonly {
    arch: string;
    items: readonly {
      resolved: ResolvedPackage;
      bytes: Uint8Array;
      sections: Parameters<typeof sectionDigests>[1];
    }[];
  }[],
): LockFile {
  const repos = (role: 'build' | 'image' | 'runtime') =>
    prepared.archs.flatMap((arch) =>
      prepared.repositories
        .filter((r) => r.role === role)
        .map((r) =>
          lockRepositoryFor(
            { name: r.spec.location, ...(r.spec.tag === undefined ? {} : { tag: r.spec.tag }) },
            arch,
          ),
        ),
    );
  return {
    version: 'v1',
    config: {
      name:
        relative(prepared.options.workdir, prepared.configFiles[0]?.path ?? prepared.options.configPath) ||
        basename(prepared.options.configPath),
      checksum: configChecksum(prepared),
    },
    contents: {
      keyring: prepared.keys.map((k) => ({
        name: k.source,
        url: k.source,
        content: prepared.keyring.get(k.name)?.pem ?? '',
      })),
      build_repositories: repos('build'),
      runtime_repositories: repos('runtime'),
      repositories: repos('image'),
      packages: packages.flatMap(({ items }) =>
        items.map((item) =>
          // The package URL is `<repository as configured>/<arch>/<name>-<version>.apk`, as apko writes it.
          lockPackageFor(item.resolved, sectionDigests(item.bytes, item.sections)),
        ),
      ),
    },
  };
}

/**
 * The lock of a finished build.
 *
 * @param result - from {@link buildImage}
 * @returns the lock file
 */
export function lockOfBuild(result: BuildResult): LockFile {
  return lockFileFor(
    result.prepared,
    result.archs.map((a) => ({
      arch: a.arch,
      items: a.packages.map((p) => ({
        resolved: p.resolved,
        bytes: p.fetched.bytes,
        sections: p.fetched.pkg.sections,
      })),
    })),
  );
}

/** Log a one-line summary per arch. */
export function summarize(result: BuildResult, logger: Logger): void {
  for (const a of result.archs) {
    logger.info(
      `${a.arch}: ${a.packages.length} packages, layer ${a.layer.digest} (${a.layer.size} bytes), manifest ${a.image.manifest.digest}`,
    );
  }
  logger.info(`index ${result.index.index.digest}`);
}

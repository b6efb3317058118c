/**
 * SBOMs of a build: one SPDX 2.3 document per arch naming every installed package (merged with the SBOMs
 * packages carry in /var/lib/db/sbom), and one for the index.
 */
import { fromUtf8, type Logger } from '@tk/core';
import { embeddedSbomPaths, imageSbom, indexSbom, parseOsRelease, type EmbeddedSbom } from '@tk/sbom';
import type { ArchBuild } from './assemble.ts';
import type { BuildResult } from './build.ts';

/** One SBOM file to write. */
export interface SbomFile {
  /** `sbom-<apkarch>.spdx.json` or `sbom-index.spdx.json`, as apko names them. */
  name: string;
  text: string;
}

/** The purl name of an image: the base of the first tag's repository (`image` without tags), as apko. */
export function sbomImageName(tags: readonly string[]): string {
  const first = tags[0];
  if (first === undefined || first === '') return 'image';
  const withoutDigest = first.split('@')[0]!;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const repo = colon > lastSlash ? withoutDigest.slice(0, colon) : withoutDigest;
  return repo.slice(repo.lastIndexOf('/') + 1) || 'image';
}

function readText(arch: ArchBuild, path: string): string | undefined {
  const node = arch.tree.get(path, { follow: true });
  if (node?.kind !== 'file') return undefined;
  try {
    return fromUtf8(node.data);
  } catch {
    return undefined;
  }
}

/**
 * Make the SBOM documents of a build.
 *
 * @param result - the build
 * @param tags - the image tags (for the purl name)
 * @param options - tool version, logger
 * @returns the per-arch documents, then the index document
 */
export function buildSboms(
  result: BuildResult,
  tags: readonly string[],
  options: { toolVersion: string; logger: Logger },
): SbomFile[] {
  const imageName = sbomImageName(tags);
  const files: SbomFile[] = [];
  const vcsUrl = result.prepared.config['vcs-url'];
  const vcs =
    vcsUrl === undefined || vcsUrl === ''
      ? undefined
      : {
          url: vcsUrl.split('@')[0]!,
          ...(vcsUrl.includes('@') ? { commit: vcsUrl.slice(vcsUrl.lastIndexOf('@') + 1) } : {}),
        };
  for (const arch of result.archs) {
    const osText = readText(arch, 'etc/os-release') ?? readText(arch, 'usr/lib/os-release');
    const osRelease = osText === undefined ? undefined : parseOsRelease(osText);
    const namespace = osRelease?.ID ?? 'unknown';
    const embedded: EmbeddedSbom[] = [];
    for (const { pkg } of arch.installed) {
      for (const path of embeddedSbomPaths(pkg.pkginfo.pkgname, pkg.pkginfo.pkgver)) {
        const node = arch.tree.get(path.replace(/^\/+/, ''), { follow: true });
        if (node?.kind === 'file') {
          embedded.push({ path, json: node.data });
          break;
        }
      }
    }
    const repositoryOf = new Map(
      arch.packages.map((p) => [p.fetched.pkg.identity, p.resolved.repository.name]),
    );
    const text = imageSbom(
      {
        arch: arch.arch,
        platform: {
          architecture: arch.platform.architecture,
          ...(arch.platform.variant === undefined ? {} : { variant: arch.platform.variant }),
        },
        imageName,
        manifestDigest: arch.image.manifest.digest,
        layerDigest: arch.layer.digest,
        buildDate: arch.created,
        ...(osRelease === undefined ? {} : { osRelease }),
        packages: arch.installed.map(({ pkg }) => {
          const info = pkg.pkginfo;
          const repository = repositoryOf.get(pkg.identity);
          return {
            name: info.pkgname,
            version: info.pkgver,
            arch: info.arch ?? arch.arch,
            checksum: pkg.identity,
            namespace,
            ...(info.license === undefined ? {} : { license: info.license }),
            ...(info.origin === undefined ? {} : { origin: info.origin }),
            ...(info.maintainer === undefined ? {} : { maintainer: info.maintainer }),
            ...(info.url === undefined || info.url === '' ? {} : { url: info.url }),
            ...(info.pkgdesc === undefined ? {} : { description: info.pkgdesc }),
            ...(info.commit === undefined || info.commit === '' ? {} : { commit: info.commit }),
            ...(repository !== undefined && /^https?:\/\//.test(repository)
              ? { repository: `${repository}/${arch.arch}` }
              : {}),
          };
        }),
        embedded,
        ...(vcs === undefined ? {} : { vcs }),
        toolVersion: options.toolVersion,
      },
      { logger: options.logger },
    );
    files.push({ name: `sbom-${arch.arch}.spdx.json`, text });
  }
  files.push({
    name: 'sbom-index.spdx.json',
    text: indexSbom(
      {
        indexDigest: result.index.index.digest,
        imageName,
        images: result.archs.map((a) => ({
          manifestDigest: a.image.manifest.digest,
          platform: {
            architecture: a.platform.architecture,
            ...(a.platform.variant === undefined ? {} : { variant: a.platform.variant }),
          },
        })),
        buildDate: result.created,
        ...(vcs === undefined ? {} : { vcs }),
        toolVersion: options.toolVersion,
      },
      { logger: options.logger },
    ),
  });
  return files;
}

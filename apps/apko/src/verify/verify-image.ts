/**
 * `tk apko verify-image`: prove that every byte of an image is accounted for. For each platform image:
 * read the layers (digests checked), the apk database inside them, and check that every file belongs to
 * an installed package with the recorded type, owner, mode and checksum or is one tk's assembler writes
 * (`generated.ts`), and that the SBOM next to the image names exactly the installed packages.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger, type Logger } from '@tk/core';
import { apkArchOf, type Keychain, type OciPlatform } from '@tk/oci';
import { checkRootfs } from './check-rootfs.ts';
import { VerifyError } from './errors.ts';
import type { Finding, GeneratedPath } from './findings.ts';
import { openImageSource } from './image-source.ts';
import { listImages, platformText, readImageFs } from './read-image.ts';
import { compareSbom, MAX_SBOM_BYTES, parseSbom, sbomFileName } from './sbom.ts';

/** Options of {@link verifyImage}. */
export interface VerifyImageOptions {
  /** A tarball, an OCI layout directory, or `HOST[:PORT]/REPO:TAG` / `…@sha256:…`. */
  image: string;
  /** What relative paths start from. */
  cwd: string;
  /** Check the SBOMs (default true; `--no-sbom` sets false). */
  sbom?: boolean;
  /** Where `sbom-<arch>.spdx.json` are (default: the tarball's folder, the layout; none for a registry). */
  sbomPath?: string;
  /** Registry credentials. */
  keychain?: Keychain;
  /** Plain HTTP to a registry that is not loopback. */
  insecure?: boolean;
  /** Largest uncompressed layer (default 1 GiB). */
  maxLayerBytes?: number;
  logger?: Logger;
}

/** The SBOM verdict of one platform. */
export interface SbomVerdict {
  /** `ok`; `findings`; `not-checked` (no SBOM location for a registry image); `skipped` (`--no-sbom`). */
  status: 'ok' | 'findings' | 'not-checked' | 'skipped';
  /** The SBOM file read or looked for. */
  file?: string;
  /** Why it was not checked. */
  reason?: string;
}

/** The verdict on one platform image. */
export interface PlatformReport {
  /** `linux/amd64`. */
  platform: string;
  /** `x86_64`, when the platform is one apk knows. */
  apkArch?: string;
  manifestDigest: string;
  /** Layers read. */
  layers: number;
  /** Entries in the flattened layers. */
  layerEntries: number;
  /** The apk database read (`/lib/apk/db/installed`). */
  database?: string;
  /** Installed packages (`name-version`), in database order. */
  packages: string[];
  /** Package files checked. */
  filesChecked: number;
  /** Paths tk writes that no package owns, with the rule that accounts for them. */
  generated: GeneratedPath[];
  sbom: SbomVerdict;
  /** Problems; the image is clean when every platform has none. */
  findings: Finding[];
}

/** The verdict on an image. */
export interface VerifyReport {
  /** The image as given. */
  image: string;
  source: 'docker-archive' | 'oci-layout' | 'registry';
  /** The index digest (or the manifest's, for a single-manifest registry image). */
  digest: string;
  platforms: PlatformReport[];
  /** Total findings. */
  findings: number;
  /** True when there are no findings. */
  ok: boolean;
}

async function checkSbom(
  options: VerifyImageOptions,
  sbomDir: string | undefined,
  apkArch: string | undefined,
  packages: readonly { name: string; version: string }[],
  manifestDigest: string,
): Promise<{ verdict: SbomVerdict; findings: Finding[] }> {
  if (options.sbom === false) return { verdict: { status: 'skipped', reason: '--no-sbom' }, findings: [] };
  const explicit = options.sbomPath !== undefined;
  const dir = explicit ? resolve(options.cwd, options.sbomPath!) : sbomDir;
  if (dir === undefined) {
    return {
      verdict: {
        status: 'not-checked',
        reason:
          'a registry image or a re-saved tarball has no SBOM of its own next to it; pass --sbom-path DIR to check one',
      },
      findings: [],
    };
  }
  if (apkArch === undefined)
    return {
      verdict: { status: 'not-checked', reason: 'the platform is not an apk architecture' },
      findings: [],
    };
  const file = join(dir, sbomFileName(apkArch));
  let bytes: Uint8Array | undefined;
  try {
    const info = await stat(file);
    // Larger than the limit: do not read it (the size alone makes it invalid).
    bytes = info.size > MAX_SBOM_BYTES ? undefined : new Uint8Array(await readFile(file));
    if (bytes === undefined) {
      return {
        verdict: { status: 'findings', file },
        findings: [
          {
            code: 'SBOM_INVALID',
            path: file,
            message: `${file} is ${info.size} bytes, more than ${MAX_SBOM_BYTES}`,
          },
        ],
      };
    }
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') {
      return {
        verdict: { status: 'findings', file },
        findings: [
          {
            code: 'SBOM_NOT_FOUND',
            path: file,
            message: `no SBOM at ${file}`,
            hint: explicit
              ? 'check --sbom-path: it must be the folder tk apko build wrote the SBOMs to'
              : 'pass --sbom-path DIR where tk apko build wrote the SBOMs, or --no-sbom to skip the SBOM check',
          },
        ],
      };
    }
    throw new VerifyError('VERIFY_READ_FAILED', `cannot read ${file}: ${(error as Error).message}`, {
      hint: 'check that the SBOM file is readable',
      cause: error,
    });
  }
  const sbom = parseSbom(bytes);
  if ('invalid' in sbom) {
    return {
      verdict: { status: 'findings', file },
      findings: [{ code: 'SBOM_INVALID', path: file, message: `${file}: ${sbom.invalid}` }],
    };
  }
  const findings = compareSbom(packages, sbom, manifestDigest, file);
  return { verdict: { status: findings.length === 0 ? 'ok' : 'findings', file }, findings };
}

function apkArchOfPlatform(platform: {
  os: string;
  architecture: string;
  variant?: string;
}): string | undefined {
  if (platform.os !== 'linux') return undefined;
  try {
    return apkArchOf(platform as OciPlatform);
  } catch {
    return undefined;
  }
}

/**
 * Verify an image: its layers against its apk database, tk's generated files and its SBOMs.
 *
 * @param options - the image, SBOM location, credentials, limits
 * @returns the report; `ok` is false when there is any finding
 * @throws {VerifyError} VERIFY_IMAGE_NOT_FOUND, VERIFY_BAD_IMAGE, VERIFY_DIGEST_MISMATCH,
 *   VERIFY_ARCHIVE_INCONSISTENT, VERIFY_UNSUPPORTED, VERIFY_READ_FAILED when the image cannot be read or
 *   trusted
 * @throws {RegistryError} for registry failures (not found, unauthorized, unreachable)
 * @example
 * const report = await verifyImage({ image: 'out/hello.tar', cwd: process.cwd() });
 * if (!report.ok) for (const p of report.platforms) console.log(p.platform, p.findings);
 */
export async function verifyImage(options: VerifyImageOptions): Promise<VerifyReport> {
  const logger = options.logger ?? silentLogger;
  const source = await openImageSource(options.image, {
    cwd: options.cwd,
    ...(options.keychain === undefined ? {} : { keychain: options.keychain }),
    ...(options.insecure === undefined ? {} : { insecure: options.insecure }),
    logger,
  });
  try {
    const listing = await listImages(source);
    const platforms: PlatformReport[] = [];
    for (const image of listing.images) {
      const platform = platformText(image.platform);
      logger.debug(`verify-image: reading ${platform} (${image.manifestDigest})`);
      const fs = await readImageFs(source, image, {
        ...(options.maxLayerBytes === undefined ? {} : { maxLayerBytes: options.maxLayerBytes }),
      });
      const apkArch = apkArchOfPlatform(image.platform);
      const check = checkRootfs(fs, {
        ...(apkArch === undefined ? {} : { apkArch }),
        ...(image.entrypoint === undefined ? {} : { entrypoint: image.entrypoint }),
      });
      const sbom = await checkSbom(options, source.sbomDir, apkArch, check.packages, image.manifestDigest);
      platforms.push({
        platform,
        ...(apkArch === undefined ? {} : { apkArch }),
        manifestDigest: image.manifestDigest,
        layers: image.layers.length,
        layerEntries: check.layerEntries,
        ...(check.database === undefined ? {} : { database: check.database }),
        packages: check.packages.map((p) => `${p.name}-${p.version}`),
        filesChecked: check.filesChecked,
        generated: check.generated,
        sbom: sbom.verdict,
        findings: [...check.findings, ...sbom.findings],
      });
    }
    // Last, once every blob was checked against its descriptor: a tarball's manifest.json must name
    // the images that were verified.
    source.crossCheck(listing.images);
    const findings = platforms.reduce((n, p) => n + p.findings.length, 0);
    return {
      image: options.image,
      source: source.kind,
      digest: listing.digest,
      platforms,
      findings,
      ok: findings === 0,
    };
  } finally {
    await source.close();
  }
}

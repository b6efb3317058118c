/**
 * Turning a build's output trees into packages: for the main package and each subpackage, walk
 * `<outputRoot>/<name>/`, run SCA, put the SPDX SBOM at `var/lib/db/sbom/<name>-<version>.spdx.json`, write
 * `.PKGINFO`, the scriptlets and the compiled recipe (`.melange.yaml`), and sign — a deterministic APKv2 package
 * per name, `<outDir>/<name>-<version>-r<epoch>.apk`.
 *
 * All packages are built in memory first. Only when every one succeeded are they written: each to a temporary
 * name in the output directory (flushed), and then all renamed into place. A failure before the renames leaves
 * no new package file behind (the temporary files are removed); `writeFileAtomic` is not used because it renames
 * each file as soon as it is written, which would leave the first packages of a failed set in place.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { buildApk, type ApkInputFile, type ApkSigner } from '@tk/apk';
import { isTkError, silentLogger, utf8, type Logger } from '@tk/core';
import { DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL, type GzipOptions } from '@tk/gzip';
import { readPrivateKey, signatureKeyName } from '@tk/keys';
import { APK_SBOM_DIR, packageSbom, type PackageSource, type SbomOptions } from '@tk/sbom';
import { MelangeError } from '../errors.ts';
import type { CompiledPackage, CompiledStep, PackageMeta } from '../recipe/types.ts';
import {
  buildPkgInfo,
  controlScripts,
  copyrightText,
  cpeName,
  sbomLicenseExpression,
  sbomLicenseId,
} from './metadata.ts';
import { analyze } from './sca.ts';
import { sourcesFromFetches, sourcesFromSteps, type FetchResultLike } from './sources.ts';
import { walkPackageDir, type OwnerMapper, type OwnerNames } from './walk.ts';

/** The compression settings of every package: fixed, because they change the bytes. */
export const PACKAGE_GZIP: Readonly<Required<Pick<GzipOptions, 'level' | 'blockSize'>>> = {
  level: DEFAULT_LEVEL,
  blockSize: DEFAULT_BLOCK_SIZE,
};

/** Largest `license-path` file read into the SBOM. */
const MAX_LICENSE_BYTES = 1 << 20;

/** The recipe file and where it lives, for the SBOM. */
export interface EmitConfigSource {
  /** Path of the recipe in its repository. */
  path: string;
  /** Repository URL (a GitHub URL gives a `pkg:github` purl). */
  repository?: string;
  /** Commit of the recipe's repository; also `.PKGINFO` `commit` when the recipe names none. */
  commit?: string;
  /** The recipe file's own licence (melange `--license`). Not used: tk's SBOM has no field for it yet. */
  license?: string;
}

/** What {@link emitPackages} needs. */
export interface EmitPackagesInput {
  /** The compiled recipe: main package metadata, the packages to emit (main first), the main pipeline. */
  compiled: {
    package: PackageMeta;
    packages: readonly CompiledPackage[];
    pipeline?: readonly CompiledStep[];
  };
  /** apk arch (`x86_64`). */
  arch: string;
  /** `<workspace>/melange-out`: one folder per package. */
  outputRoot: string;
  /** `<out-dir>/<arch>`: where the packages go. */
  outDir: string;
  /** Timestamp of every entry, `builddate` (when not 0) and the SBOM's creation time. */
  sourceDateEpoch: number;
  /** The compiled recipe as YAML, stored as `.melange.yaml`. */
  embeddedConfig: string;
  /** `--namespace`: `.PKGINFO` maintainer, the SBOM's OS and supplier. Default `unknown` in the SBOM, none in `.PKGINFO`. */
  namespace?: string;
  /** `--strip-origin-name`: each package is its own origin. */
  stripOriginName?: boolean;
  /** Guest user names by uid, group names by gid (after owner mapping). */
  users?: OwnerNames;
  groups?: OwnerNames;
  /** Owner mapping (the build user → root). */
  mapOwner?: OwnerMapper;
  /**
   * Extra SBOM sources: SPDX source descriptions, or the build's fetch results. Sources are always derived
   * from the compiled `fetch` and `git-checkout` steps; fetch results no step describes are added.
   */
  sources?: readonly (PackageSource | FetchResultLike)[];
  /** The recipe file, for the SBOM. */
  config?: EmitConfigSource;
  /** Folder that `copyright[].license-path` is relative to. Default: the parent of `outputRoot`. */
  workspaceDir?: string;
  /** Private key file to sign with. */
  signingKey?: string;
  /** `sha256` (RSA256, default) or `sha1`. */
  signatureAlgorithm?: 'sha256' | 'sha1';
  /** tk's version, for the SBOM. */
  toolVersion: string;
  /** SBOM document options (namespace prefix, organisation). */
  sbom?: SbomOptions;
  /** Treat Debian multiarch directories as library directories in SCA. Default true. */
  multiarch?: boolean;
  logger?: Logger;
  /** The output trees as {@link walkPackages} read them, when the caller already walked them (the build lints them first). */
  walked?: ReadonlyMap<string, ApkInputFile[]>;
}

/** One package written. */
export interface EmittedPackage {
  name: string;
  /** Full version with the epoch. */
  version: string;
  origin: string;
  /** The `.apk` file. */
  path: string;
  /** `Q1…` identity checksum (index `C:`). */
  identity: string;
  /** Size of the file in bytes. */
  size: number;
  /** `.PKGINFO` size. */
  installedSize: number;
  depends: string[];
  provides: string[];
  vendored: string[];
  /** What SCA found before merging with the declared lists (the dependency log). */
  generated: { depends: string[]; provides: string[]; vendored: string[] };
}

interface Built {
  result: Omit<EmittedPackage, 'path'>;
  fileName: string;
  bytes: Uint8Array;
}

function isFetchResult(source: PackageSource | FetchResultLike): source is FetchResultLike {
  return 'uri' in source && 'hash' in source && !('name' in source);
}

function buildFailed(pkg: string, error: unknown): MelangeError {
  if (error instanceof MelangeError) return error;
  const code = isTkError(error) ? ` [${error.code}]` : '';
  return new MelangeError(
    'MELANGE_PACKAGE_BUILD_FAILED',
    `package ${pkg}: ${(error as Error).message}${code}`,
    {
      hint:
        isTkError(error) && error.hint !== undefined ? error.hint : 'fix the package contents or metadata',
      cause: error,
      data: { package: pkg },
    },
  );
}

async function readLicenseFiles(
  meta: PackageMeta,
  workspaceDir: string,
): Promise<{ licenseId: string; extractedText: string; name?: string }[]> {
  const out: { licenseId: string; extractedText: string; name?: string }[] = [];
  for (const entry of meta.copyright) {
    const license = (entry.license ?? '').trim();
    if (license === '') continue;
    // Only LicenseRef- licences carry their text in an SPDX document, so only their license-path is read
    // (melange reads every license-path, but keeps only these texts too).
    const { id, ref } = sbomLicenseId(license);
    if (!ref) continue;
    const licensePath = entry['license-path'];
    if (licensePath === undefined || licensePath === '') {
      out.push({ licenseId: id, extractedText: `Non-SPDX License: ${license}`, name: license });
      continue;
    }
    const full = resolve(workspaceDir, licensePath);
    const rel = relative(workspaceDir, full);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || licensePath.startsWith('/'))
      throw new MelangeError(
        'MELANGE_PACKAGE_BUILD_FAILED',
        `copyright license-path ${JSON.stringify(licensePath)} is not a file inside the workspace`,
        {
          hint: 'give license-path relative to the workspace (e.g. LICENSE)',
          data: { path: licensePath },
        },
      );
    let text: string;
    try {
      // The workspace is what the sandboxed build left: a symlink must not pull a host file into the SBOM.
      const real = await realpath(full);
      const root = await realpath(workspaceDir);
      const inside = relative(root, real);
      if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside))
        throw new Error(`it resolves to ${real}, outside the workspace`);
      const bytes = await readFile(real);
      text = bytes.subarray(0, MAX_LICENSE_BYTES).toString('utf8');
    } catch (error) {
      throw new MelangeError(
        'MELANGE_PACKAGE_BUILD_FAILED',
        `cannot read copyright license-path ${licensePath}: ${(error as Error).message}`,
        {
          hint: 'the file must exist in the workspace after the build (it is read from there)',
          cause: error,
          data: { path: licensePath },
        },
      );
    }
    out.push({ licenseId: id, extractedText: text, name: license });
  }
  return out;
}

/** The SBOM entry and its parent directories (kept when the package has them already). */
function withSbom(
  files: readonly ApkInputFile[],
  sbomPath: string,
  sbom: string,
  logger: Logger,
  pkg: string,
): ApkInputFile[] {
  const out = files.filter((f) => f.path !== sbomPath);
  if (out.length !== files.length)
    logger.warn(`${pkg}: ${sbomPath} from the build is replaced by tk's SBOM`, 'MELANGE_SBOM_REPLACED');
  const present = new Set(out.map((f) => f.path));
  const parts = sbomPath.split('/');
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    if (!present.has(dir)) out.push({ path: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0 });
  }
  out.push({ path: sbomPath, type: 'file', mode: 0o644, uid: 0, gid: 0, data: utf8(sbom) });
  return out;
}

async function writeAll(outDir: string, built: readonly Built[]): Promise<string[]> {
  try {
    await mkdir(outDir, { recursive: true });
  } catch (error) {
    throw new MelangeError(
      'MELANGE_PACKAGE_WRITE_FAILED',
      `cannot create ${outDir}: ${(error as Error).message}`,
      {
        hint: 'check --out-dir and its permissions',
        cause: error,
      },
    );
  }
  const temps: { temp: string; final: string }[] = [];
  const renamed: string[] = [];
  try {
    for (const b of built) {
      const final = join(outDir, b.fileName);
      const temp = join(outDir, `.${b.fileName}.${randomBytes(6).toString('hex')}.tmp`);
      temps.push({ temp, final });
      const handle = await open(temp, 'wx', 0o644);
      try {
        await handle.write(b.bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const t of temps) {
      await rename(t.temp, t.final);
      renamed.push(t.final);
    }
  } catch (error) {
    // All or none: also take back the packages already renamed into place.
    await Promise.all([
      ...temps.map((t) => rm(t.temp, { force: true })),
      ...renamed.map((f) => rm(f, { force: true })),
    ]);
    throw new MelangeError(
      'MELANGE_PACKAGE_WRITE_FAILED',
      `cannot write packages to ${outDir}: ${(error as Error).message}`,
      {
        hint: 'check free space and permissions of the output directory',
        cause: error,
      },
    );
  }
  return temps.map((t) => t.final);
}

/**
 * Read every package's output tree (`outputRoot/<name>`) into apk entries: owners mapped, setcap applied.
 *
 * @param input - the packages, the output root, the owner mapping and names
 * @returns the entries per package name
 */
export async function walkPackages(
  input: Pick<EmitPackagesInput, 'compiled' | 'outputRoot' | 'mapOwner' | 'users' | 'groups'>,
): Promise<Map<string, ApkInputFile[]>> {
  const walked = new Map<string, ApkInputFile[]>();
  for (const pkg of input.compiled.packages) {
    walked.set(
      pkg.name,
      await walkPackageDir(join(input.outputRoot, pkg.name), {
        packageName: pkg.name,
        setcap: pkg.setcap,
        ...(input.mapOwner === undefined ? {} : { mapOwner: input.mapOwner }),
        ...(input.users === undefined ? {} : { users: input.users }),
        ...(input.groups === undefined ? {} : { groups: input.groups }),
      }),
    );
  }
  return walked;
}

/**
 * Build and write every package of a build.
 *
 * @param input - compiled recipe, folders, date, embedded config, owners, sources, signing key, logger
 * @returns the written packages, in the order of `compiled.packages`
 * @throws {MelangeError} MELANGE_PACKAGE_READ_FAILED, MELANGE_PACKAGE_BAD_NAME, MELANGE_PACKAGE_UNSUPPORTED_FILE,
 *   MELANGE_SETCAP_INVALID, MELANGE_PACKAGE_BUILD_FAILED, MELANGE_PACKAGE_WRITE_FAILED; {@link KeyError} for an
 *   unreadable signing key. Nothing is written unless every package could be built.
 * @example
 * const packages = await emitPackages({
 *   compiled, arch: 'x86_64', outputRoot: '/ws/melange-out', outDir: './packages/x86_64',
 *   sourceDateEpoch: 0, embeddedConfig: yaml, namespace: 'wolfi', toolVersion: '0.1.0',
 *   signingKey: 'melange.rsa',
 * });
 */
export async function emitPackages(input: EmitPackagesInput): Promise<EmittedPackage[]> {
  const logger = input.logger ?? silentLogger;
  const meta = input.compiled.package;
  const version = `${meta.version}-r${meta.epoch}`;
  const namespace = input.namespace ?? '';

  // 1. Walk every package first: SCA of one package looks at the others (symlinked libraries, ld.so.conf.d).
  const walked = input.walked ?? (await walkPackages(input));

  const signer: ApkSigner | undefined =
    input.signingKey === undefined
      ? undefined
      : {
          key: await readPrivateKey(input.signingKey),
          keyName: signatureKeyName(input.signingKey),
          algorithm: input.signatureAlgorithm ?? 'sha256',
        };

  // 2. What every package's SBOM shares.
  const license = sbomLicenseExpression(meta.copyright);
  const owner = { name: meta.name, version: meta.version, ...(license === undefined ? {} : { license }) };
  const mainSources = sourcesFromSteps(input.compiled.pipeline ?? [], owner);
  const given = input.sources ?? [];
  const extraSources = [
    ...given.filter((s): s is PackageSource => !isFetchResult(s)),
    ...sourcesFromFetches(given.filter(isFetchResult), owner, mainSources),
  ];
  const extractedLicenses = await readLicenseFiles(meta, input.workspaceDir ?? dirname(input.outputRoot));
  const copyright = copyrightText(meta.copyright);
  const cpe = cpeName(meta.cpe, meta.version);

  // 3. Build every package in memory.
  const built: Built[] = [];
  for (const pkg of input.compiled.packages) {
    try {
      logger.info(`generating package ${pkg.name}-${version}`);
      const files = walked.get(pkg.name)!;
      const sca = analyze(files, {
        packageName: pkg.name,
        version,
        options: pkg.options,
        declared: { runtime: pkg.dependencies.runtime, provides: pkg.dependencies.provides },
        relatives: walked,
        ...(input.multiarch === undefined ? {} : { multiarch: input.multiarch }),
        logger,
      });
      const ownSources = pkg.main ? [] : sourcesFromSteps(pkg.pipeline, owner);
      const description = pkg.description ?? (pkg.main ? meta.description : undefined);
      const sbom = packageSbom(
        {
          name: pkg.name,
          version,
          arch: input.arch,
          ...(license === undefined ? {} : { license }),
          ...(copyright === undefined ? {} : { copyright }),
          ...(description === undefined ? {} : { description }),
          namespace: namespace === '' ? 'unknown' : namespace,
          ...(cpe === undefined ? {} : { cpe }),
          ...(input.config === undefined
            ? {}
            : {
                config: {
                  path: input.config.path,
                  ...(input.config.repository === undefined ? {} : { repository: input.config.repository }),
                  ...(input.config.commit === undefined ? {} : { commit: input.config.commit }),
                },
              }),
          sources: [...ownSources, ...mainSources, ...extraSources],
          extractedLicenses,
          buildDate: input.sourceDateEpoch,
          toolVersion: input.toolVersion,
        },
        input.sbom,
      );
      const sbomPath = `${APK_SBOM_DIR}/${pkg.name}-${version}.spdx.json`;
      const origin = input.stripOriginName === true ? pkg.name : meta.name;
      const pkginfo = buildPkgInfo({
        pkg,
        meta,
        arch: input.arch,
        origin,
        namespace,
        sourceDateEpoch: input.sourceDateEpoch,
        ...(input.config?.commit === undefined ? {} : { commit: input.config.commit }),
        depends: sca.depends,
        provides: sca.provides,
        vendored: sca.vendored,
      });
      const result = await buildApk({
        pkginfo,
        files: withSbom(files, sbomPath, sbom, logger, pkg.name),
        scripts: controlScripts(pkg),
        extraControl: [{ name: '.melange.yaml', data: input.embeddedConfig }],
        sourceDateEpoch: input.sourceDateEpoch,
        ...(signer === undefined ? {} : { signer }),
        gzip: PACKAGE_GZIP,
      });
      logger.debug(
        `  ${pkg.name}: installed-size ${result.pkginfo.size ?? 0}, datahash ${result.pkginfo.datahash ?? ''}`,
      );
      built.push({
        fileName: `${pkg.name}-${version}.apk`,
        bytes: result.bytes,
        result: {
          name: pkg.name,
          version,
          origin,
          identity: result.identity,
          size: result.bytes.length,
          installedSize: result.pkginfo.size ?? 0,
          depends: sca.depends,
          provides: sca.provides,
          vendored: sca.vendored,
          generated: sca.generated,
        },
      });
    } catch (error) {
      throw buildFailed(pkg.name, error);
    }
  }

  // 4. Write them all, or none.
  const paths = await writeAll(input.outDir, built);
  return built.map((b, i) => ({ ...b.result, path: paths[i]! }));
}

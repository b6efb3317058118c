/**
 * The second half of a build, per arch: fetch and verify the resolved packages, install them into an
 * in-memory root, run the image steps (accounts, paths, busybox links, os-release, certificates, the apk
 * database, device nodes), and turn the root into one deterministic layer and its OCI config/manifest.
 */
import { readFile } from 'node:fs/promises';
import { digest, fromUtf8, mapLimit, sortedRecord, utf8, type Logger } from '@tk/core';
import { fetchPackage, type FetchedPackage, type LoadedRepository } from '@tk/repo';
import type { LockSection, ResolvedPackage } from '@tk/solver';
import type { ByteRange } from '@tk/apk';
import {
  applyAccounts,
  applyPaths,
  createBusyboxLinks,
  createInstallState,
  createSkeleton,
  ensureDevices,
  FsTree,
  installPackage,
  meta,
  treeEntries,
  writeApkDatabase,
  type InstalledPackage,
} from '@tk/rootfs';
import {
  assembleImage,
  buildLayer,
  createDiskLayerCache,
  formatCreated,
  imageEnvironment,
  platformFromArch,
  type ImageArtifact,
  type LayerBlob,
  type OciPlatform,
} from '@tk/oci';
import type { ImageConfig } from '../config/index.ts';
import { ApkoError } from './errors.ts';
import type { PreparedBuild, PrepareSettings, ResolvedArch } from './prepare.ts';
import { shellSplit } from './shlex.ts';

/** tk's identity in image configs (apko writes github.com/chainguard-dev/apko and "apko"). */
export const IMAGE_AUTHOR = 'tk';

/** A package as fetched for one arch. */
export interface FetchedApk {
  resolved: ResolvedPackage;
  fetched: FetchedPackage;
}

/** One arch's built root and image. */
export interface ArchBuild {
  arch: string;
  platform: OciPlatform;
  resolved: ResolvedArch;
  packages: FetchedApk[];
  tree: FsTree;
  installed: InstalledPackage[];
  /** The image time (Unix seconds) of this arch. */
  created: number;
  layer: LayerBlob;
  image: ImageArtifact;
  /** The image's user after account resolution (numeric when known). */
  user?: string;
}

const FETCH_CONCURRENCY = 4;

/**
 * Fetch and verify the packages of one arch, a few at a time, in install order.
 *
 * @param prepared - the build
 * @param resolved - the arch's install list
 * @returns the packages with their bytes
 */
export async function fetchArchPackages(
  prepared: PreparedBuild<PrepareSettings>,
  resolved: ResolvedArch,
): Promise<FetchedApk[]> {
  const { logger } = prepared;
  let done = 0;
  const id = `fetch-${resolved.arch}`;
  const out = await mapLimit(resolved.packages, FETCH_CONCURRENCY, async (pkg): Promise<FetchedApk> => {
    const repo: LoadedRepository | undefined = resolved.loaded.get(pkg.repository.name);
    if (repo === undefined)
      throw new ApkoError(
        'APKO_LOCK_MISMATCH',
        `package ${pkg.entry.name} comes from unknown repository ${pkg.repository.name}`,
      );
    const fetched = await fetchPackage(repo, pkg.entry, {
      fetcher: prepared.fetcher,
      logger,
      offline: prepared.options.offline ?? false,
      ...(prepared.cache === undefined ? {} : { cache: prepared.cache }),
    });
    logger.progress({
      id,
      label: `fetch ${resolved.arch} packages`,
      current: ++done,
      total: resolved.packages.length,
      unit: 'items',
    });
    return { resolved: pkg, fetched };
  });
  logger.progress({
    id,
    label: `fetch ${resolved.arch} packages`,
    current: done,
    total: resolved.packages.length,
    unit: 'items',
    done: true,
  });
  return out;
}

/**
 * The image time: SOURCE_DATE_EPOCH exactly when set; otherwise the newest of `--build-date` and every
 * installed package's build date (apko's rule), 0 when none.
 *
 * @param env - environment
 * @param buildDate - `--build-date` (RFC 3339)
 * @param packages - installed packages
 * @returns Unix seconds
 * @throws {ApkoError} APKO_BAD_OPTION for malformed values
 */
export function imageTime(
  env: Readonly<Record<string, string | undefined>>,
  buildDate: string | undefined,
  packages: readonly { pkg: { pkginfo: { builddate?: number } } }[],
): number {
  const sde = env['SOURCE_DATE_EPOCH'];
  if (sde !== undefined && sde !== '') {
    if (!/^[0-9]{1,12}$/.test(sde))
      throw new ApkoError(
        'APKO_BAD_OPTION',
        `SOURCE_DATE_EPOCH must be a whole number of seconds, got ${JSON.stringify(sde)}`,
        { hint: 'export SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)' },
      );
    return Number(sde);
  }
  let time = 0;
  if (buildDate !== undefined && buildDate !== '') {
    const ms = Date.parse(buildDate);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(buildDate) || Number.isNaN(ms))
      throw new ApkoError(
        'APKO_BAD_OPTION',
        `--build-date ${JSON.stringify(buildDate)} is not an RFC 3339 time`,
        { hint: 'write it like 2024-05-01T00:00:00Z' },
      );
    time = Math.floor(ms / 1000);
  }
  for (const { pkg } of packages) time = Math.max(time, pkg.pkginfo.builddate ?? 0);
  return time;
}

/** The annotations of manifests and indexes: configured ones, the creation time, vcs-url. */
export function imageAnnotations(config: ImageConfig, created: string): Record<string, string> {
  const annotations: Record<string, string> = {
    ...config.annotations,
    'org.opencontainers.image.created': created,
  };
  const vcs = config['vcs-url'];
  if (vcs !== undefined && vcs !== '') {
    const at = vcs.lastIndexOf('@');
    annotations['org.opencontainers.image.source'] = at > 0 ? vcs.slice(0, at) : vcs;
    if (at > 0) annotations['org.opencontainers.image.revision'] = vcs.slice(at + 1);
  }
  return sortedRecord(annotations);
}

function osReleasePresent(tree: FsTree): boolean {
  return (
    tree.get('etc/os-release', { follow: true }) !== undefined ||
    tree.get('usr/lib/os-release', { follow: true }) !== undefined
  );
}

function appendCertificates(tree: FsTree, config: ImageConfig, mtime: number): void {
  const certs = config.certificates;
  if (certs === undefined) return;
  if (certs.providers.length > 0) {
    throw new ApkoError(
      'APKO_UNSUPPORTED',
      `certificates.providers (${certs.providers.join(', ')}) is not supported by tk yet`,
      {
        hint: 'install the certificates with a package, or add them under certificates.additional',
      },
    );
  }
  if (certs.additional.length === 0) return;
  const path = 'etc/ssl/certs/ca-certificates.crt';
  const existing = tree.get(path, { follow: true });
  const before = existing?.kind === 'file' ? fromUtf8(existing.data) : '';
  const text = [
    before.replace(/\n*$/, before === '' ? '' : '\n'),
    ...certs.additional.map((c) => `${c.content.trim()}\n`),
  ].join('');
  tree.mkdirAll('etc/ssl/certs', meta(0o755, mtime));
  tree.put(path, {
    kind: 'file',
    meta: existing?.kind === 'file' ? existing.meta : meta(0o644, mtime),
    data: utf8(text),
  });
}

function writeServiceBundle(tree: FsTree, config: ImageConfig, mtime: number): void {
  const services = config.entrypoint.services ?? {};
  for (const [name, command] of Object.entries(services).sort(([a], [b]) => (a < b ? -1 : 1))) {
    tree.mkdirAll(`sv/${name}`, meta(0o755, mtime), meta(0o755, mtime));
    tree.put(`sv/${name}/run`, {
      kind: 'file',
      meta: meta(0o755, mtime),
      data: utf8(`#!/bin/execlineb\n${command}\n`),
    });
  }
}

/** Entrypoint and cmd as the OCI config wants them. */
export function entrypointOf(config: ImageConfig): { entrypoint?: string[]; cmd?: string[] } {
  const ep = config.entrypoint;
  let entrypoint: string[] | undefined;
  if (ep.type === 'service-bundle') entrypoint = ['/bin/s6-svscan', '/sv'];
  else if (ep['shell-fragment'] !== undefined) entrypoint = ['/bin/sh', '-c', ep['shell-fragment']];
  else if (ep.command !== undefined) entrypoint = shellSplit(ep.command, 'entrypoint.command');
  const cmd = config.cmd === undefined ? undefined : shellSplit(config.cmd, 'cmd');
  return {
    ...(entrypoint === undefined || entrypoint.length === 0 ? {} : { entrypoint }),
    ...(cmd === undefined || cmd.length === 0 ? {} : { cmd }),
  };
}

/** Options for {@link buildRootTree}. */
export interface RootTreeOptions {
  /** Timestamp of every entry the steps create (Unix seconds). */
  created: number;
  /** Create the device nodes (images: yes; a sandbox root gets its /dev from the runner: no). */
  devices: boolean;
  logger: Logger;
  /** Write a minimal /etc/os-release (with a warning) when no package has one. Default true (images). */
  osRelease?: boolean;
}

/** An installed root in memory. */
export interface RootTree {
  tree: FsTree;
  installed: InstalledPackage[];
  /** The image's user after account resolution (numeric when known). */
  user?: string;
}

/**
 * Install fetched packages into an in-memory root and run the image steps: accounts, paths,
 * certificates, service bundle, busybox applet links, os-release, the apk database (world,
 * repositories, keys), device nodes.
 *
 * @param prepared - the build (configuration, keys, repositories)
 * @param resolved - the arch's install list and world
 * @param packages - the fetched packages, in install order
 * @param options - timestamp, devices, logger
 * @returns the tree, the installed packages and the resolved user
 * @throws {RootfsError} for packages that conflict or escape the root
 * @throws {ApkoError} APKO_UNSUPPORTED for certificate providers
 */
export async function buildRootTree(
  prepared: PreparedBuild<PrepareSettings>,
  resolved: ResolvedArch,
  packages: readonly FetchedApk[],
  options: RootTreeOptions,
): Promise<RootTree> {
  const { config } = prepared;
  const { created, logger } = options;
  const tree = new FsTree(meta(0o755, created));
  createSkeleton(tree, { mtime: created, devices: options.devices });
  const state = createInstallState();
  for (const { resolved: r, fetched } of packages) {
    installPackage(tree, state, {
      pkg: fetched.pkg,
      expectedChecksum: r.entry.checksum,
      ...(r.repository.tag === undefined ? {} : { tag: r.repository.tag }),
    });
  }
  const user = applyAccounts(tree, {
    users: config.accounts.users.map((u) => ({
      username: u.username,
      uid: u.uid,
      ...(u.gid === undefined ? {} : { gid: u.gid }),
      ...(u.shell === undefined ? {} : { shell: u.shell }),
      homedir: u.homedir,
    })),
    groups: config.accounts.groups.map((g) => ({ groupname: g.groupname, gid: g.gid, members: g.members })),
    ...(config.accounts['run-as'] === undefined ? {} : { runAs: config.accounts['run-as'] }),
    mtime: created,
  });
  applyPaths(tree, config.paths, created);
  appendCertificates(tree, config, created);
  if (config.entrypoint.type === 'service-bundle') writeServiceBundle(tree, config, created);
  const links = createBusyboxLinks(tree, created);
  if (links > 0) logger.debug(`${resolved.arch}: ${links} busybox applet links`);
  if (options.osRelease !== false && !osReleasePresent(tree)) {
    tree.mkdirAll('etc', meta(0o755, created));
    tree.put('etc/os-release', {
      kind: 'file',
      meta: meta(0o644, created),
      data: utf8('ID=tk\nNAME="tk image"\nPRETTY_NAME="Image built by tk"\n'),
    });
    logger.warn(
      `${resolved.arch}: no /etc/os-release in the packages; wrote a minimal one (ID=tk)`,
      'APKO_NO_OS_RELEASE',
    );
  }
  const keyFiles = await Promise.all(
    prepared.keys.map(async (k) => ({
      name: k.name,
      pem: prepared.keyring.get(k.name)?.pem ?? fromUtf8(new Uint8Array(await readFile(k.location))),
    })),
  );
  const runtimeKeys = config.contents.runtime_keyring.map((k) => ({ name: k.name, pem: k.content }));
  writeApkDatabase(
    tree,
    state.installed,
    {
      arch: resolved.arch,
      world: resolved.world,
      repositories: prepared.repositories.filter((r) => r.role !== 'build').map((r) => r.spec.line),
      keys: [...keyFiles, ...runtimeKeys],
    },
    created,
  );
  if (options.devices) ensureDevices(tree, created);

  return { tree, installed: state.installed, ...(user === undefined ? {} : { user }) };
}

/**
 * Build one arch's root and image.
 *
 * @param prepared - the build
 * @param resolved - the arch's install list
 * @param logger - progress and warnings
 * @returns the arch's tree, installed packages, layer and image
 */
export async function buildArch(
  prepared: PreparedBuild,
  resolved: ResolvedArch,
  logger: Logger,
): Promise<ArchBuild> {
  const { config, options } = prepared;
  const packages = await fetchArchPackages(prepared, resolved);
  const created = imageTime(
    options.env,
    options.buildDate,
    packages.map((p) => ({ pkg: p.fetched.pkg })),
  );
  const { tree, installed, user } = await buildRootTree(prepared, resolved, packages, {
    created,
    devices: true,
    logger,
  });

  // The compressed-layer cache sits next to the download cache: a layer whose tar and gzip settings were
  // compressed before (by an earlier build, or by another arch with an identical tree) is not compressed
  // again. buildLayer checks every hit against the tar, so the bytes are the same as without the cache.
  const layerCache =
    options.cacheDir === undefined || options.layerCache === false
      ? undefined
      : createDiskLayerCache(options.cacheDir, {
          logger,
          ...(options.layerCacheMaxBytes === undefined ? {} : { maxBytes: options.layerCacheMaxBytes }),
        });
  const layer = await buildLayer(treeEntries(tree), {
    logger,
    ...(layerCache === undefined ? {} : { layerCache }),
    ...(options.layerCompression === undefined ? {} : { gzip: { engine: options.layerCompression } }),
  });
  logger.progress({
    id: `layer-${resolved.arch}`,
    label: `layer ${resolved.arch}`,
    current: layer.size,
    unit: 'bytes',
    done: true,
  });
  const createdText = formatCreated(created);
  const annotations = imageAnnotations(config, createdText);
  const title = config.annotations['org.opencontainers.image.title'];
  const vendor = config.annotations['org.opencontainers.image.vendor'];
  const platform = platformFromArch(resolved.arch);
  const image = assembleImage({
    platform,
    layers: [layer],
    config: {
      created,
      env: imageEnvironment(config.environment),
      ...entrypointOf(config),
      ...(user === undefined ? {} : { user }),
      ...(config['work-dir'] === undefined ? {} : { workingDir: config['work-dir'] }),
      ...(config['stop-signal'] === undefined ? {} : { stopSignal: config['stop-signal'] }),
      ...(config.volumes.length === 0 ? {} : { volumes: config.volumes }),
      labels: annotations,
      history: {
        author: IMAGE_AUTHOR,
        createdBy: 'tk apko build',
        comment:
          title !== undefined && vendor !== undefined
            ? `${title} by ${vendor}`
            : 'This is a tk single-layer image',
      },
      author: IMAGE_AUTHOR,
    },
    annotations,
  });
  return {
    arch: resolved.arch,
    platform,
    resolved,
    packages,
    tree,
    installed,
    created,
    layer,
    image,
    ...(user === undefined ? {} : { user }),
  };
}

/** SHA-1 and SHA-256 digests of a package's sections (for lock files). */
export function sectionDigests(
  bytes: Uint8Array,
  sections: { signature?: ByteRange; control: ByteRange; data: ByteRange },
): { signature?: LockSection; control: LockSection; data: LockSection } {
  const part = (r: ByteRange, alg: 'sha1' | 'sha256'): LockSection => ({
    start: r.start,
    end: r.end,
    digest: digest(alg, bytes.subarray(r.start, r.end)),
  });
  return {
    ...(sections.signature === undefined ? {} : { signature: part(sections.signature, 'sha1') }),
    control: part(sections.control, 'sha1'),
    data: part(sections.data, 'sha256'),
  };
}

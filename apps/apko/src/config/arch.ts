/**
 * Architecture names. apko (`pkg/build/types/types.go` `ParseArchitecture`, `ToAPK`, `ToOCIPlatform`)
 * accepts both the OCI/Go spelling (`amd64`, `arm/v7`) and the apk spelling (`x86_64`, `armv7`) and
 * normalises to the OCI one; apk repositories are laid out by the apk spelling
 * (`<repo>/<apk-arch>/APKINDEX.tar.gz`), OCI platforms use `architecture` + `variant`.
 */
import { compareCodePoints } from '@tk/core';
import { ConfigError } from './errors.ts';

/** The nine architectures apko builds for, in OCI spelling (apko's `AllArchs`, in its order). */
export const ALL_ARCHS = [
  '386',
  'amd64',
  'arm64',
  'arm/v6',
  'arm/v7',
  'loong64',
  'ppc64le',
  'riscv64',
  's390x',
] as const;

/** An architecture in OCI spelling: the canonical form tk keeps in {@link ImageConfig}. */
export type Arch = (typeof ALL_ARCHS)[number];

/** An architecture in apk spelling, as in repository paths and `.PKGINFO` `arch`. */
export type ApkArch =
  | 'x86'
  | 'x86_64'
  | 'aarch64'
  | 'armhf'
  | 'armv7'
  | 'loongarch64'
  | 'ppc64le'
  | 'riscv64'
  | 's390x';

/** An OCI platform's architecture part (`os` is always `linux`). */
export interface OciPlatform {
  architecture: string;
  variant?: string;
}

interface ArchRow {
  oci: Arch;
  apk: ApkArch;
  architecture: string;
  variant?: string;
  /** Node's `process.arch` values that run this architecture natively. */
  node: readonly string[];
}

const TABLE: readonly ArchRow[] = [
  { oci: '386', apk: 'x86', architecture: '386', node: ['ia32'] },
  { oci: 'amd64', apk: 'x86_64', architecture: 'amd64', node: ['x64'] },
  { oci: 'arm64', apk: 'aarch64', architecture: 'arm64', node: ['arm64'] },
  { oci: 'arm/v6', apk: 'armhf', architecture: 'arm', variant: 'v6', node: [] },
  // Node reports every 32-bit ARM as 'arm'; v7 is what a 32-bit ARM Linux host runs today.
  { oci: 'arm/v7', apk: 'armv7', architecture: 'arm', variant: 'v7', node: ['arm'] },
  { oci: 'loong64', apk: 'loongarch64', architecture: 'loong64', node: ['loong64'] },
  // Node says 'ppc64' for little-endian ppc64 Linux too (the only one it supports).
  { oci: 'ppc64le', apk: 'ppc64le', architecture: 'ppc64le', node: ['ppc64'] },
  { oci: 'riscv64', apk: 'riscv64', architecture: 'riscv64', node: ['riscv64'] },
  { oci: 's390x', apk: 's390x', architecture: 's390x', node: ['s390x'] },
];

const BY_NAME = new Map<string, ArchRow>();
for (const row of TABLE) {
  BY_NAME.set(row.oci, row);
  BY_NAME.set(row.apk, row);
}

/** Every accepted spelling: the nine OCI names followed by the apk names that differ from them. */
export const ARCH_NAMES: readonly string[] = [
  ...new Set([...TABLE.map((r) => r.oci), ...TABLE.map((r) => r.apk)]),
];

/**
 * Normalise an architecture name in either spelling to the OCI spelling.
 *
 * @param name - `x86_64`, `amd64`, `armv7`, `arm/v7`, …
 * @returns the OCI name, or `undefined` when the name is not known
 */
export function parseArch(name: string): Arch | undefined {
  return BY_NAME.get(name)?.oci;
}

function row(name: string): ArchRow {
  const found = BY_NAME.get(name);
  if (found === undefined) {
    throw new ConfigError('CONFIG_UNKNOWN_ARCH', `unknown architecture "${name}"`, {
      hint: `use one of ${ARCH_NAMES.join(', ')}`,
      data: { arch: name },
    });
  }
  return found;
}

/**
 * The apk spelling of an architecture (`amd64` → `x86_64`, `arm/v6` → `armhf`, `386` → `x86`).
 *
 * @param name - an architecture in either spelling
 * @returns the apk name
 * @throws {ConfigError} CONFIG_UNKNOWN_ARCH for an unknown name
 */
export function toApkArch(name: string): ApkArch {
  return row(name).apk;
}

/**
 * The OCI spelling of an architecture (`x86_64` → `amd64`, `armhf` → `arm/v6`).
 *
 * @param name - an architecture in either spelling
 * @returns the OCI name
 * @throws {ConfigError} CONFIG_UNKNOWN_ARCH for an unknown name
 */
export function toOciArch(name: string): Arch {
  return row(name).oci;
}

/**
 * The OCI platform of an architecture, as written into image configs, manifests and indexes
 * (`arm/v7` → `{ architecture: 'arm', variant: 'v7' }`, `x86_64` → `{ architecture: 'amd64' }`).
 *
 * @param name - an architecture in either spelling
 * @returns architecture and, for 32-bit ARM, variant
 * @throws {ConfigError} CONFIG_UNKNOWN_ARCH for an unknown name
 */
export function toOciPlatform(name: string): OciPlatform {
  const r = row(name);
  return r.variant === undefined
    ? { architecture: r.architecture }
    : { architecture: r.architecture, variant: r.variant };
}

/**
 * The architecture a Node process runs on, from `process.arch` (`x64` → `amd64`, `arm` → `arm/v7`).
 * Also accepts names already in OCI or apk spelling.
 *
 * @param nodeArch - `process.arch` or an architecture name
 * @returns the OCI name, or `undefined` when apko has no such architecture (e.g. `mips`)
 */
export function archFromNodeArch(nodeArch: string): Arch | undefined {
  for (const r of TABLE) if (r.node.includes(nodeArch)) return r.oci;
  return parseArch(nodeArch);
}

/**
 * Sort architectures the way apko orders `--arch` values (by OCI name, code point order), dropping
 * duplicates.
 *
 * @param archs - OCI names
 * @returns a new sorted array without duplicates
 */
export function sortArchs(archs: readonly Arch[]): Arch[] {
  return [...new Set(archs)].sort(compareCodePoints);
}

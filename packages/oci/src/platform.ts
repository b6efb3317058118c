/**
 * Platforms: the `platform` object of OCI descriptors and configs (image-spec image-index.md#platform-variants),
 * and the mapping between apk architecture names and OCI ones that apko uses
 * (apko `pkg/build/types/types.go`: `ParseArchitecture`, `ToAPK`, `ToOCIPlatform`).
 *
 * | apk           | OCI arch string | architecture / variant |
 * |---------------|-----------------|------------------------|
 * | `x86`         | `386`           | `386`                  |
 * | `x86_64`      | `amd64`         | `amd64`                |
 * | `armhf`       | `arm/v6`        | `arm` / `v6`           |
 * | `armv7`       | `arm/v7`        | `arm` / `v7`           |
 * | `aarch64`     | `arm64`         | `arm64`                |
 * | `loongarch64` | `loong64`       | `loong64`              |
 * | `ppc64le`     | `ppc64le`       | `ppc64le`              |
 * | `riscv64`     | `riscv64`       | `riscv64`              |
 * | `s390x`       | `s390x`         | `s390x`                |
 *
 * apko passes unknown names through unchanged; tk refuses them (a typo in `archs` should not build an
 * image for a platform nobody can run).
 */
import { compareCodePoints } from '@tk/core';
import { OciError } from './errors.ts';

/**
 * An OCI platform. Key order is the order go-containerregistry writes (`architecture`, `os`,
 * `os.features`, `variant`), so the object can be serialised as is.
 */
export interface OciPlatform {
  architecture: string;
  os: 'linux';
  'os.features'?: string[];
  variant?: string;
}

interface ArchRow {
  apk: string;
  oci: string;
  architecture: string;
  variant?: string;
}

const ARCHS: readonly ArchRow[] = [
  { apk: 'x86', oci: '386', architecture: '386' },
  { apk: 'x86_64', oci: 'amd64', architecture: 'amd64' },
  { apk: 'armhf', oci: 'arm/v6', architecture: 'arm', variant: 'v6' },
  { apk: 'armv7', oci: 'arm/v7', architecture: 'arm', variant: 'v7' },
  { apk: 'aarch64', oci: 'arm64', architecture: 'arm64' },
  { apk: 'loongarch64', oci: 'loong64', architecture: 'loong64' },
  { apk: 'ppc64le', oci: 'ppc64le', architecture: 'ppc64le' },
  { apk: 'riscv64', oci: 'riscv64', architecture: 'riscv64' },
  { apk: 's390x', oci: 's390x', architecture: 's390x' },
];

/** The apk architecture names tk builds for, in apko's index order. */
export const APK_ARCHS: readonly string[] = ARCHS.map((row) => row.apk);

/** The OCI architecture strings tk builds for (`386`, `amd64`, `arm/v6`, …), sorted as apko sorts them. */
export const OCI_ARCHS: readonly string[] = ARCHS.map((row) => row.oci);

function unknownArch(arch: string): OciError {
  return new OciError('OCI_BAD_PLATFORM', `unknown architecture ${JSON.stringify(arch)}`, {
    hint: `use an apk name (${APK_ARCHS.join(', ')}) or an OCI one (${OCI_ARCHS.join(', ')})`,
    data: { arch },
  });
}

function rowOf(platform: OciPlatform): ArchRow {
  const row = ARCHS.find(
    (r) => r.architecture === platform.architecture && (r.variant ?? '') === (platform.variant ?? ''),
  );
  if (row === undefined) throw unknownArch(ociArchString(platform));
  return row;
}

/**
 * The platform for an architecture given either way apko accepts it: an apk name (`x86_64`, `armv7`),
 * an OCI arch string (`amd64`, `arm/v7`) or a full platform string (`linux/arm/v7`).
 *
 * @param arch - the architecture
 * @returns a new platform object (`os` is always `linux`)
 * @throws {OciError} OCI_BAD_PLATFORM for unknown architectures or other operating systems
 * @example
 * platformFromArch('aarch64') // { architecture: 'arm64', os: 'linux' }
 * platformFromArch('arm/v7')  // { architecture: 'arm', os: 'linux', variant: 'v7' }
 */
export function platformFromArch(arch: string): OciPlatform {
  let name = arch;
  if (name.startsWith('linux/')) name = name.slice('linux/'.length);
  const row = ARCHS.find((r) => r.apk === name || r.oci === name);
  if (row === undefined) throw unknownArch(arch);
  return row.variant === undefined
    ? { architecture: row.architecture, os: 'linux' }
    : { architecture: row.architecture, os: 'linux', variant: row.variant };
}

/**
 * The apk architecture name of a platform (`x86_64` for amd64), as used in repository paths and
 * `/etc/apk/arch`.
 *
 * @param platform - the platform
 * @returns the apk name
 * @throws {OciError} OCI_BAD_PLATFORM for platforms tk does not know
 */
export function apkArchOf(platform: OciPlatform): string {
  return rowOf(platform).apk;
}

/**
 * The OCI arch string of a platform, `architecture[/variant]` (`amd64`, `arm/v7`): the key apko sorts
 * index manifests by.
 *
 * @param platform - the platform
 * @returns the arch string
 */
export function ociArchString(platform: OciPlatform): string {
  return platform.variant === undefined || platform.variant === ''
    ? platform.architecture
    : `${platform.architecture}/${platform.variant}`;
}

/**
 * The platform as go-containerregistry's `Platform.String()` writes it: `os/architecture[/variant]`.
 *
 * @param platform - the platform
 * @returns for example `linux/arm/v7`
 */
export function platformString(platform: OciPlatform): string {
  return `${platform.os}/${ociArchString(platform)}`;
}

/**
 * The suffix tk appends to tags for one platform of a multi-arch image (`hello:latest-amd64`):
 * the OCI arch string with `/` replaced by `_`, so `arm/v6` and `arm/v7` become `arm_v6` and `arm_v7`.
 * (apko uses the bare architecture, so both arm variants get `-arm` and one overwrites the other,
 * apko#605.)
 *
 * @param platform - the platform
 * @returns the suffix, without the leading `-`
 */
export function platformTagSuffix(platform: OciPlatform): string {
  return ociArchString(platform).replaceAll('/', '_');
}

/**
 * Order platforms as apko orders the manifests of an index: by OCI arch string in byte order
 * (`386`, `amd64`, `arm/v6`, `arm/v7`, `arm64`, `loong64`, `ppc64le`, `riscv64`, `s390x`), then by
 * `os.features`.
 *
 * @param a - a platform
 * @param b - another platform
 * @returns negative, zero or positive, for `Array.prototype.sort`
 */
export function comparePlatforms(a: OciPlatform, b: OciPlatform): number {
  return (
    compareCodePoints(ociArchString(a), ociArchString(b)) ||
    compareCodePoints((a['os.features'] ?? []).join(','), (b['os.features'] ?? []).join(','))
  );
}

/**
 * Check a platform and return a copy in canonical key order with empty optional fields removed.
 *
 * @param platform - the platform
 * @returns the normalised copy
 * @throws {OciError} OCI_BAD_PLATFORM when the architecture is empty, the OS is not linux or a feature is empty
 */
export function normalizePlatform(platform: OciPlatform): OciPlatform {
  const bad = (why: string): never => {
    throw new OciError('OCI_BAD_PLATFORM', `invalid platform ${JSON.stringify(platform)}: ${why}`, {
      hint: 'tk builds linux images; give an architecture such as amd64 or arm/v7',
    });
  };
  if (typeof platform.architecture !== 'string' || !/^[a-z0-9_]+$/.test(platform.architecture))
    bad('the architecture must be lowercase letters, digits or _');
  if (platform.os !== 'linux') bad('the os must be linux');
  if (platform.variant !== undefined && platform.variant !== '' && !/^[a-z0-9]+$/.test(platform.variant))
    bad('the variant must be lowercase letters or digits');
  const features = platform['os.features'] ?? [];
  if (features.some((f) => typeof f !== 'string' || f === '')) bad('os.features must be non-empty strings');
  const out: OciPlatform = { architecture: platform.architecture, os: 'linux' };
  if (features.length > 0) out['os.features'] = [...features];
  if (platform.variant !== undefined && platform.variant !== '') out.variant = platform.variant;
  return out;
}

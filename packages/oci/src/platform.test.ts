import { describe, expect, it } from 'vitest';
import {
  APK_ARCHS,
  apkArchOf,
  comparePlatforms,
  normalizePlatform,
  ociArchString,
  OCI_ARCHS,
  platformFromArch,
  platformString,
  platformTagSuffix,
  type OciPlatform,
} from './platform.ts';

// apko pkg/build/types/types.go: ParseArchitecture / ToAPK / ToOCIPlatform.
const TABLE = [
  ['x86', '386', { architecture: '386', os: 'linux' }],
  ['x86_64', 'amd64', { architecture: 'amd64', os: 'linux' }],
  ['armhf', 'arm/v6', { architecture: 'arm', os: 'linux', variant: 'v6' }],
  ['armv7', 'arm/v7', { architecture: 'arm', os: 'linux', variant: 'v7' }],
  ['aarch64', 'arm64', { architecture: 'arm64', os: 'linux' }],
  ['loongarch64', 'loong64', { architecture: 'loong64', os: 'linux' }],
  ['ppc64le', 'ppc64le', { architecture: 'ppc64le', os: 'linux' }],
  ['riscv64', 'riscv64', { architecture: 'riscv64', os: 'linux' }],
  ['s390x', 's390x', { architecture: 's390x', os: 'linux' }],
] as const;

describe('architecture mapping', () => {
  it.each(TABLE)('maps apk %s <-> OCI %s', (apk, oci, platform) => {
    expect(platformFromArch(apk)).toEqual(platform);
    expect(platformFromArch(oci)).toEqual(platform);
    expect(platformFromArch(`linux/${oci}`)).toEqual(platform);
    expect(apkArchOf(platform)).toBe(apk);
    expect(ociArchString(platform)).toBe(oci);
    expect(platformString(platform)).toBe(`linux/${oci}`);
    expect(platformTagSuffix(platform)).toBe(oci.replace('/', '_'));
  });

  it('lists the archs in apko order', () => {
    expect(APK_ARCHS).toEqual(TABLE.map((row) => row[0]));
    expect(OCI_ARCHS).toEqual(TABLE.map((row) => row[1]));
  });

  it.each(['', 'i386', 'arm', 'arm/v8', 'windows/amd64', 'AMD64', 'linux/'])(
    'refuses unknown architecture %j',
    (arch) => {
      expect(() => platformFromArch(arch)).toThrow(
        expect.objectContaining({ code: 'OCI_BAD_PLATFORM' }) as Error,
      );
    },
  );

  it('refuses to name the apk arch of an unknown platform', () => {
    expect(() => apkArchOf({ architecture: 'mips', os: 'linux' })).toThrow(
      expect.objectContaining({ code: 'OCI_BAD_PLATFORM' }) as Error,
    );
  });
});

describe('ordering and normalising', () => {
  it('sorts as apko sorts index manifests', () => {
    const platforms = [...TABLE].reverse().map((row) => platformFromArch(row[0]));
    expect(platforms.sort(comparePlatforms).map(ociArchString)).toEqual([
      '386',
      'amd64',
      'arm/v6',
      'arm/v7',
      'arm64',
      'loong64',
      'ppc64le',
      'riscv64',
      's390x',
    ]);
    const erofs: OciPlatform = { architecture: 'amd64', os: 'linux', 'os.features': ['erofs'] };
    expect(comparePlatforms(platformFromArch('amd64'), erofs)).toBeLessThan(0);
  });

  it('drops empty optional fields and keeps Go key order', () => {
    const p = normalizePlatform({
      variant: 'v7',
      'os.features': ['f'],
      os: 'linux',
      architecture: 'arm',
    } as OciPlatform);
    expect(Object.keys(p)).toEqual(['architecture', 'os', 'os.features', 'variant']);
    expect(normalizePlatform({ architecture: 'amd64', os: 'linux', variant: '', 'os.features': [] })).toEqual(
      {
        architecture: 'amd64',
        os: 'linux',
      },
    );
  });

  it.each([
    [{ architecture: '', os: 'linux' }],
    [{ architecture: 'Amd64', os: 'linux' }],
    [{ architecture: 'amd64', os: 'darwin' }],
    [{ architecture: 'arm', os: 'linux', variant: 'v/7' }],
    [{ architecture: 'amd64', os: 'linux', 'os.features': [''] }],
  ])('refuses %j', (platform) => {
    expect(() => normalizePlatform(platform as OciPlatform)).toThrow(
      expect.objectContaining({ code: 'OCI_BAD_PLATFORM' }) as Error,
    );
  });
});

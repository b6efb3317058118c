import { describe, expect, it } from 'vitest';
import {
  ALL_ARCHS,
  archFromNodeArch,
  parseArch,
  sortArchs,
  toApkArch,
  toOciArch,
  toOciPlatform,
} from './arch.ts';
import { ConfigError } from './errors.ts';

// apko pkg/build/types/types.go: ParseArchitecture, ToAPK, ToOCIPlatform.
const TABLE = [
  { oci: '386', apk: 'x86', platform: { architecture: '386' }, node: 'ia32' },
  { oci: 'amd64', apk: 'x86_64', platform: { architecture: 'amd64' }, node: 'x64' },
  { oci: 'arm64', apk: 'aarch64', platform: { architecture: 'arm64' }, node: 'arm64' },
  { oci: 'arm/v6', apk: 'armhf', platform: { architecture: 'arm', variant: 'v6' }, node: undefined },
  { oci: 'arm/v7', apk: 'armv7', platform: { architecture: 'arm', variant: 'v7' }, node: 'arm' },
  { oci: 'loong64', apk: 'loongarch64', platform: { architecture: 'loong64' }, node: 'loong64' },
  { oci: 'ppc64le', apk: 'ppc64le', platform: { architecture: 'ppc64le' }, node: 'ppc64' },
  { oci: 'riscv64', apk: 'riscv64', platform: { architecture: 'riscv64' }, node: 'riscv64' },
  { oci: 's390x', apk: 's390x', platform: { architecture: 's390x' }, node: 's390x' },
] as const;

describe('architecture mapping', () => {
  it('covers exactly apko AllArchs, in its order', () => {
    expect(TABLE.map((r) => r.oci)).toEqual([...ALL_ARCHS]);
  });

  it.each(TABLE)('$oci ↔ $apk', ({ oci, apk, platform, node }) => {
    for (const name of [oci, apk]) {
      expect(parseArch(name)).toBe(oci);
      expect(toOciArch(name)).toBe(oci);
      expect(toApkArch(name)).toBe(apk);
      expect(toOciPlatform(name)).toEqual(platform);
    }
    if (node !== undefined) expect(archFromNodeArch(node)).toBe(oci);
    expect(archFromNodeArch(oci)).toBe(oci);
    expect(archFromNodeArch(apk)).toBe(oci);
  });

  it('gives no variant key for non-ARM platforms', () => {
    expect(Object.keys(toOciPlatform('x86_64'))).toEqual(['architecture']);
  });

  it.each(['sparc', 'AMD64', 'arm', 'armv6', 'arm/v8', 'all', 'host', '', 'x86-64', 'i386'])(
    'rejects %j with CONFIG_UNKNOWN_ARCH',
    (name) => {
      expect(parseArch(name)).toBeUndefined();
      for (const fn of [toApkArch, toOciArch, toOciPlatform]) {
        let error: unknown;
        try {
          fn(name);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).code).toBe('CONFIG_UNKNOWN_ARCH');
      }
    },
  );

  it('has no architecture for Node arches apko does not build', () => {
    expect(archFromNodeArch('mips')).toBeUndefined();
    expect(archFromNodeArch('mipsel')).toBeUndefined();
  });

  it('sorts like apko ParseArchitectures (code points, "/" before digits) and drops duplicates', () => {
    expect(sortArchs(['s390x', 'arm64', 'arm/v7', 'amd64', '386', 'arm/v6', 'amd64'])).toEqual([
      '386',
      'amd64',
      'arm/v6',
      'arm/v7',
      'arm64',
      's390x',
    ]);
  });
});

/**
 * Golden files of tk's own output (refresh with `vitest -u`, review the diff). Every document is also checked
 * against the official SPDX 2.3 and 2.3.1 JSON schemas.
 */
import { createRecordingLogger } from '@tk/core';
import { describe, expect, it } from 'vitest';
import { imageSbom, indexSbom, packageSbom } from '@tk/sbom';
import { CRANE_PACKAGE, GOLDEN, goldenImageInput, schemaErrors } from './helpers.ts';

describe('golden files', () => {
  it.each(['x86_64', 'aarch64'] as const)('image SBOM of apko-testrepo (%s)', async (arch) => {
    const text = imageSbom(goldenImageInput(arch));
    expect(schemaErrors(text)).toEqual([]);
    await expect(text).toMatchFileSnapshot(`golden/sbom-${arch}.spdx.json`);
  });

  it('index SBOM of apko-testrepo', async () => {
    const text = indexSbom({
      indexDigest: GOLDEN.index,
      imageName: 'golden',
      buildDate: 0,
      toolVersion: '0.1.0',
      images: [
        { manifestDigest: GOLDEN.aarch64.manifest, platform: GOLDEN.aarch64.platform },
        { manifestDigest: GOLDEN.x86_64.manifest, platform: GOLDEN.x86_64.platform },
      ],
    });
    expect(schemaErrors(text)).toEqual([]);
    await expect(text).toMatchFileSnapshot('golden/sbom-index.spdx.json');
  });

  it('image SBOM with a vcs source, an Alpine-like package set and an organisation', async () => {
    const logger = createRecordingLogger();
    const text = imageSbom(
      {
        arch: 'aarch64',
        platform: { architecture: 'arm', variant: 'v7' },
        imageName: 'hello',
        manifestDigest: `sha256:${'1'.repeat(64)}`,
        layerDigest: `sha256:${'2'.repeat(64)}`,
        buildDate: 1_700_000_000,
        osRelease: {
          ID: 'alpine',
          NAME: 'Alpine Linux',
          VERSION_ID: '3.18.4',
          PRETTY_NAME: 'Alpine Linux v3.18',
        },
        packages: [
          {
            name: 'musl',
            version: '1.2.4-r2',
            arch: 'aarch64',
            license: 'MIT',
            origin: 'musl',
            maintainer: 'Timo Teräs <timo.teras@iki.fi>',
            url: 'https://musl.libc.org/',
            description: 'the musl c library (libc) implementation',
            commit: 'a5a1e5d1a6ab4b7bd55ffcc4a0e4ab0c0e2c0d8f',
            checksum: 'Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=',
            repository: 'https://dl-cdn.alpinelinux.org/alpine/v3.18/main/aarch64',
          },
          {
            name: 'libstdc++',
            version: '12.2.1_git20220924-r10',
            arch: 'aarch64',
            license: 'GPL-2.0-or-later AND LGPL-2.1-or-later',
            checksum: 'Q1mJtHbcTmyO1Fh3Ln/Gc2PHsmuQE=',
          },
          {
            name: 'ca-certificates-bundle',
            version: '20230506-r0',
            arch: 'aarch64',
            license: 'MPL-2.0 AND MIT',
            checksum: 'Q1uS5G7kZ1QpRkHEpHOJYjj2v2B5A=',
          },
          {
            name: 'oddity',
            version: '1.0-r0',
            arch: 'noarch',
            license: 'MIT/X11 & BSD',
            checksum: 'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
          },
        ],
        embedded: [],
        vcs: { url: 'https://github.com/example/images', commit: 'a5a1e5d1a6ab4b7bd55ffcc4a0e4ab0c0e2c0d8f' },
        toolVersion: '0.1.0',
      },
      { organization: 'Example, Inc.', logger },
    );
    expect(logger.messages).toEqual([]);
    expect(schemaErrors(text)).toEqual([]);
    await expect(text).toMatchFileSnapshot('golden/sbom-alpine-like.spdx.json');
  });

  it('package SBOM in melange shape (crane)', async () => {
    const text = packageSbom(CRANE_PACKAGE);
    expect(schemaErrors(text)).toEqual([]);
    await expect(text).toMatchFileSnapshot('golden/package-crane-0.20.2-r1.spdx.json');
  });
});

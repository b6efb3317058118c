import { describe, expect, it } from 'vitest';
import {
  embeddedSbomPaths,
  identityChecksum,
  maintainerParty,
  organization,
  resolveOs,
  sourcePackage,
} from './image.ts';
import { IdAllocator } from './ids.ts';

describe('identityChecksum', () => {
  it('gives apko’s SHA1 hex for Q1 and SHA256 for Q2', () => {
    // The checksum bytes of apko's spdx_test.go testOpts.
    expect(identityChecksum('Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=')).toEqual({
      algorithm: 'SHA1',
      checksumValue: '0de6f48cdcad92b8cf5b837f78a2d9e370703a5c',
    });
    expect(identityChecksum(`Q2${Buffer.alloc(32, 1).toString('base64')}`)).toEqual({
      algorithm: 'SHA256',
      checksumValue: '01'.repeat(32),
    });
  });

  it.each([
    '',
    'Q1',
    'Q1AAAA',
    'Q3Deb0jNytkrjPW4N/eKLZ43BwOlw=',
    'sha1-Deb0jNytkrjPW4N/eKLZ43BwOlw=',
    `Q2${Buffer.alloc(20).toString('base64')}`,
  ])('refuses %j', (text) => {
    expect(identityChecksum(text)).toBeUndefined();
  });
});

describe('parties', () => {
  it.each([
    ['Natanael Copa <ncopa@alpinelinux.org>', 'Person: Natanael Copa (ncopa@alpinelinux.org)'],
    ['  Jane\tDoe   <j@d>  ', 'Person: Jane Doe (j@d)'],
    ['<only@mail>', 'Person: only@mail'],
    ['unknown', 'Person: unknown'],
    ['', undefined],
    [undefined, undefined],
  ])('maintainer %j -> %j', (input, expected) => {
    expect(maintainerParty(input)).toBe(expected);
  });

  it('uses NOASSERTION for an organisation without a name', () => {
    expect(organization('  Wolfi  ')).toBe('Organization: Wolfi');
    expect(organization('')).toBe('NOASSERTION');
  });
});

describe('resolveOs', () => {
  it("uses apko's defaults without os-release and 'unknown' for an empty ID", () => {
    expect(resolveOs(undefined)).toEqual({
      id: 'unknown',
      name: 'apko-generated image',
      versionId: 'unknown',
    });
    expect(resolveOs({ NAME: 'X' })).toEqual({ id: 'unknown', name: 'X', versionId: '' });
  });
});

describe('embeddedSbomPaths', () => {
  it("follows apko's lookup order", () => {
    expect(embeddedSbomPaths('hello', '2.12-r3')).toEqual([
      'var/lib/db/sbom/hello-2.12-r3.spdx.json',
      'var/lib/db/sbom/hello-2.12.spdx.json',
      'var/lib/db/sbom/hello.spdx.json',
    ]);
  });
});

describe('sourcePackage', () => {
  it("splits apko's vcs-url form and writes a GitHub purl", () => {
    const pkg = sourcePackage(
      { url: 'https://github.com/chainguard-dev/apko.git@d1b5d5ec7633ad7288e5841b38fc8103a9773436' },
      'NOASSERTION',
      new IdAllocator(),
    );
    expect(pkg).toMatchObject({
      name: 'github.com/chainguard-dev/apko.git',
      versionInfo: 'd1b5d5ec7633ad7288e5841b38fc8103a9773436',
      downloadLocation:
        'git+https://github.com/chainguard-dev/apko.git@d1b5d5ec7633ad7288e5841b38fc8103a9773436',
      checksums: [{ algorithm: 'SHA1', checksumValue: 'd1b5d5ec7633ad7288e5841b38fc8103a9773436' }],
      externalRefs: [
        expect.objectContaining({
          referenceLocator: 'pkg:github/chainguard-dev/apko@d1b5d5ec7633ad7288e5841b38fc8103a9773436',
        }),
      ],
    });
  });

  it('keeps a non-GitHub source without purl or checksum for a non-hex revision', () => {
    const pkg = sourcePackage(
      { url: 'git@gitlab.com:org/repo.git', commit: 'main' },
      'NOASSERTION',
      new IdAllocator(),
    );
    expect(pkg.externalRefs).toBeUndefined();
    expect(pkg.checksums).toBeUndefined();
    expect(pkg.downloadLocation).toBe('NOASSERTION');
    expect(pkg.SPDXID).toMatch(/^SPDXRef-Package-[A-Za-z0-9.-]+$/);
  });
});

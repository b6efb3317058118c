import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageSbom, packageSbom, type PackageSbomInput } from '@tk/sbom';
import { CRANE_PACKAGE as crane, FIXTURES, parse, purlOf, schemaErrors, type LooseDoc } from './helpers.ts';

const melange = (name: string): LooseDoc =>
  parse(readFileSync(join(FIXTURES, 'real/sbom', `melange-${name}.spdx.json`), 'utf8'));

const sevenZip: PackageSbomInput = {
  name: '7zip-two-fetches',
  version: '2301-r3',
  arch: 'x86_64',
  license: 'LGPL-2.0-only',
  namespace: 'wolfi',
  cpe: 'cpe:2.3:a:7-zip:7-zip:2301:*:*:*:*:*:*:*',
  config: {
    path: 'testdata/build_configs/7zip-two-fetches.yaml',
    repository: 'https://github.com/wolfi-dev/os',
    commit: 'c0ffee',
  },
  sources: [0, 1].map(() => ({
    name: '7zip-two-fetches',
    version: '2301',
    downloadLocation: 'https://7-zip.org/a/7z2301-src.tar.xz',
    checksums: [
      {
        algorithm: 'SHA512',
        value:
          'e39f660c023aa65e55388be225b5591fe2a5c9138693f3c9107e2eb4ce97fafde118d3375e01ada99d29de9633f56221b5b3d640c982178884670cd84c8aa986',
      },
    ],
    purl: 'pkg:generic/7zip-two-fetches@2301?checksum=sha512:e39f660c023aa65e55388be225b5591fe2a5c9138693f3c9107e2eb4ce97fafde118d3375e01ada99d29de9633f56221b5b3d640c982178884670cd84c8aa986&download_url=https:%2F%2F7-zip.org%2Fa%2F7z2301-src.tar.xz',
  })),
  buildDate: 0,
  toolVersion: '0.1.0',
};

function shape(p: LooseDoc['packages'][number]) {
  return {
    name: p.name,
    versionInfo: p.versionInfo,
    licenseDeclared: p.licenseDeclared,
    licenseConcluded: p.licenseConcluded,
    supplier: p.supplier,
    originator: p.originator,
    downloadLocation: p.downloadLocation,
    primaryPackagePurpose: p.primaryPackagePurpose?.replace('OPERATING-SYSTEM', 'OPERATING_SYSTEM'),
    checksums: p.checksums,
    refs: p.externalRefs?.map((r) => `${r.referenceCategory} ${r.referenceType} ${r.referenceLocator}`),
  };
}

describe.each([
  ['crane-0.20.2-r1', crane],
  ['7zip-two-fetches-2301-r3', sevenZip],
])('package SBOM vs melange golden %s', (name, input) => {
  const golden = melange(name);
  const text = packageSbom(input);
  const doc = parse(text);

  it('is valid against the schemas (melange’s own is not: OPERATING-SYSTEM)', () => {
    expect(schemaErrors(text)).toEqual([]);
    expect(schemaErrors(JSON.stringify(golden))).not.toEqual([]);
  });

  it('has melange’s name, described package and package contents', () => {
    expect(doc.name).toBe(golden.name);
    expect(doc.documentDescribes).toEqual(golden.documentDescribes);
    expect(doc.packages.map(shape)).toEqual(golden.packages.map(shape));
  });

  it('uses melange’s ids for the apk and the recipe, and its relationships', () => {
    const ids = doc.packages.map((p) => p.SPDXID);
    for (const p of golden.packages.filter((g) => !g.SPDXID.startsWith('SPDXRef-Package-Source-')))
      expect(ids).toContain(p.SPDXID);
    const types = (d: LooseDoc) =>
      d.relationships.filter((r) => r.spdxElementId !== 'SPDXRef-DOCUMENT').map((r) => r.relationshipType);
    expect(types(doc)).toEqual(types(golden));
  });
});

describe('packageSbom', () => {
  it('supplies as the title-cased namespace by default, as melange', () => {
    const supplierOf = (namespace: string, supplier?: string) =>
      parse(packageSbom({ ...crane, namespace, supplier, sources: [] })).packages[1]!.supplier;
    expect(supplierOf('wolfi')).toBe('Organization: Wolfi');
    expect(supplierOf('wolfi-dev')).toBe('Organization: Wolfi-Dev');
    expect(supplierOf('wolfi', 'Chainguard, Inc.')).toBe('Organization: Chainguard, Inc.');
  });

  it('turns an invalid license into a LicenseRef and keeps declared license texts', () => {
    const text = packageSbom({
      ...crane,
      license: 'MIT/X11 AND LicenseRef-custom',
      extractedLicenses: [{ licenseId: 'LicenseRef-custom', extractedText: 'Custom terms', name: 'custom' }],
      config: { path: 'crane.yaml', repository: 'https://gitlab.com/x/y' },
    });
    expect(schemaErrors(text)).toEqual([]);
    const doc = parse(text);
    const apk = doc.packages.find((p) => p.name === 'crane')!;
    expect(apk.licenseDeclared).toMatch(/^LicenseRef-/);
    expect(doc.hasExtractedLicensingInfos?.map((l) => l.licenseId)).toEqual([
      'LicenseRef-custom',
      apk.licenseDeclared,
    ]);
    // Not GitHub: no purl for the recipe, and no commit.
    const recipe = doc.packages.find((p) => p.primaryPackagePurpose === 'INSTALL')!;
    expect(recipe.SPDXID).toBe('SPDXRef-Package-Melange-crane.yaml');
    expect(recipe.externalRefs).toBeUndefined();
  });

  it('is picked up as the entry of its package when embedded in an image', () => {
    const json = new TextEncoder().encode(packageSbom(crane));
    const image = parse(
      imageSbom({
        arch: 'x86_64',
        platform: { architecture: 'amd64' },
        imageName: 'crane',
        manifestDigest: `sha256:${'e'.repeat(64)}`,
        layerDigest: `sha256:${'f'.repeat(64)}`,
        buildDate: 0,
        osRelease: { ID: 'wolfi', NAME: 'Wolfi', VERSION_ID: '20230201' },
        packages: [
          { name: 'crane', version: '0.20.2-r1', arch: 'x86_64', checksum: 'Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=' },
        ],
        embedded: [{ path: 'var/lib/db/sbom/crane-0.20.2-r1.spdx.json', json }],
        toolVersion: '0.1.0',
      }),
    );
    const entry = image.packages.find((p) => p.SPDXID === 'SPDXRef-Package-apk-crane-0.20.2-r1')!;
    expect(purlOf(entry)).toBe('pkg:apk/wolfi/crane@0.20.2-r1?arch=x86_64&distro=wolfi');
    expect(entry.checksums).toEqual([
      { algorithm: 'SHA1', checksumValue: '0de6f48cdcad92b8cf5b837f78a2d9e370703a5c' },
    ]);
    expect(image.packages.filter((p) => p.name === 'crane')).toHaveLength(1);
    expect(image.packages.map((p) => p.primaryPackagePurpose)).toEqual([
      'CONTAINER',
      'CONTAINER',
      'OPERATING_SYSTEM',
      'APPLICATION',
      'INSTALL',
      'SOURCE',
    ]);
  });
});

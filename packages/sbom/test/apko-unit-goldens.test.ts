/**
 * apko's SBOM unit tests (pkg/sbom/generator/spdx/spdx_test.go): real Wolfi package SBOMs merged into an
 * image SBOM, compared with apko's expected documents (test-fixtures/real/sbom/apko-*.spdx.json). apko's
 * expected files describe only a layer (no image digest); tk's describe the image, so the comparison is on
 * the merged packages, their relationships and the extracted licenses.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRecordingLogger } from '@tk/core';
import { describe, expect, it } from 'vitest';
import { imageSbom, type InstalledPackage, type OsRelease } from '@tk/sbom';
import { FIXTURES, parse, purlOf, schemaErrors, type LooseDoc } from './helpers.ts';

const APK_SBOMS = join(import.meta.dirname, 'fixtures/apko-apk-sboms');

function build(packages: [string, string][], osRelease: OsRelease) {
  const logger = createRecordingLogger();
  const installed: InstalledPackage[] = packages.map(([name, version]) => ({
    name,
    version,
    arch: 'x86_64',
    checksum: 'Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=',
  }));
  const text = imageSbom(
    {
      arch: 'x86_64',
      platform: { architecture: 'amd64' },
      imageName: 'image',
      manifestDigest: `sha256:${'a'.repeat(64)}`,
      layerDigest: `sha256:${'b'.repeat(64)}`,
      buildDate: 0,
      osRelease,
      packages: installed,
      embedded: packages.map(([name, version]) => ({
        path: `/var/lib/db/sbom/${name}-${version}.spdx.json`,
        json: new Uint8Array(readFileSync(join(APK_SBOMS, `${name}-${version}.spdx.json`))),
      })),
      toolVersion: '0.1.0',
    },
    { logger },
  );
  return { text, doc: parse(text), logger };
}

function expected(name: string): LooseDoc {
  return parse(readFileSync(join(FIXTURES, 'real/sbom', `apko-${name}.spdx.json`), 'utf8'));
}

const isMerged = (p: LooseDoc['packages'][number]): boolean =>
  !p.SPDXID.startsWith('SPDXRef-Package-ImageLayer-') && !p.SPDXID.startsWith('SPDXRef-OperatingSystem-');

function comparable(p: LooseDoc['packages'][number]) {
  return {
    SPDXID: p.SPDXID,
    name: p.name,
    versionInfo: p.versionInfo,
    licenseDeclared: p.licenseDeclared,
    licenseConcluded: p.licenseConcluded,
    supplier: p.supplier,
    originator: p.originator,
    downloadLocation: p.downloadLocation,
    purl: purlOf(p),
  };
}

const relKey = (r: LooseDoc['relationships'][number]): string =>
  `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`;

const cases: [string, [string, string][], OsRelease][] = [
  ['custom-license', [['font-ubuntu', '0.869-r1']], { ID: 'unknown', NAME: 'unknown', VERSION_ID: '3.0' }],
  [
    'no-supplier',
    [['libattr1', '2.5.1-r2']],
    { ID: 'apko-images', NAME: 'Apko Images, Plc', VERSION_ID: '3.0' },
  ],
  [
    'package-deduplicating',
    [
      ['logstash-8', '8.15.3-r4'],
      ['logstash-8-compat', '8.15.3-r4'],
    ],
    { ID: 'unknown', NAME: 'unknown', VERSION_ID: '3.0' },
  ],
];

describe.each(cases)('apko unit golden %s', (name, packages, osRelease) => {
  const { text, doc, logger } = build(packages, osRelease);
  const apko = expected(name);

  it('is valid against the SPDX 2.3 schemas (apko’s own is not when it copies PACKAGE_MANAGER)', () => {
    expect(schemaErrors(text)).toEqual([]);
    expect(logger.messages.filter((m) => m.level === 'warn')).toEqual([]);
  });

  it('has the merged packages apko has, in the same order', () => {
    const ours = doc.packages.filter(
      (p) => p.SPDXID.startsWith('SPDXRef-Package-') && !p.SPDXID.includes('-Image'),
    );
    expect(ours.map(comparable)).toEqual(apko.packages.filter(isMerged).map(comparable));
    for (const p of ours) {
      for (const ref of p.externalRefs ?? []) expect(ref.referenceCategory).toBe('PACKAGE-MANAGER');
    }
  });

  it('has the relationships apko copied, and the image contains each installed package', () => {
    const ours = new Set(doc.relationships.map(relKey));
    for (const r of apko.relationships) {
      const wanted = r.spdxElementId.startsWith('SPDXRef-Package-ImageLayer-')
        ? { ...r, spdxElementId: doc.documentDescribes[0]! }
        : r;
      expect(ours.has(relKey(wanted)), relKey(wanted)).toBe(true);
    }
  });

  it('has the extracted licenses apko has', () => {
    expect(doc.hasExtractedLicensingInfos ?? []).toEqual(apko.hasExtractedLicensingInfos ?? []);
  });
});

it('drops the files of libattr1 and their relationships, as apko does', () => {
  const { doc } = build([['libattr1', '2.5.1-r2']], { ID: 'wolfi', NAME: 'Wolfi' });
  expect(doc.relationships.some((r) => r.relatedSpdxElement.startsWith('SPDXRef-File-'))).toBe(false);
  expect(JSON.stringify(doc)).not.toContain('hasFiles');
});

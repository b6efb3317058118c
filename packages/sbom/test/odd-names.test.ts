import { describe, expect, it } from 'vitest';
import { imageSbom, type InstalledPackage } from '@tk/sbom';
import { parse, schemaErrors } from './helpers.ts';

/** 500 packages whose names and versions collide once sanitised (`so:x` vs `so-x`, `a_b` vs `aC95b`, …). */
function oddPackages(): InstalledPackage[] {
  const stems = [
    'so:libc.so.6',
    'so-libc.so.6',
    'libstdc++',
    'libstdcC43C43',
    'py3_foo',
    'py3C95foo',
    'a b',
    'aC32b',
    'ünï',
    'x/y',
    'cmd:sh',
  ];
  const out: InstalledPackage[] = [];
  for (let i = 0; out.length < 500; i++) {
    const stem = stems[i % stems.length]!;
    out.push({
      name: `${stem}${Math.floor(i / stems.length)}`,
      version: i % 3 === 0 ? '1.0_rc1+git-r0' : `${i}.0-r${i % 7}`,
      arch: i % 5 === 0 ? 'noarch' : 'x86_64',
      license: ['MIT', 'GPL-2.0+ OR BSD', 'custom: see file', ''][i % 4],
      checksum: 'Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=',
      namespace: 'wolfi',
    });
  }
  return out;
}

describe('500 packages with odd names', () => {
  const packages = oddPackages();
  const text = imageSbom({
    arch: 'x86_64',
    platform: { architecture: 'amd64' },
    imageName: 'odd',
    manifestDigest: `sha256:${'c'.repeat(64)}`,
    layerDigest: `sha256:${'d'.repeat(64)}`,
    buildDate: 0,
    osRelease: { ID: 'wolfi', NAME: 'Wolfi', VERSION_ID: '20230201' },
    packages,
    embedded: [],
    toolVersion: '0.1.0',
  });
  const doc = parse(text);
  const entries = doc.packages.filter((p) => p.primaryPackagePurpose === 'APPLICATION');

  it('is valid against the schemas', () => {
    expect(schemaErrors(text)).toEqual([]);
  });

  it('gives every package an entry with a valid, unique SPDXID', () => {
    expect(entries).toHaveLength(500);
    const ids = doc.packages.map((p) => p.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
    expect(entries.map((p) => [p.name, p.versionInfo])).toEqual(packages.map((p) => [p.name, p.version]));
  });

  it('names the same package with the same id in any image (ids do not depend on neighbours)', () => {
    const alone = parse(
      imageSbom({
        arch: 'x86_64',
        platform: { architecture: 'amd64' },
        imageName: 'odd',
        manifestDigest: `sha256:${'c'.repeat(64)}`,
        layerDigest: `sha256:${'d'.repeat(64)}`,
        buildDate: 0,
        packages: packages.slice(1).reverse(),
        embedded: [],
        toolVersion: '0.1.0',
      }),
    );
    const byName = new Map(alone.packages.map((p) => [`${p.name}@${p.versionInfo}`, p.SPDXID]));
    // The first claimant of a colliding base id keeps it, a later one gets a hash of its own content, so
    // only packages whose base id collided can differ between the two documents.
    const stable = entries.filter((p) => byName.get(`${p.name}@${p.versionInfo}`) === p.SPDXID);
    expect(stable.length).toBeGreaterThan(250);
  });

  it('writes purls that escape + and keep : like trivy and syft, with distro', () => {
    const purl = (name: string) => entries.find((p) => p.name === name)?.externalRefs?.[0]?.referenceLocator;
    expect(purl('so:libc.so.60')).toBe(
      'pkg:apk/wolfi/so:libc.so.60@1.0_rc1%2Bgit-r0?arch=noarch&distro=wolfi-20230201',
    );
    expect(purl('libstdc++0')).toBe('pkg:apk/wolfi/libstdc%2B%2B0@2.0-r2?arch=x86_64&distro=wolfi-20230201');
    expect(purl('a b0')).toBe('pkg:apk/wolfi/a%20b0@1.0_rc1%2Bgit-r0?arch=x86_64&distro=wolfi-20230201');
    expect(new Set(entries.map((p) => p.externalRefs?.[0]?.referenceLocator)).size).toBe(500);
  });

  it('keeps license expressions and turns other strings into LicenseRefs with their text', () => {
    expect(doc.hasExtractedLicensingInfos?.map((r) => [r.licenseId, r.extractedText])).toEqual([
      ['LicenseRef-custom-C32seeC32file', 'custom: see file'],
    ]);
    const count = (value: string) => entries.filter((p) => p.licenseDeclared === value).length;
    expect([
      count('MIT'),
      count('GPL-2.0+ OR BSD'),
      count('LicenseRef-custom-C32seeC32file'),
      count('NOASSERTION'),
    ]).toEqual([125, 125, 125, 125]);
  });
});

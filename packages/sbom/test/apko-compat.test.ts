/**
 * Semantic comparison with apko's real golden SBOMs for test-fixtures/real/apko-testrepo (apko.yaml,
 * `packages: [replayout]`, tag golden:latest, build date 0). tk must have every package apko has (same id,
 * name, version, purpose, supplier, purls, licenses) and every relationship apko has; what tk adds on top
 * is listed exactly.
 */
import { describe, expect, it } from 'vitest';
import { imageSbom, indexSbom } from '@tk/sbom';
import { GOLDEN, goldenImageInput, parse, purlOf, readGolden, type LooseDoc } from './helpers.ts';

type Pkg = LooseDoc['packages'][number];

function essentials(p: Pkg) {
  return {
    SPDXID: p.SPDXID,
    name: p.name,
    versionInfo: p.versionInfo,
    primaryPackagePurpose: p.primaryPackagePurpose,
    supplier: p.supplier,
    originator: p.originator,
    licenseDeclared: p.licenseDeclared,
    licenseConcluded: p.licenseConcluded,
    downloadLocation: p.downloadLocation,
    purl: purlOf(p),
  };
}

const key = (r: LooseDoc['relationships'][number]): string =>
  `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`;

describe.each(['x86_64', 'aarch64'] as const)('image SBOM vs apko golden (%s)', (arch) => {
  const apko = readGolden(`sbom-${arch}.spdx.json`);
  const tk = parse(imageSbom(goldenImageInput(arch)));
  const image = apko.documentDescribes[0]!;
  const layer = apko.packages.find((p) => p.SPDXID.startsWith('SPDXRef-Package-ImageLayer-'))!.SPDXID;

  it('has the same name, describes the same image and was created at the same time', () => {
    expect(tk.name).toBe(apko.name);
    expect(tk.documentDescribes).toEqual(apko.documentDescribes);
    expect(tk.creationInfo.created).toBe(apko.creationInfo.created);
    expect(tk.creationInfo.licenseListVersion).toBe(apko.creationInfo.licenseListVersion);
  });

  it('has every package of apko with the same identity, in the same order', () => {
    const tkById = new Map(tk.packages.map((p) => [p.SPDXID, p]));
    for (const p of apko.packages) {
      const ours = tkById.get(p.SPDXID);
      expect(ours, p.SPDXID).toBeDefined();
      expect(essentials(ours!)).toEqual(essentials(p));
    }
    const order = tk.packages.map((p) => p.SPDXID).filter((id) => apko.packages.some((p) => p.SPDXID === id));
    expect(order).toEqual(apko.packages.map((p) => p.SPDXID));
  });

  it('copies the embedded packages of replayout and pretend-baselayout and adds only the apk database checksum', () => {
    for (const id of [
      'SPDXRef-Package-apk-pretend-baselayout-1.0.0-r0',
      'SPDXRef-Package-Melange-pretend-baselayout.melange.yaml-326e0ed687bdfeadac839dc9b25686e4442c9d04',
      'SPDXRef-Package-apk-replayout-1.0.0-r0',
      'SPDXRef-Package-Melange-replayout.melange.yaml-326e0ed687bdfeadac839dc9b25686e4442c9d04',
    ]) {
      const ours = tk.packages.find((p) => p.SPDXID === id)!;
      const theirs = apko.packages.find((p) => p.SPDXID === id)!;
      const { checksums, ...rest } = ours;
      expect(rest).toEqual(theirs);
      if (id.includes('-apk-'))
        expect(checksums).toEqual([
          { algorithm: 'SHA1', checksumValue: expect.stringMatching(/^[0-9a-f]{40}$/) },
        ]);
      else expect(checksums).toBeUndefined();
    }
  });

  it('has the same packages as apko, plus nothing (every installed package carries an SBOM here)', () => {
    expect(tk.packages.map((p) => p.SPDXID).sort()).toEqual(apko.packages.map((p) => p.SPDXID).sort());
  });

  it("has every relationship of apko; the additions are DESCRIBES and the OS's CONTAINS", () => {
    const ours = new Set(tk.relationships.map(key));
    for (const r of apko.relationships) expect(ours.has(key(r)), key(r)).toBe(true);
    const theirs = new Set(apko.relationships.map(key));
    const os = apko.packages.find((p) => p.primaryPackagePurpose === 'OPERATING_SYSTEM')!.SPDXID;
    expect(tk.relationships.filter((r) => !theirs.has(key(r))).map(key)).toEqual([
      `SPDXRef-DOCUMENT DESCRIBES ${image}`,
      `${layer} CONTAINS ${os}`,
      `${os} CONTAINS SPDXRef-Package-apk-pretend-baselayout-1.0.0-r0`,
      `${os} CONTAINS SPDXRef-Package-apk-replayout-1.0.0-r0`,
    ]);
    expect(new Set(tk.relationships.map((r) => r.relationshipType))).toEqual(
      new Set(['DESCRIBES', 'CONTAINS', 'DESCRIBED_BY']),
    );
  });
});

describe('index SBOM vs apko golden', () => {
  const apko = readGolden('sbom-index.spdx.json');
  const tk = parse(
    indexSbom({
      indexDigest: GOLDEN.index,
      imageName: 'golden',
      buildDate: 0,
      toolVersion: '0.1.0',
      supplier: 'Chainguard, Inc.',
      images: [
        { manifestDigest: GOLDEN.x86_64.manifest, platform: GOLDEN.x86_64.platform },
        { manifestDigest: GOLDEN.aarch64.manifest, platform: GOLDEN.aarch64.platform },
      ],
    }),
  );

  it('has the same packages, purls and checksums', () => {
    expect(tk.name).toBe(apko.name);
    expect(tk.documentDescribes).toEqual(apko.documentDescribes);
    expect(tk.packages.map((p) => ({ ...essentials(p), checksums: p.checksums }))).toEqual(
      apko.packages.map((p) => ({ ...essentials(p), checksums: p.checksums })),
    );
  });

  it('has the VARIANT_OF relationships of apko plus DESCRIBES', () => {
    expect(tk.relationships.map(key)).toEqual([
      `SPDXRef-DOCUMENT DESCRIBES ${apko.documentDescribes[0]}`,
      ...apko.relationships.map(key),
    ]);
  });
});

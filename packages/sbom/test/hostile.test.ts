/**
 * Embedded SBOMs come from packages: invalid JSON, huge files, wrong shapes, SPDXID collisions, cycles and
 * 100,000-package documents must never crash the image SBOM, never make it invalid, and never lose an
 * installed package.
 */
import { createRecordingLogger } from '@tk/core';
import { describe, expect, it } from 'vitest';
import { imageSbom, type EmbeddedSbomLimits, type InstalledPackage } from '@tk/sbom';
import { parse, schemaErrors, type LooseDoc } from './helpers.ts';

const enc = (value: unknown): Uint8Array =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const MANIFEST = `sha256:${'a'.repeat(64)}`;
const IMAGE_ID = `SPDXRef-Package-Image-sha256-${'a'.repeat(64)}`;

function pkg(name: string, version = '1.0-r0'): InstalledPackage {
  return { name, version, arch: 'x86_64', license: 'MIT', checksum: 'Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=' };
}

/** A melange-like SBOM for an installed package, with extra packages and relationships. */
function melangeLike(
  name: string,
  version = '1.0-r0',
  extra: { packages?: unknown[]; relationships?: unknown[] } = {},
) {
  const id = `SPDXRef-Package-apk-${name}-${version}`;
  return {
    spdxVersion: 'SPDX-2.3',
    documentDescribes: [id],
    packages: [
      {
        SPDXID: id,
        name,
        versionInfo: version,
        downloadLocation: 'NOASSERTION',
        externalRefs: [
          {
            referenceCategory: 'PACKAGE-MANAGER',
            referenceType: 'purl',
            referenceLocator: `pkg:apk/wolfi/${name}@${version}?arch=x86_64`,
          },
        ],
      },
      ...(extra.packages ?? []),
    ],
    relationships: extra.relationships ?? [],
  };
}

function build(
  packages: InstalledPackage[],
  embedded: [string, unknown][],
  limits: Partial<EmbeddedSbomLimits> = {},
) {
  const logger = createRecordingLogger();
  const text = imageSbom(
    {
      arch: 'x86_64',
      platform: { architecture: 'amd64' },
      imageName: 'hostile',
      manifestDigest: MANIFEST,
      layerDigest: `sha256:${'b'.repeat(64)}`,
      buildDate: 0,
      osRelease: { ID: 'wolfi', NAME: 'Wolfi', VERSION_ID: '20230201' },
      packages,
      embedded: embedded.map(([path, json]) => ({
        path,
        json: json instanceof Uint8Array ? json : enc(json),
      })),
      toolVersion: '0.1.0',
    },
    { logger, limits },
  );
  const doc = parse(text);
  // Whatever happened: valid, unique ids, every relationship between existing elements, every package present.
  expect(schemaErrors(text)).toEqual([]);
  const ids = doc.packages.map((p) => p.SPDXID);
  expect(new Set(ids).size).toBe(ids.length);
  const known = new Set([...ids, 'SPDXRef-DOCUMENT']);
  for (const r of doc.relationships) {
    expect(known.has(r.spdxElementId), r.spdxElementId).toBe(true);
    expect(known.has(r.relatedSpdxElement), r.relatedSpdxElement).toBe(true);
  }
  for (const p of packages) {
    const entry = entryOf(doc, p.name);
    expect(entry, p.name).toBeDefined();
    expect(doc.relationships).toContainEqual({
      spdxElementId: IMAGE_ID,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: entry!.SPDXID,
    });
  }
  return { text, doc, warnings: logger.messages.filter((m) => m.level === 'warn') };
}

/** The entry of an installed package: the package the image CONTAINS with that name. */
function entryOf(doc: LooseDoc, name: string) {
  const contained = new Set(
    doc.relationships
      .filter((r) => r.spdxElementId === IMAGE_ID && r.relationshipType === 'CONTAINS')
      .map((r) => r.relatedSpdxElement),
  );
  return doc.packages.find((p) => p.name === name && contained.has(p.SPDXID));
}

const path = (name: string, version = '1.0-r0'): string => `/var/lib/db/sbom/${name}-${version}.spdx.json`;

describe('hostile embedded SBOMs', () => {
  it.each([
    ['invalid JSON', '{"packages": [', 'SBOM_EMBEDDED_INVALID'],
    ['empty file', '', 'SBOM_EMBEDDED_INVALID'],
    ['JSON null', 'null', 'SBOM_EMBEDDED_INVALID'],
    ['a number', '42', 'SBOM_EMBEDDED_INVALID'],
    ['packages as an object', { packages: { a: 1 } }, 'SBOM_EMBEDDED_INVALID'],
    ['documentDescribes as a string', { documentDescribes: 'SPDXRef-x' }, 'SBOM_EMBEDDED_INVALID'],
    ['SPDX 3', { spdxVersion: 'SPDX-3.0', '@graph': [] }, 'SBOM_EMBEDDED_INVALID'],
    ['binary junk', new Uint8Array([0x1f, 0x8b, 0x08, 0, 0xff, 0xfe]), 'SBOM_EMBEDDED_INVALID'],
  ])('%s: skipped with a warning, the package keeps its own entry', (_what, json, code) => {
    const { doc, warnings } = build([pkg('victim')], [[path('victim'), json]]);
    expect(warnings).toEqual([expect.objectContaining({ code })]);
    expect(entryOf(doc, 'victim')?.SPDXID).toBe('SPDXRef-Package-apk-victim-1.0-r0');
    expect(doc.packages).toHaveLength(4);
  });

  it('tolerates junk inside a valid document: bad entries are dropped, the rest is copied', () => {
    const doc = melangeLike('a', '1.0-r0', {
      packages: [
        null,
        5,
        'x',
        [],
        { SPDXID: 'bad id', name: 'x' },
        { SPDXID: 'SPDXRef-ok', name: 'ok', primaryPackagePurpose: 'NOPE' },
      ],
      relationships: [
        null,
        {
          spdxElementId: 'SPDXRef-Package-apk-a-1.0-r0',
          relationshipType: 'LOVES',
          relatedSpdxElement: 'SPDXRef-ok',
        },
        {
          spdxElementId: 'SPDXRef-Package-apk-a-1.0-r0',
          relationshipType: 'depends-on',
          relatedSpdxElement: 'SPDXRef-ok',
        },
        {
          spdxElementId: 'SPDXRef-Package-apk-a-1.0-r0',
          relationshipType: 'CONTAINS',
          relatedSpdxElement: 'NOASSERTION',
        },
        {
          spdxElementId: 'SPDXRef-Package-apk-a-1.0-r0',
          relationshipType: 'CONTAINS',
          relatedSpdxElement: 'DocumentRef-x:SPDXRef-y',
        },
      ],
    });
    const { doc: out, warnings } = build([pkg('a')], [[path('a'), doc]]);
    expect(warnings).toEqual([]);
    expect(out.packages.find((p) => p.SPDXID === 'SPDXRef-ok')?.primaryPackagePurpose).toBeUndefined();
    expect(out.relationships).toContainEqual({
      spdxElementId: 'SPDXRef-Package-apk-a-1.0-r0',
      relationshipType: 'DEPENDS_ON',
      relatedSpdxElement: 'SPDXRef-ok',
    });
  });

  it('skips a file over the size limit and stops reading once the image budget is spent', () => {
    const big = melangeLike('big', '1.0-r0', {
      packages: [{ SPDXID: 'SPDXRef-pad', name: 'x'.repeat(5000), downloadLocation: 'x' }],
    });
    const { warnings } = build([pkg('big')], [[path('big'), big]], { maxBytes: 4096 });
    expect(warnings.map((w) => w.code)).toEqual(['SBOM_EMBEDDED_TOO_LARGE']);

    const small = (n: string) => melangeLike(n);
    const names = ['p1', 'p2', 'p3'];
    const size = enc(small('p1')).byteLength;
    const { doc, warnings: w2 } = build(
      names.map((n) => pkg(n)),
      names.map((n) => [path(n), small(n)]),
      { maxTotalBytes: size * 2 + 1 },
    );
    expect(w2.map((w) => w.code)).toEqual(['SBOM_EMBEDDED_TOO_LARGE']);
    expect(entryOf(doc, 'p3')?.sourceInfo).toBe('Package info from the apk database');
  });

  it('survives cycles and self-loops', () => {
    const doc = melangeLike('cyc', '1.0-r0', {
      packages: [
        { SPDXID: 'SPDXRef-x', name: 'x', downloadLocation: 'NOASSERTION' },
        { SPDXID: 'SPDXRef-y', name: 'y', downloadLocation: 'NOASSERTION' },
      ],
      relationships: [
        {
          spdxElementId: 'SPDXRef-Package-apk-cyc-1.0-r0',
          relationshipType: 'DEPENDS_ON',
          relatedSpdxElement: 'SPDXRef-x',
        },
        { spdxElementId: 'SPDXRef-x', relationshipType: 'DEPENDS_ON', relatedSpdxElement: 'SPDXRef-y' },
        {
          spdxElementId: 'SPDXRef-y',
          relationshipType: 'DEPENDS_ON',
          relatedSpdxElement: 'SPDXRef-Package-apk-cyc-1.0-r0',
        },
        { spdxElementId: 'SPDXRef-y', relationshipType: 'DEPENDS_ON', relatedSpdxElement: 'SPDXRef-y' },
      ],
    });
    const { doc: out } = build([pkg('cyc')], [[path('cyc'), doc]]);
    expect(out.packages.map((p) => p.SPDXID)).toContain('SPDXRef-y');
    expect(out.relationships.filter((r) => r.relationshipType === 'DEPENDS_ON')).toHaveLength(4);
  });

  it('handles 100,000 packages: refused by count by default, bounded by reach when allowed', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => ({
      SPDXID: `SPDXRef-m${i}`,
      name: `m${i}`,
      downloadLocation: 'x',
    }));
    const huge = melangeLike('huge', '1.0-r0', { packages: many });
    const bytes = enc(huge);
    const start = performance.now();
    const { warnings } = build([pkg('huge')], [[path('huge'), bytes]], { maxBytes: 64 << 20 });
    expect(warnings.map((w) => w.code)).toEqual(['SBOM_EMBEDDED_TOO_LARGE']);

    // Allowed in, but only what the described package reaches is copied.
    const { doc } = build([pkg('huge')], [[path('huge'), bytes]], {
      maxBytes: 64 << 20,
      maxPackages: 200_000,
    });
    expect(doc.packages).toHaveLength(4);

    // A described package that reaches all of them is refused rather than copied.
    const chain = melangeLike('chain', '1.0-r0', {
      packages: many,
      relationships: many.map((p) => ({
        spdxElementId: 'SPDXRef-Package-apk-chain-1.0-r0',
        relationshipType: 'CONTAINS',
        relatedSpdxElement: p.SPDXID,
      })),
    });
    const { warnings: w3 } = build([pkg('chain')], [[path('chain'), enc(chain)]], {
      maxBytes: 64 << 20,
      maxPackages: 200_000,
      maxRelationships: 200_000,
    });
    expect(w3.map((w) => w.code)).toEqual(['SBOM_EMBEDDED_TOO_LARGE']);
    expect(performance.now() - start).toBeLessThan(15_000);
  });

  it('does not crash on deeply nested JSON', () => {
    const deep = `{"packages":[${'['.repeat(200_000)}${']'.repeat(200_000)}]}`;
    const { doc } = build([pkg('deep')], [[path('deep'), deep]]);
    expect(entryOf(doc, 'deep')).toBeDefined();
  });

  it('replaces lone surrogates and keeps control characters escaped', () => {
    const doc = melangeLike('weird', '1.0-r0', {
      packages: [{ SPDXID: 'SPDXRef-w', name: 'a\ud800b\u0001\u2028', downloadLocation: 'x' }],
      relationships: [
        {
          spdxElementId: 'SPDXRef-Package-apk-weird-1.0-r0',
          relationshipType: 'CONTAINS',
          relatedSpdxElement: 'SPDXRef-w',
        },
      ],
    });
    const { text, doc: out } = build([pkg('weird')], [[path('weird'), doc]]);
    expect(out.packages.find((p) => p.SPDXID === 'SPDXRef-w')?.name).toBe('a\ufffdb\u0001\u2028');
    expect(text).toContain('\\u0001\\u2028');
  });
});

describe('SPDXID collisions', () => {
  it("cannot take over tk's own ids (image, layer, OS)", () => {
    const doc = melangeLike('evil', '1.0-r0', {
      packages: [
        { SPDXID: IMAGE_ID, name: 'fake image', downloadLocation: 'x' },
        { SPDXID: 'SPDXRef-OperatingSystem-wolfi', name: 'fake os', downloadLocation: 'x' },
      ],
      relationships: [
        {
          spdxElementId: 'SPDXRef-Package-apk-evil-1.0-r0',
          relationshipType: 'CONTAINS',
          relatedSpdxElement: IMAGE_ID,
        },
        {
          spdxElementId: 'SPDXRef-Package-apk-evil-1.0-r0',
          relationshipType: 'CONTAINS',
          relatedSpdxElement: 'SPDXRef-OperatingSystem-wolfi',
        },
      ],
    });
    const { doc: out } = build([pkg('evil')], [[path('evil'), doc]]);
    expect(out.packages.find((p) => p.SPDXID === IMAGE_ID)?.name).toBe(MANIFEST);
    expect(out.packages.find((p) => p.SPDXID === 'SPDXRef-OperatingSystem-wolfi')?.name).toBe('wolfi');
    const renamed = out.packages.filter((p) => p.name.startsWith('fake'));
    expect(renamed).toHaveLength(2);
    for (const p of renamed) {
      expect(out.relationships).toContainEqual({
        spdxElementId: 'SPDXRef-Package-apk-evil-1.0-r0',
        relationshipType: 'CONTAINS',
        relatedSpdxElement: p.SPDXID,
      });
    }
  });

  it('renames a different package that reuses an earlier id, and merges an identical one', () => {
    const shared = {
      SPDXID: 'SPDXRef-shared',
      name: 'recipe.yaml',
      versionInfo: 'abc',
      downloadLocation: 'NOASSERTION',
    };
    const a = melangeLike('a', '1.0-r0', {
      packages: [shared],
      relationships: [
        {
          spdxElementId: 'SPDXRef-Package-apk-a-1.0-r0',
          relationshipType: 'DESCRIBED_BY',
          relatedSpdxElement: 'SPDXRef-shared',
        },
      ],
    });
    const b = melangeLike('b', '1.0-r0', {
      packages: [shared],
      relationships: [
        {
          spdxElementId: 'SPDXRef-Package-apk-b-1.0-r0',
          relationshipType: 'DESCRIBED_BY',
          relatedSpdxElement: 'SPDXRef-shared',
        },
      ],
    });
    const c = melangeLike('c', '1.0-r0', {
      packages: [{ ...shared, name: 'other.yaml' }],
      relationships: [
        {
          spdxElementId: 'SPDXRef-Package-apk-c-1.0-r0',
          relationshipType: 'DESCRIBED_BY',
          relatedSpdxElement: 'SPDXRef-shared',
        },
      ],
    });
    const { doc } = build(
      [pkg('a'), pkg('b'), pkg('c')],
      [
        [path('a'), a],
        [path('b'), b],
        [path('c'), c],
      ],
    );
    expect(doc.packages.filter((p) => p.name === 'recipe.yaml')).toHaveLength(1);
    const other = doc.packages.find((p) => p.name === 'other.yaml')!;
    expect(other.SPDXID).toMatch(/^SPDXRef-shared-[0-9a-f]{12}$/);
    expect(doc.relationships).toContainEqual({
      spdxElementId: 'SPDXRef-Package-apk-b-1.0-r0',
      relationshipType: 'DESCRIBED_BY',
      relatedSpdxElement: 'SPDXRef-shared',
    });
    expect(doc.relationships).toContainEqual({
      spdxElementId: 'SPDXRef-Package-apk-c-1.0-r0',
      relationshipType: 'DESCRIBED_BY',
      relatedSpdxElement: other.SPDXID,
    });
  });

  it("cannot hijack another installed package's entry", () => {
    // a's SBOM claims to describe b (same id melange would give b), then b's own SBOM arrives.
    const a = {
      documentDescribes: ['SPDXRef-Package-apk-b-1.0-r0'],
      packages: [
        {
          SPDXID: 'SPDXRef-Package-apk-b-1.0-r0',
          name: 'b',
          versionInfo: '1.0-r0',
          downloadLocation: 'x',
          licenseDeclared: 'GPL-3.0-only',
        },
      ],
    };
    const { doc } = build(
      [pkg('a'), pkg('b')],
      [
        [path('a'), a],
        [path('b'), melangeLike('b')],
      ],
    );
    const entryA = entryOf(doc, 'a')!;
    const entryB = entryOf(doc, 'b')!;
    expect(entryA.SPDXID).toBe('SPDXRef-Package-apk-a-1.0-r0');
    expect(entryB.SPDXID).not.toBe(entryA.SPDXID);
    expect(purlOfEntry(entryB)).toBe('pkg:apk/wolfi/b@1.0-r0?arch=x86_64');
    // a's claim about "b" is kept, but as something a contains, not as b's entry.
    expect(doc.relationships).toContainEqual({
      spdxElementId: entryA.SPDXID,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: 'SPDXRef-Package-apk-b-1.0-r0',
    });
  });

  it('links described packages of another name to the synthetic entry with CONTAINS', () => {
    const doc = {
      documentDescribes: ['SPDXRef-Package-lib'],
      packages: [
        { SPDXID: 'SPDXRef-Package-lib', name: 'vendored-lib', versionInfo: '2.0', downloadLocation: 'x' },
      ],
    };
    const { doc: out } = build([pkg('app')], [[path('app'), doc]]);
    expect(out.relationships).toContainEqual({
      spdxElementId: 'SPDXRef-Package-apk-app-1.0-r0',
      relationshipType: 'CONTAINS',
      relatedSpdxElement: 'SPDXRef-Package-lib',
    });
  });

  it('warns about a license id with two texts and keeps the first', () => {
    const withLicense = (name: string, text: string) => ({
      ...melangeLike(name),
      hasExtractedLicensingInfos: [{ licenseId: 'LicenseRef-custom', extractedText: text }],
    });
    const { doc, warnings } = build(
      [pkg('a'), pkg('b')],
      [
        [path('a'), withLicense('a', 'first')],
        [path('b'), withLicense('b', 'second')],
      ],
    );
    expect(warnings.map((w) => w.code)).toEqual(['SBOM_LICENSE_CONFLICT']);
    expect(doc.hasExtractedLicensingInfos).toEqual([
      { licenseId: 'LicenseRef-custom', extractedText: 'first' },
    ]);
  });

  it('defines LicenseRefs that embedded packages name without text', () => {
    const doc = melangeLike('lr');
    (doc.packages[0] as Record<string, unknown>).licenseDeclared = 'LicenseRef-missing AND MIT';
    const { doc: out } = build([pkg('lr')], [[path('lr'), doc]]);
    expect(out.hasExtractedLicensingInfos).toEqual([
      expect.objectContaining({ licenseId: 'LicenseRef-missing', extractedText: 'NOASSERTION' }),
    ]);
  });

  it('warns about a malformed checksum and leaves it out', () => {
    const { doc, warnings } = build([{ ...pkg('nock'), checksum: 'not-q1' }], []);
    expect(warnings.map((w) => w.code)).toEqual(['SBOM_BAD_CHECKSUM']);
    expect(entryOf(doc, 'nock')?.checksums).toBeUndefined();
  });
});

function purlOfEntry(p: LooseDoc['packages'][number]): string | undefined {
  return p.externalRefs?.find((r) => r.referenceType === 'purl')?.referenceLocator;
}

describe('finding embedded SBOMs', () => {
  it.each([
    ['/var/lib/db/sbom/look-1.0-r0.spdx.json'],
    ['var/lib/db/sbom/look-1.0.spdx.json'],
    ['./var/lib/db/sbom/look.spdx.json'],
  ])('uses %s', (where) => {
    const { doc } = build([pkg('look')], [[where, melangeLike('look')]]);
    expect(entryOf(doc, 'look')?.externalRefs?.[0]?.referenceLocator).toBe(
      'pkg:apk/wolfi/look@1.0-r0?arch=x86_64',
    );
  });

  it('prefers the exact name and ignores SBOMs of packages that are not installed', () => {
    const exact = melangeLike('look');
    const byName = {
      ...melangeLike('look'),
      packages: [{ ...(melangeLike('look').packages[0] as object), licenseDeclared: 'GPL-3.0-only' }],
    };
    const { doc } = build(
      [pkg('look')],
      [
        ['/var/lib/db/sbom/look.spdx.json', byName],
        ['/var/lib/db/sbom/look-1.0-r0.spdx.json', exact],
        ['/var/lib/db/sbom/ghost-1.0-r0.spdx.json', melangeLike('ghost')],
      ],
    );
    expect(entryOf(doc, 'look')?.licenseDeclared).toBeUndefined();
    expect(doc.packages.some((p) => p.name === 'ghost')).toBe(false);
  });
});

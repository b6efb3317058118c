import { createRecordingLogger } from '@tk/core';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_EMBEDDED_LIMITS,
  fixPurpose,
  fixReferenceCategory,
  fixRelationshipType,
  parseEmbeddedSbom,
  reachablePackages,
  sanitizePackage,
  type ParsedEmbeddedSbom,
} from './embedded.ts';

const enc = (value: unknown): Uint8Array =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

function parse(value: unknown, limits = {}) {
  const logger = createRecordingLogger();
  const doc = parseEmbeddedSbom(
    { path: 'var/lib/db/sbom/x-1.spdx.json', json: enc(value) },
    { logger, limits: { ...DEFAULT_EMBEDDED_LIMITS, ...limits } },
  );
  return { doc, logger };
}

describe('schema fix-ups', () => {
  it('spells enum values as the SPDX 2.3 schema wants', () => {
    expect(fixPurpose('OPERATING-SYSTEM')).toBe('OPERATING_SYSTEM');
    expect(fixPurpose('application')).toBe('APPLICATION');
    expect(fixPurpose('GADGET')).toBeUndefined();
    expect(fixReferenceCategory('PACKAGE_MANAGER')).toBe('PACKAGE-MANAGER');
    expect(fixReferenceCategory('persistent_id')).toBe('PERSISTENT-ID');
    expect(fixReferenceCategory('WEBSITE')).toBeUndefined();
    expect(fixRelationshipType('described-by')).toBe('DESCRIBED_BY');
    expect(fixRelationshipType('LIKES')).toBeUndefined();
  });

  it('keeps only schema members of a package and forces filesAnalyzed false', () => {
    const pkg = sanitizePackage({
      SPDXID: 'SPDXRef-Package-x',
      name: 'x',
      filesAnalyzed: true,
      hasFiles: ['SPDXRef-File-a'],
      packageVerificationCode: { packageVerificationCodeValue: 'ab' },
      attributionText: 'single',
      primaryPackagePurpose: 'OPERATING-SYSTEM',
      supplier: 'Wolfi',
      originator: 'Organization: Wolfi',
      checksums: [
        { algorithm: 'sha-256', checksumValue: 'ABCD' },
        { algorithm: 'CRC', checksumValue: '00' },
        { algorithm: 'SHA1', checksumValue: 'not hex' },
      ],
      externalRefs: [
        {
          referenceCategory: 'PACKAGE_MANAGER',
          referenceLocator: 'pkg:apk/wolfi/x@1',
          referenceType: 'purl',
        },
        { referenceCategory: 'PACKAGE-MANAGER', referenceLocator: '', referenceType: 'purl' },
        'junk',
      ],
      unknownField: { deep: true },
    });
    expect(pkg).toEqual({
      SPDXID: 'SPDXRef-Package-x',
      name: 'x',
      filesAnalyzed: false,
      downloadLocation: 'NOASSERTION',
      originator: 'Organization: Wolfi',
      attributionTexts: ['single'],
      primaryPackagePurpose: 'OPERATING_SYSTEM',
      checksums: [{ algorithm: 'SHA256', checksumValue: 'abcd' }],
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceLocator: 'pkg:apk/wolfi/x@1',
          referenceType: 'purl',
        },
      ],
    });
  });

  it.each([
    [null],
    [[]],
    [{ name: 'x' }],
    [{ SPDXID: 'SPDXRef-DOCUMENT', name: 'x' }],
    [{ SPDXID: 'SPDXRef-a b', name: 'x' }],
    [{ SPDXID: 'Package-x', name: 'x' }],
    [{ SPDXID: 'SPDXRef-x', name: 5 }],
  ])('refuses package %j', (raw) => {
    expect(sanitizePackage(raw)).toBeUndefined();
  });
});

describe('parseEmbeddedSbom', () => {
  it.each([
    ['not JSON', '{"SPDXID":', 'SBOM_EMBEDDED_INVALID'],
    ['an array', [], 'SBOM_EMBEDDED_INVALID'],
    ['a string', '"hello"', 'SBOM_EMBEDDED_INVALID'],
    ['SPDX 3', { spdxVersion: 'SPDX-3.0' }, 'SBOM_EMBEDDED_INVALID'],
    ['packages as object', { packages: {} }, 'SBOM_EMBEDDED_INVALID'],
    ['relationships as string', { relationships: 'x' }, 'SBOM_EMBEDDED_INVALID'],
  ])('skips %s with a warning', (_what, value, code) => {
    const { doc, logger } = parse(value);
    expect(doc).toBeUndefined();
    expect(logger.messages).toEqual([expect.objectContaining({ level: 'warn', code })]);
  });

  it('skips a file over the size limit before parsing it', () => {
    const { doc, logger } = parse({ packages: [] }, { maxBytes: 5 });
    expect(doc).toBeUndefined();
    expect(logger.messages[0]?.code).toBe('SBOM_EMBEDDED_TOO_LARGE');
  });

  it('takes described ids from documentDescribes and DESCRIBES, in package order, ignoring unknown ids', () => {
    const { doc } = parse({
      documentDescribes: ['SPDXRef-b', 'SPDXRef-missing', 7],
      packages: [
        { SPDXID: 'SPDXRef-a', name: 'a' },
        { SPDXID: 'SPDXRef-b', name: 'b' },
        { SPDXID: 'SPDXRef-b', name: 'b-again' },
      ],
      relationships: [
        { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-a' },
      ],
    });
    expect(doc?.described).toEqual(['SPDXRef-a', 'SPDXRef-b']);
    expect(doc?.packages.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('treats invalid UTF-8 as Go does (U+FFFD) and ignores inherited keys', () => {
    const bytes = new Uint8Array([
      ...enc('{"__proto__":{"packages":1},"packages":[{"SPDXID":"SPDXRef-a","name":"'),
      0xff,
      ...enc('"}]}'),
    ]);
    const doc = parseEmbeddedSbom(
      { path: 'p', json: bytes },
      { logger: createRecordingLogger(), limits: DEFAULT_EMBEDDED_LIMITS },
    );
    expect(doc?.packages[0]?.name).toBe('\uFFFD');
  });
});

describe('reachablePackages', () => {
  function chain(n: number, cycle: boolean): ParsedEmbeddedSbom {
    const packages = Array.from({ length: n }, (_, i) => ({ SPDXID: `SPDXRef-p${i}`, name: `p${i}` }));
    const relationships = packages.map((p, i) => ({
      spdxElementId: p.SPDXID,
      relationshipType: 'DEPENDS_ON',
      relatedSpdxElement: `SPDXRef-p${cycle ? (i + 1) % n : i + 1}`,
    }));
    const { doc } = parse(
      { documentDescribes: ['SPDXRef-p0'], packages, relationships },
      { maxBytes: 64 << 20, maxPackages: 200_000, maxRelationships: 200_000 },
    );
    return doc as ParsedEmbeddedSbom;
  }

  it('follows relationships forward, through cycles, once each', () => {
    const doc = chain(5, true);
    expect(reachablePackages(doc, 100)).toEqual([
      'SPDXRef-p0',
      'SPDXRef-p1',
      'SPDXRef-p2',
      'SPDXRef-p3',
      'SPDXRef-p4',
    ]);
  });

  it('does not follow relationships backwards or into files', () => {
    const { doc } = parse({
      documentDescribes: ['SPDXRef-b'],
      packages: [
        { SPDXID: 'SPDXRef-a', name: 'a' },
        { SPDXID: 'SPDXRef-b', name: 'b' },
      ],
      relationships: [
        { spdxElementId: 'SPDXRef-a', relationshipType: 'CONTAINS', relatedSpdxElement: 'SPDXRef-b' },
        { spdxElementId: 'SPDXRef-b', relationshipType: 'CONTAINS', relatedSpdxElement: 'SPDXRef-File-x' },
      ],
    });
    expect(reachablePackages(doc as ParsedEmbeddedSbom, 10)).toEqual(['SPDXRef-b']);
  });

  it('is linear: a 100,000-package cycle is walked quickly, and refused over the limit', () => {
    const doc = chain(100_000, true);
    const start = performance.now();
    expect(reachablePackages(doc, 100_000)?.length).toBe(100_000);
    expect(reachablePackages(doc, 1_000)).toBeUndefined();
    expect(performance.now() - start).toBeLessThan(5_000);
  });
});

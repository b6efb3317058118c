import { describe, expect, it } from 'vitest';
import { imageSbom, indexSbom, packageSbom, SbomError, type ImageSbomInput } from '@tk/sbom';
import { GOLDEN, goldenImageInput, parse } from './helpers.ts';

const namespaceOf = (text: string): string => parse(text).documentNamespace;

describe('determinism', () => {
  it('gives the same bytes for the same input, every time', () => {
    const a = imageSbom(goldenImageInput('x86_64'));
    const b = imageSbom(goldenImageInput('x86_64'));
    expect(b).toBe(a);
    expect(namespaceOf(a)).toMatch(/^https:\/\/spdx\.org\/spdxdocs\/tk\/[0-9a-f]{64}$/);
  });

  it('derives the namespace from the content: any change gives another namespace', () => {
    const base = goldenImageInput('x86_64');
    const variants: ImageSbomInput[] = [
      base,
      { ...base, buildDate: 1 },
      { ...base, toolVersion: '0.1.1' },
      { ...base, manifestDigest: `sha256:${'0'.repeat(64)}` },
      { ...base, packages: base.packages.slice(1) },
      { ...base, embedded: [] },
      // Without an embedded SBOM the entry comes from the apk database, so its license shows.
      {
        ...base,
        embedded: [],
        packages: base.packages.map((p, i) => (i === 0 ? { ...p, license: 'Apache-2.0' } : p)),
      },
    ];
    const namespaces = variants.map((v) => namespaceOf(imageSbom(v)));
    expect(new Set(namespaces).size).toBe(variants.length);
  });

  it('keeps the namespace when only data the document does not show changes', () => {
    // An embedded SBOM describes these packages, so the apk database's license is not used.
    const base = goldenImageInput('x86_64');
    const changed = { ...base, packages: base.packages.map((p) => ({ ...p, license: 'Apache-2.0' })) };
    expect(imageSbom(changed)).toBe(imageSbom(base));
  });

  it('hashes the document with an empty namespace, so the prefix is the only other input', () => {
    const a = namespaceOf(
      imageSbom(goldenImageInput('x86_64'), { namespacePrefix: 'https://example.com/spdx/' }),
    );
    const b = namespaceOf(imageSbom(goldenImageInput('x86_64')));
    expect(a.slice('https://example.com/spdx/'.length)).toBe(b.slice('https://spdx.org/spdxdocs/tk/'.length));
  });

  it('orders index images by platform whatever order they come in', () => {
    const images = [
      { manifestDigest: GOLDEN.aarch64.manifest, platform: GOLDEN.aarch64.platform },
      { manifestDigest: GOLDEN.x86_64.manifest, platform: GOLDEN.x86_64.platform },
    ];
    const input = { indexDigest: GOLDEN.index, imageName: 'golden', buildDate: 0, toolVersion: '0.1.0' };
    expect(indexSbom({ ...input, images })).toBe(indexSbom({ ...input, images: [...images].reverse() }));
  });
});

describe('escaping', () => {
  it('writes & in purls as \\u0026 (Go encoding/json), and the final newline', () => {
    const text = imageSbom(goldenImageInput('x86_64'));
    expect(text).toContain(
      '?arch=amd64\\u0026mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson\\u0026os=linux',
    );
    expect(text).not.toMatch(/[&<>]/);
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2).replace(/&/g, '\\u0026')}\n`);
  });

  it('escapes <, > and & in package metadata too', () => {
    const base = goldenImageInput('x86_64');
    const text = imageSbom({
      ...base,
      packages: [{ ...base.packages[0]!, description: 'a <b> & c', maintainer: 'X <x@y>' }],
      embedded: [],
    });
    expect(text).toContain('a \\u003cb\\u003e \\u0026 c');
    expect(parse(text).packages.find((p) => p.name === 'pretend-baselayout')?.originator).toBe(
      'Person: X (x@y)',
    );
  });
});

describe('input checks', () => {
  it.each([
    ['manifest', { manifestDigest: 'sha256:abc' }, 'SBOM_BAD_DIGEST'],
    ['layer', { layerDigest: `sha512:${'a'.repeat(64)}` }, 'SBOM_BAD_DIGEST'],
    ['uppercase', { layerDigest: `sha256:${'A'.repeat(64)}` }, 'SBOM_BAD_DIGEST'],
    ['negative date', { buildDate: -1 }, 'SBOM_BAD_INPUT'],
    ['fractional date', { buildDate: 1.5 }, 'SBOM_BAD_INPUT'],
    ['year 10000', { buildDate: 253_402_300_800 }, 'SBOM_BAD_INPUT'],
  ])('refuses a bad %s', (_what, change, code) => {
    expect(() => imageSbom({ ...goldenImageInput('x86_64'), ...change })).toThrow(
      expect.objectContaining({ code }),
    );
  });

  it('refuses an index without images', () => {
    expect(() =>
      indexSbom({ indexDigest: GOLDEN.index, imageName: 'x', buildDate: 0, toolVersion: '0', images: [] }),
    ).toThrow(expect.objectContaining({ code: 'SBOM_BAD_INPUT' }));
  });

  it('refuses a package without a name', () => {
    const base = goldenImageInput('x86_64');
    expect(() => imageSbom({ ...base, packages: [{ ...base.packages[0]!, name: '' }] })).toThrow(SbomError);
  });

  it('refuses an empty package SBOM name', () => {
    expect(() =>
      packageSbom({
        name: ' ',
        version: '1-r0',
        arch: 'x86_64',
        namespace: 'wolfi',
        buildDate: 0,
        toolVersion: '0',
      }),
    ).toThrow(expect.objectContaining({ code: 'SBOM_BAD_INPUT' }));
  });

  it('writes the latest representable date', () => {
    expect(
      parse(imageSbom({ ...goldenImageInput('x86_64'), buildDate: 253_402_300_799 })).creationInfo.created,
    ).toBe('9999-12-31T23:59:59Z');
  });
});

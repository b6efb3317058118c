import { describe, expect, it } from 'vitest';
import { imageSbom } from '@tk/sbom';
import { compareSbom, parsePurl, parseSbom, sbomFileName } from './sbom.ts';

const enc = (value: unknown): Uint8Array =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
const MANIFEST = `sha256:${'ab'.repeat(32)}`;

/** An SBOM as tk writes it (the same function `tk apko build` calls). */
function tkSbom(packages: { name: string; version: string }[]): Uint8Array {
  return enc(
    imageSbom({
      arch: 'x86_64',
      platform: { architecture: 'amd64' },
      imageName: 'hello',
      manifestDigest: MANIFEST,
      layerDigest: `sha256:${'cd'.repeat(32)}`,
      buildDate: 0,
      packages: packages.map((p) => ({
        ...p,
        arch: 'x86_64',
        checksum: 'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
        namespace: 'wolfi',
      })),
      embedded: [],
      toolVersion: '0.1.0',
    }),
  );
}

describe('parsePurl', () => {
  it.each([
    [
      'pkg:apk/wolfi/libstdc%2B%2B@13.2.0-r1?arch=x86_64',
      { type: 'apk', path: ['wolfi', 'libstdc++'], version: '13.2.0-r1', qualifiers: { arch: 'x86_64' } },
    ],
    [
      'pkg:oci/hello@sha256:abc?mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson#sub',
      {
        type: 'oci',
        path: ['hello'],
        version: 'sha256:abc',
        qualifiers: { mediatype: 'application/vnd.oci.image.manifest.v1+json' },
      },
    ],
    ['pkg:apk/name', { type: 'apk', path: ['name'], qualifiers: {} }],
    ['http://example.com', undefined],
    ['pkg:apk/%E0%A4%A@1', undefined],
    ['pkg:apk/x@%ZZ', undefined],
    ['pkg:', undefined],
    [`pkg:apk/${'a'.repeat(5000)}`, undefined],
  ])('%s', (purl, expected) => {
    expect(parsePurl(purl)).toEqual(expected);
  });
});

describe('parseSbom and compareSbom', () => {
  const installed = [
    { name: 'hello', version: '2.10-r0' },
    { name: 'libstdc++', version: '13.2.0-r1' },
  ];

  it("reads tk's own SBOM and finds it agrees", () => {
    const sbom = parseSbom(tkSbom(installed));
    expect(sbom).toEqual({ apk: installed, manifests: [MANIFEST] });
    expect(
      compareSbom(
        installed,
        sbom as Exclude<typeof sbom, { invalid: string }>,
        MANIFEST,
        'sbom-x86_64.spdx.json',
      ),
    ).toEqual([]);
  });

  it('names the missing and the extra packages, and another image', () => {
    const sbom = parseSbom(
      tkSbom([installed[0]!, { name: 'evil', version: '1' }, { name: 'hello', version: '2.10-r0' }]),
    );
    if ('invalid' in sbom) throw new Error(sbom.invalid);
    const findings = compareSbom(installed, sbom, `sha256:${'ef'.repeat(32)}`, 'f.json');
    expect(findings.map((f) => `${f.code} ${f.package ?? ''}`)).toEqual([
      'SBOM_MISSING_PACKAGE libstdc++-13.2.0-r1',
      'SBOM_EXTRA_PACKAGE evil-1',
      'SBOM_OTHER_IMAGE ',
    ]);
    expect(findings[2]).toMatchObject({ expected: `sha256:${'ef'.repeat(32)}`, actual: MANIFEST });
  });

  it('a version difference is one missing and one extra package', () => {
    const sbom = parseSbom(tkSbom([{ name: 'hello', version: '2.9-r0' }, installed[1]!]));
    if ('invalid' in sbom) throw new Error(sbom.invalid);
    expect(compareSbom(installed, sbom, MANIFEST, 'f').map((f) => f.code)).toEqual([
      'SBOM_MISSING_PACKAGE',
      'SBOM_EXTRA_PACKAGE',
    ]);
  });

  describe('hostile documents', () => {
    it.each([
      ['not json', 'not JSON'],
      ['[]', 'not a JSON object'],
      ['{}', 'no "spdxVersion"'],
      ['{"spdxVersion":"SPDX-2.3"}', 'no "packages" list'],
      ['{"spdxVersion":"SPDX-2.3","packages":{}}', 'no "packages" list'],
      ['\u0000'.repeat(3), 'not JSON'],
    ])('%j is invalid', (text, reason) => {
      const result = parseSbom(enc(text));
      expect('invalid' in result && result.invalid).toMatch(reason);
    });

    it('refuses an oversized document and skips junk entries', () => {
      expect(parseSbom(new Uint8Array(64 * 1024 * 1024 + 1))).toEqual({
        invalid: expect.stringMatching(/more than/) as string,
      });
      const junk = parseSbom(
        enc({
          spdxVersion: 'SPDX-2.3',
          packages: [
            null,
            7,
            { externalRefs: 'x' },
            {
              externalRefs: [
                null,
                { referenceType: 'purl', referenceLocator: 5 },
                { referenceType: 'cpe23Type', referenceLocator: 'pkg:apk/x/y@1' },
              ],
            },
            { externalRefs: [{ referenceType: 'purl', referenceLocator: 'pkg:apk/ns/ok@1' }] },
            {
              externalRefs: [
                {
                  referenceType: 'purl',
                  referenceLocator:
                    'pkg:oci/img@sha256:x?mediaType=application%2Fvnd.oci.image.layer.v1.tar%2Bgzip',
                },
              ],
            },
          ],
        }),
      );
      expect(junk).toEqual({ apk: [{ name: 'ok', version: '1' }], manifests: [] });
    });

    it('survives deeply nested JSON', () => {
      const deep = `{"spdxVersion":"SPDX-2.3","packages":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`;
      const result = parseSbom(enc(deep));
      expect('invalid' in result ? 'invalid' : result.apk).toEqual([]);
    });
  });
});

it('names SBOM files as tk apko build does', () => {
  expect(sbomFileName('aarch64')).toBe('sbom-aarch64.spdx.json');
});

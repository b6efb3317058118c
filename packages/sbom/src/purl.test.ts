import { describe, expect, it } from 'vitest';
import { escapeQualifierValue, formatPurl } from './purl.ts';

describe('formatPurl', () => {
  it("writes apko's OCI purls byte for byte", () => {
    // test-fixtures/real/apko-testrepo/golden/sboms/sbom-x86_64.spdx.json (before Go's \u0026 escaping)
    expect(
      formatPurl({
        type: 'oci',
        name: 'golden',
        version: 'sha256:69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4',
        qualifiers: { os: 'linux', mediaType: 'application/vnd.oci.image.manifest.v1+json', arch: 'amd64' },
      }),
    ).toBe(
      'pkg:oci/golden@sha256:69f0237c7f8cf0b8a329d1bf1d6870c870c4ec323e39d3a6da59596632d0f2f4?arch=amd64&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux',
    );
  });

  it('percent-encodes names as trivy and syft do, keeping ":"', () => {
    expect(
      formatPurl({
        type: 'apk',
        namespace: 'alpine',
        name: 'libstdc++',
        version: '12.2.1_git20220924-r4',
        qualifiers: { arch: 'x86_64' },
      }),
    ).toBe('pkg:apk/alpine/libstdc%2B%2B@12.2.1_git20220924-r4?arch=x86_64');
    expect(formatPurl({ type: 'apk', namespace: 'x', name: 'so:libc.so.6', version: '1 2' })).toBe(
      'pkg:apk/x/so:libc.so.6@1%202',
    );
  });

  it('drops empty parts and sorts qualifiers', () => {
    expect(
      formatPurl({
        type: 'generic',
        namespace: '',
        name: 'a',
        version: '',
        qualifiers: { z: '1', a: '', b: undefined, c: '2' },
      }),
    ).toBe('pkg:generic/a?c=2&z=1');
  });

  it('writes a GitHub purl with a subpath like melange', () => {
    expect(
      formatPurl({
        type: 'github',
        namespace: 'wolfi-dev',
        name: 'os',
        version: 'c0ffee',
        subpath: 'testdata/crane.yaml',
      }),
    ).toBe('pkg:github/wolfi-dev/os@c0ffee#testdata/crane.yaml');
  });

  it('keeps "." and ".." out of subpaths and escapes namespace segments', () => {
    expect(formatPurl({ type: 'github', namespace: 'a b/c', name: 'n', subpath: '../x/./y' })).toBe(
      'pkg:github/a%20b/c/n#x/y',
    );
  });
});

describe('escapeQualifierValue', () => {
  it("escapes like Go's url.QueryEscape except for the space", () => {
    expect(escapeQualifierValue('a/b+c:d e~_.-')).toBe('a%2Fb%2Bc%3Ad%20e~_.-');
    expect(escapeQualifierValue('é')).toBe('%C3%A9');
  });
});

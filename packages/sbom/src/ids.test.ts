import { describe, expect, it } from 'vitest';
import { IdAllocator, SPDX_ID_PATTERN, toIdText } from './ids.ts';

describe('toIdText', () => {
  it.each([
    ['sha256:69f0', 'sha256-69f0'],
    ['testdata/build_configs/crane.yaml', 'testdataC47buildC95configsC47crane.yaml'],
    ['libstdc++', 'libstdcC43C43'],
    ['so:libc.so.6', 'so-libc.so.6'],
    ['a b', 'aC32b'],
    ['é', 'C195C169'],
    ['1.0.0-r0', '1.0.0-r0'],
  ])('%j -> %j (apko stringToIdentifier)', (input, expected) => {
    expect(toIdText(input)).toBe(expected);
  });

  it('follows melange for package SBOM ids (slashes become dashes, code points not bytes)', () => {
    // test-fixtures/real/sbom/melange-crane-0.20.2-r1.spdx.json
    expect(`SPDXRef-Package-Melange-${toIdText('testdata/build_configs/crane.yaml', 'melange')}-c0ffee`).toBe(
      'SPDXRef-Package-Melange-testdata-buildC95configs-crane.yaml-c0ffee',
    );
    expect(toIdText('é+', 'melange')).toBe('C233C43');
  });
});

describe('IdAllocator', () => {
  it('keeps the first claim and suffixes later ones with a content hash', () => {
    const alloc = new IdAllocator();
    expect(alloc.claim('SPDXRef-Package-a', 'one')).toBe('SPDXRef-Package-a');
    const second = alloc.claim('SPDXRef-Package-a', 'two');
    const third = alloc.claim('SPDXRef-Package-a', 'three');
    expect(second).toMatch(/^SPDXRef-Package-a-[0-9a-f]{12}$/);
    expect(new Set(['SPDXRef-Package-a', second, third]).size).toBe(3);
    for (const id of [second, third]) expect(id).toMatch(SPDX_ID_PATTERN);
  });

  it('gives the same suffix for the same content whatever else was claimed before', () => {
    const a = new IdAllocator();
    a.claim('X', 'first');
    const fromA = a.claim('X', 'mine');
    const b = new IdAllocator();
    b.claim('X', 'other');
    b.claim('Y', 'unrelated');
    expect(b.claim('X', 'mine')).toBe(fromA);
  });

  it('counts up when even the suffixed id is taken', () => {
    const alloc = new IdAllocator();
    alloc.claim('X', 'same');
    const one = alloc.claim('X', 'same');
    const two = alloc.claim('X', 'same');
    expect(two).toBe(`${one}-2`);
    expect(alloc.has(two)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { LicenseRegistry, normalizeLicenseExpression } from './license.ts';

describe('normalizeLicenseExpression', () => {
  it.each([
    ['MIT', 'MIT'],
    ['GPL-2.0+', 'GPL-2.0+'],
    ['  MIT   AND  BSD-3-Clause ', 'MIT AND BSD-3-Clause'],
    [
      'GPL-2.0-or-later AND (LGPL-2.1-only OR BSD-3-Clause)',
      'GPL-2.0-or-later AND (LGPL-2.1-only OR BSD-3-Clause)',
    ],
    ['( MIT or Apache-2.0 ) and Zlib', '(MIT OR Apache-2.0) AND Zlib'],
    ['GPL-2.0-only WITH Classpath-exception-2.0', 'GPL-2.0-only WITH Classpath-exception-2.0'],
    ['LicenseRef-ubuntu-font', 'LicenseRef-ubuntu-font'],
    ['DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2', 'DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2'],
    ['((MIT))', '((MIT))'],
  ])('%j is valid: %j', (input, expected) => {
    expect(normalizeLicenseExpression(input)).toBe(expected);
  });

  it.each([
    'MIT/X11',
    'BSD 3-Clause',
    'MIT AND',
    'AND MIT',
    '(MIT',
    'MIT)',
    'MIT WITH',
    'MIT WITH (GPL)',
    'GPL_2',
    '',
    '()',
    'MIT WITH LicenseRef-x:y',
    `${'('.repeat(40)}MIT${')'.repeat(40)}`,
    'MIT OR '.repeat(1000) + 'MIT',
  ])('%j is not an expression', (input) => {
    expect(normalizeLicenseExpression(input)).toBeUndefined();
  });
});

describe('LicenseRegistry', () => {
  it('maps empty to NOASSERTION and keeps NONE', () => {
    const r = new LicenseRegistry();
    expect(r.licenseField(undefined)).toBe('NOASSERTION');
    expect(r.licenseField('  ')).toBe('NOASSERTION');
    expect(r.licenseField('NONE')).toBe('NONE');
    expect(r.list()).toEqual([]);
  });

  it('turns an invalid string into one LicenseRef with the original text', () => {
    const r = new LicenseRegistry();
    const id = r.licenseField('MIT/X11');
    expect(id).toBe('LicenseRef-MITC47X11');
    expect(r.licenseField('MIT/X11')).toBe(id);
    expect(r.list()).toEqual([expect.objectContaining({ licenseId: id, extractedText: 'MIT/X11' })]);
  });

  it('never gives two texts the same id', () => {
    const r = new LicenseRegistry();
    r.add({ licenseId: 'LicenseRef-MITC47X11', extractedText: 'another text' });
    const id = r.licenseField('MIT/X11');
    expect(id).toMatch(/^LicenseRef-MITC47X11-[0-9a-f]{12}$/);
    expect(r.get(id)?.extractedText).toBe('MIT/X11');
  });

  it('hashes long strings into a short id', () => {
    const r = new LicenseRegistry();
    const id = r.licenseField('some license text '.repeat(20));
    expect(id).toMatch(/^LicenseRef-[0-9a-f]{16}$/);
  });

  it('reports whether an added license is new, the same or a conflict', () => {
    const r = new LicenseRegistry();
    expect(r.add({ licenseId: 'LicenseRef-a', extractedText: 'x' })).toBe('added');
    expect(r.add({ licenseId: 'LicenseRef-a', extractedText: 'x' })).toBe('same');
    expect(r.add({ licenseId: 'LicenseRef-a', extractedText: 'y' })).toBe('conflict');
    expect(r.get('LicenseRef-a')?.extractedText).toBe('x');
  });
});

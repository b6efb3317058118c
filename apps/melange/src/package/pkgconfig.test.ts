import { describe, expect, it } from 'vitest';
import { seededRandom } from '@tk/core';
import { parseModuleList, parsePkgConfig } from './pkgconfig.ts';

describe('parsePkgConfig', () => {
  it('expands variables and reads properties case-insensitively', () => {
    const pc = parsePkgConfig(
      [
        '# comment',
        'prefix=/usr',
        'exec_prefix=${prefix}',
        'libdir=${exec_prefix}/lib # trailing comment',
        'gtkver=3.0',
        '',
        'Name: foo',
        'VERSION: 1.2.3',
        'Libs: -L${libdir} -lfoo',
        'Requires: glib-2.0 >= 2.50, gtk+-${gtkver}',
        'Requires.private: zlib,libpng16>1.6 bar',
        'Requires.internal: baz = 1',
      ].join('\n'),
    );
    expect(pc.variables.get('libdir')).toBe('/usr/lib');
    expect(pc.properties.get('version')).toBe('1.2.3');
    expect(pc.properties.get('libs')).toBe('-L/usr/lib -lfoo');
    expect(pc.requires).toEqual(['glib-2.0', 'gtk+-3.0', 'zlib', 'libpng16', 'bar', 'baz']);
    expect(pc.problems).toEqual([]);
  });

  it('reports unknown variables and keeps going', () => {
    const pc = parsePkgConfig('Requires: ${missing}foo\n');
    expect(pc.requires).toEqual(['foo']);
    expect(pc.problems[0]).toMatch(/missing/);
  });

  it('bounds exponential variable expansion (hostile input)', () => {
    const lines = ['v0=xxxxxxxxxxxxxxxx'];
    for (let i = 1; i < 40; i++) lines.push(`v${i}=\${v${i - 1}}\${v${i - 1}}`);
    lines.push('Requires: ${v39}');
    const pc = parsePkgConfig(lines.join('\n'));
    expect(pc.variables.get('v39')!.length).toBeLessThanOrEqual(64 * 1024);
    expect(pc.problems.some((p) => /cut/.test(p))).toBe(true);
  });

  it('never throws on random text', () => {
    const random = seededRandom(3);
    const alphabet = 'ab=:{}$#\\,<>! \n\t.-Requires';
    for (let round = 0; round < 200; round++) {
      let text = '';
      for (let i = 0; i < 200; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      expect(() => parsePkgConfig(text)).not.toThrow();
    }
  });
});

describe('parseModuleList', () => {
  it.each([
    ['a b c', ['a', 'b', 'c']],
    ['a>=1,b<2 , c != 3', ['a', 'b', 'c']],
    ['', []],
    ['x = 1.0 y', ['x', 'y']],
  ])('%j → %j', (list, names) => {
    expect(parseModuleList(list)).toEqual(names);
  });
});

import { describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import {
  apkArchOf,
  buildSubstitutionMap,
  findReferences,
  goarchOf,
  layerLookup,
  substitute,
  substitutePartial,
  suggestVariables,
  tripletsOf,
} from './subst.ts';

function caught(fn: () => unknown): MelangeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MelangeError) return error;
    throw error;
  }
  throw new Error('expected a MelangeError');
}

const pkg = { name: 'zstd', version: '1.5.7', epoch: 8, description: 'the Zstandard compression algorithm' };

describe('buildSubstitutionMap', () => {
  it('gives every variable of melange.md §3.1 in the main context', () => {
    const m = buildSubstitutionMap({
      package: pkg,
      arch: 'x86_64',
      vars: { soversion: '1', 'pypi-package': 'pyyaml' },
      packageNames: ['zstd', 'zstd-dev', 'libzstd1'],
      declaredOptions: ['docs', 'static'],
      enabledOptions: ['static'],
    });
    expect(Object.fromEntries(m)).toEqual({
      'package.name': 'zstd',
      'package.version': '1.5.7',
      'package.epoch': '8',
      'package.full-version': '1.5.7-r8',
      'package.description': 'the Zstandard compression algorithm',
      'package.srcdir': '/home/build',
      'targets.outdir': '/home/build/melange-out',
      'targets.destdir': '/home/build/melange-out/zstd',
      'targets.contextdir': '/home/build/melange-out/zstd',
      'targets.package.zstd': '/home/build/melange-out/zstd',
      'targets.package.zstd-dev': '/home/build/melange-out/zstd-dev',
      'targets.package.libzstd1': '/home/build/melange-out/libzstd1',
      'context.name': 'zstd',
      'host.triplet.gnu': 'x86_64-pc-linux-gnu',
      'host.triplet.rust': 'x86_64-unknown-linux-gnu',
      'cross.triplet.gnu.glibc': 'x86_64-pc-linux-gnu',
      'cross.triplet.gnu.musl': 'x86_64-pc-linux-musl',
      'cross.triplet.rust.glibc': 'x86_64-unknown-linux-gnu',
      'cross.triplet.rust.musl': 'x86_64-unknown-linux-musl',
      'build.arch': 'x86_64',
      'build.goarch': 'amd64',
      'vars.soversion': '1',
      'vars.pypi-package': 'pyyaml',
      'options.docs.enabled': 'false',
      'options.static.enabled': 'true',
    });
    expect(m.has('subpkg.name')).toBe(false);
    expect(m.has('targets.subpkgdir')).toBe(false);
  });

  it('switches context.name, targets.contextdir and adds subpkg.* in a subpackage context', () => {
    const m = buildSubstitutionMap({
      package: pkg,
      arch: 'aarch64',
      subpackage: 'zstd-dev',
      packageNames: ['zstd', 'zstd-dev'],
    });
    expect(m.get('subpkg.name')).toBe('zstd-dev');
    expect(m.get('context.name')).toBe('zstd-dev');
    expect(m.get('targets.subpkgdir')).toBe('/home/build/melange-out/zstd-dev');
    expect(m.get('targets.contextdir')).toBe('/home/build/melange-out/zstd-dev');
    expect(m.get('targets.destdir')).toBe('/home/build/melange-out/zstd');
    expect(m.get('host.triplet.gnu')).toBe('aarch64-unknown-linux-gnu');
    expect(m.get('host.triplet.rust')).toBe('aarch64-unknown-linux-gnu');
    expect(m.get('cross.triplet.gnu.musl')).toBe('aarch64-unknown-linux-musl');
    expect(m.get('build.goarch')).toBe('arm64');
  });

  it('adds inputs.* and range.* when given, and a musl host flavour', () => {
    const m = buildSubstitutionMap({
      package: pkg,
      arch: 'amd64',
      hostTripletLibc: 'musl',
      inputs: { opts: '-S build' },
      range: { key: '3.10', value: '310' },
    });
    expect(m.get('inputs.opts')).toBe('-S build');
    expect(m.get('range.key')).toBe('3.10');
    expect(m.get('range.value')).toBe('310');
    expect(m.get('host.triplet.gnu')).toBe('x86_64-pc-linux-musl');
    expect(m.get('host.triplet.rust')).toBe('x86_64-unknown-linux-musl');
    expect(m.get('cross.triplet.gnu.glibc')).toBe('x86_64-pc-linux-gnu');
    expect(m.get('build.arch')).toBe('x86_64');
    expect(m.get('package.description')).toBe('the Zstandard compression algorithm');
  });

  it('gives an empty package.description when there is none', () => {
    expect(
      buildSubstitutionMap({ package: { name: 'a', version: '1', epoch: 0 }, arch: 'x86_64' }).get(
        'package.description',
      ),
    ).toBe('');
  });
});

describe('triplets and goarch', () => {
  it.each([
    ['x86_64', 'x86_64-pc-linux-gnu', 'x86_64-unknown-linux-gnu', 'amd64'],
    ['aarch64', 'aarch64-unknown-linux-gnu', 'aarch64-unknown-linux-gnu', 'arm64'],
    ['x86', 'i486-pc-linux-gnu', 'i686-unknown-linux-gnu', '386'],
    ['armv7', 'armv7l-unknown-linux-gnueabihf', 'armv7-unknown-linux-gnueabihf', 'arm'],
    ['armhf', 'arm-unknown-linux-gnueabihf', 'arm-unknown-linux-gnueabihf', 'arm'],
    ['ppc64le', 'powerpc64le-unknown-linux-gnu', 'powerpc64le-unknown-linux-gnu', 'ppc64le'],
    ['s390x', 's390x-ibm-linux-gnu', 's390x-unknown-linux-gnu', 's390x'],
    ['riscv64', 'riscv64-unknown-linux-gnu', 'riscv64gc-unknown-linux-gnu', 'riscv64'],
    ['loongarch64', 'loongarch64-unknown-linux-gnu', 'loongarch64-unknown-linux-gnu', 'loong64'],
  ])('%s → %s / %s, GOARCH %s', (arch, gnu, rust, goarch) => {
    expect(tripletsOf(arch, 'gnu')).toEqual({ gnu, rust });
    expect(tripletsOf(arch, 'musl')).toEqual({
      gnu: gnu.replace('gnu', 'musl'),
      rust: rust.replace('gnu', 'musl'),
    });
    expect(goarchOf(arch)).toBe(goarch);
  });

  it('accepts OCI names and rejects unknown arches with a code', () => {
    expect(apkArchOf('arm64')).toBe('aarch64');
    expect(apkArchOf('arm/v7')).toBe('armv7');
    expect(caught(() => apkArchOf('mips')).code).toBe('MELANGE_UNKNOWN_ARCH');
    expect(caught(() => buildSubstitutionMap({ package: pkg, arch: 'sparc' })).code).toBe(
      'MELANGE_UNKNOWN_ARCH',
    );
  });
});

describe('substitute', () => {
  const vars = new Map([
    ['package.name', 'zstd'],
    ['targets.destdir', '/home/build/melange-out/zstd'],
    ['vars.loop', '${{package.name}}'],
    ['vars.empty', ''],
  ]);

  it('replaces references, with or without whitespace inside the braces', () => {
    expect(
      substitute('a ${{package.name}} b ${{ package.name }} c ${{\tpackage.name\n}}', vars, 'runs'),
    ).toBe('a zstd b zstd c zstd');
    expect(substitute('mkdir -p "${{targets.destdir}}/usr"', vars, 'runs')).toBe(
      'mkdir -p "/home/build/melange-out/zstd/usr"',
    );
    expect(substitute('x${{vars.empty}}y', vars, 'runs')).toBe('xy');
  });

  it('leaves text without references alone, including shell ${…} and ${ {', () => {
    const text = 'echo ${HOME} $((1+2)) ${ {x}} $$ {{y}}';
    expect(substitute(text, vars, 'runs')).toBe(text);
  });

  it('does not substitute a value again (no recursion)', () => {
    expect(substitute('${{vars.loop}}', vars, 'runs')).toBe('${{package.name}}');
  });

  it('reports an unknown variable by name and place, with close known names', () => {
    const err = caught(() => substitute('cd ${{targets.destdri}}', vars, 'zstd.yaml: pipeline[2].runs'));
    expect(err.code).toBe('MELANGE_UNKNOWN_VARIABLE');
    expect(err.message).toContain('${{targets.destdri}}');
    expect(err.message).toContain('pipeline[2].runs');
    expect(err.hint).toContain('${{targets.destdir}}');
    expect(err.data).toEqual({ where: 'zstd.yaml: pipeline[2].runs', variables: ['targets.destdri'] });
  });

  it('names every unknown variable of the text once', () => {
    const err = caught(() => substitute('${{a}} ${{b}} ${{a}} ${{package.name}}', vars, 'runs'));
    expect(err.data?.['variables']).toEqual(['a', 'b']);
  });

  it('rejects malformed references with a code', () => {
    for (const text of [
      '${{}}',
      '${{ }}',
      '${{package.name',
      '${{package name}}',
      '${{package.name}',
      '${{$x}}',
    ]) {
      expect(caught(() => substitute(text, vars, 'runs')).code).toBe('MELANGE_BAD_SUBSTITUTION');
    }
  });

  it('handles hostile input in linear time', () => {
    const many = '${{package.name}}'.repeat(20000);
    expect(substitute(many, vars, 'runs')).toBe('zstd'.repeat(20000));
    const open = '${{'.repeat(20000);
    expect(caught(() => substitute(open, vars, 'runs')).code).toBe('MELANGE_BAD_SUBSTITUTION');
  });
});

describe('substitutePartial', () => {
  it('replaces known names and keeps unknown references as written', () => {
    const m = new Map([['range.key', '3.10']]);
    expect(substitutePartial('py${{range.key}}-${{ vars.x }}', m, 'name')).toBe('py3.10-${{ vars.x }}');
  });
});

describe('findReferences and suggestions', () => {
  it('finds references with offsets', () => {
    expect(findReferences('a${{x}}b${{ y.z }}', 'w')).toEqual([
      { name: 'x', start: 1, end: 7 },
      { name: 'y.z', start: 8, end: 18 },
    ]);
  });

  it('suggests near names and names with the same last segment', () => {
    const known = ['package.version', 'package.name', 'vars.version', 'targets.destdir'];
    expect(suggestVariables('package.verison', known)[0]).toBe('package.version');
    expect(suggestVariables('version', known)).toEqual(
      expect.arrayContaining(['package.version', 'vars.version']),
    );
    expect(suggestVariables('zzzzzz', known)).toEqual([]);
  });

  it('layers scopes without copying', () => {
    const base = new Map([
      ['a', '1'],
      ['b', '2'],
    ]);
    const l = layerLookup(base, new Map([['b', '3']]));
    expect(l.get('a')).toBe('1');
    expect(l.get('b')).toBe('3');
    expect([...l.keys()].sort()).toEqual(['a', 'b']);
  });
});

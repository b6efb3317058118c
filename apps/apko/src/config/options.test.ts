import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { parseImageConfig } from './parse.ts';
import { applyBuildOptions, parseAnnotationFlags, parseArchFlags } from './options.ts';

const base = parseImageConfig(
  [
    'contents:',
    '  keyring: [a.rsa.pub]',
    '  repositories: [https://r/os]',
    '  packages: [busybox]',
    'annotations: { a: file, b: file }',
    'archs: [x86_64]',
    '',
  ].join('\n'),
);
const noArchs = parseImageConfig('contents:\n  packages: [busybox]\n');

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseArchFlags', () => {
  it.each([
    [['x86_64'], ['amd64']],
    [['x86_64,aarch64'], ['amd64', 'arm64']],
    [
      ['arm64', 'amd64', 'x86_64'],
      ['amd64', 'arm64'],
    ],
    [['armv7, armhf'], ['arm/v6', 'arm/v7']],
    [
      ['arm/v7', '386', 'x86'],
      ['386', 'arm/v7'],
    ],
    [['all'], ['386', 'amd64', 'arm/v6', 'arm/v7', 'arm64', 'loong64', 'ppc64le', 'riscv64', 's390x']],
    [['loongarch64,ppc64le,s390x,riscv64'], ['loong64', 'ppc64le', 'riscv64', 's390x']],
  ])('%j → %j', (values, expected) => {
    expect(parseArchFlags(values)).toEqual(expected);
  });

  it('resolves host from process.arch or a name', () => {
    expect(parseArchFlags(['host'], 'x64')).toEqual(['amd64']);
    expect(parseArchFlags(['host,amd64'], 'arm64')).toEqual(['amd64', 'arm64']);
    expect(parseArchFlags(['host'], 'aarch64')).toEqual(['arm64']);
  });

  it('lists every unknown name at once', () => {
    const error = thrown(() => parseArchFlags(['sparc,amd64', 'mips', 'host']));
    expect(error.code).toBe('CONFIG_INVALID');
    const issues = error.data?.issues as ConfigIssue[];
    expect(issues.map((i) => i.path)).toEqual(['--arch', '--arch', '--arch']);
    expect(error.message).toContain('"sparc"');
    expect(error.message).toContain('"mips"');
    expect(error.message).toContain('host architecture is unknown');
  });
});

describe('parseAnnotationFlags', () => {
  it('splits at the first colon', () => {
    expect(parseAnnotationFlags(['org.opencontainers.image.url:https://x/y', 'a:b:c'])).toEqual({
      'org.opencontainers.image.url': 'https://x/y',
      a: 'b:c',
    });
  });

  it('applies apko rules, all problems at once', () => {
    const error = thrown(() => parseAnnotationFlags(['novalue', 'Foo:bar', 'a:', 'b:1', 'b:2']));
    expect(error.code).toBe('CONFIG_INVALID');
    expect((error.data?.issues as ConfigIssue[]).length).toBe(4);
  });
});

describe('applyBuildOptions', () => {
  it('returns the configuration unchanged (but a copy) without flags', () => {
    const out = applyBuildOptions(base, {});
    expect(out).toEqual(base);
    expect(out).not.toBe(base);
    expect(out.contents).not.toBe(base.contents);
  });

  it('lets --arch replace archs, in both spellings and comma lists', () => {
    expect(applyBuildOptions(base, { archs: ['aarch64,amd64'] }).archs).toEqual(['amd64', 'arm64']);
    expect(applyBuildOptions(base, { archs: ['arm/v7'] }).archs).toEqual(['arm/v7']);
    expect(applyBuildOptions(base, { archs: [] }).archs).toEqual(['amd64']);
    expect(applyBuildOptions(base, { archs: [''] }).archs).toEqual(['amd64']);
  });

  it('defaults to the host architecture, not all nine', () => {
    expect(applyBuildOptions(noArchs, { hostArch: 'x64' }).archs).toEqual(['amd64']);
    expect(applyBuildOptions(noArchs, { hostArch: 'arm64' }).archs).toEqual(['arm64']);
    expect(applyBuildOptions(noArchs, { archs: ['all'] }).archs).toHaveLength(9);
    expect(applyBuildOptions(base, { hostArch: 'arm64' }).archs).toEqual(['amd64']);
  });

  it('needs some architecture (CONFIG_NO_ARCHS)', () => {
    expect(thrown(() => applyBuildOptions(noArchs, {})).code).toBe('CONFIG_NO_ARCHS');
    expect(thrown(() => applyBuildOptions(noArchs, { hostArch: 'mips' })).code).toBe('CONFIG_NO_ARCHS');
  });

  it('appends keys, repositories and packages without duplicates', () => {
    const out = applyBuildOptions(base, {
      keyringAppend: ['a.rsa.pub', 'b.rsa.pub'],
      repositoryAppend: ['https://r/os/', '@local   ./packages/'],
      buildRepositoryAppend: ['./build'],
      packageAppend: ['busybox', 'curl>=8', 'hello@local'],
    });
    expect(out.contents.keyring).toEqual(['a.rsa.pub', 'b.rsa.pub']);
    expect(out.contents.repositories).toEqual(['https://r/os', '@local ./packages']);
    expect(out.contents.build_repositories).toEqual(['./build']);
    expect(out.contents.packages).toEqual(['busybox', 'curl>=8', 'hello@local']);
    expect(base.contents.packages).toEqual(['busybox']);
  });

  it('lets --annotations win over the file', () => {
    expect(applyBuildOptions(base, { annotations: ['b:flag', 'c:flag'] }).annotations).toEqual({
      a: 'file',
      b: 'flag',
      c: 'flag',
    });
    expect(applyBuildOptions(base, { annotations: { a: 'map' } }).annotations).toEqual({
      a: 'map',
      b: 'file',
    });
  });

  it('reports every bad flag value at once', () => {
    const error = thrown(() =>
      applyBuildOptions(base, {
        archs: ['sparc'],
        repositoryAppend: ['@local'],
        buildRepositoryAppend: ['a b c'],
        packageAppend: ['foo==1'],
        keyringAppend: [' '],
        annotations: ['Bad:x'],
      }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    const issues = error.data?.issues as ConfigIssue[];
    expect(issues.map((i) => i.path).sort()).toEqual(
      [
        '--annotations',
        '--arch',
        '--build-repository-append',
        '--keyring-append',
        '--package-append',
        '--repository-append',
      ].sort(),
    );
    for (const issue of issues)
      expect([issue.file, issue.line, issue.column]).toEqual(['<command line>', 0, 0]);
    expect(error.message.split('\n')).toHaveLength(7);
    expect(error.message).toContain('<command line>: --package-append: invalid dependency "foo==1"');
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { formatRepositoryLine, parseRepositoryLine } from './repository.ts';

describe('parseRepositoryLine', () => {
  it.each([
    ['https://packages.wolfi.dev/os', { url: 'https://packages.wolfi.dev/os' }],
    ['https://packages.wolfi.dev/os/', { url: 'https://packages.wolfi.dev/os' }],
    ['./packages', { url: './packages' }],
    ['/work/packages//', { url: '/work/packages' }],
    ['@local ./packages', { tag: 'local', url: './packages' }],
    ['@local   ./packages/', { tag: 'local', url: './packages' }],
    ['@my-repo.1 https://example.com/repo', { tag: 'my-repo.1', url: 'https://example.com/repo' }],
    ['  file:///srv/repo  ', { url: 'file:///srv/repo' }],
  ])('%j', (line, expected) => {
    expect(parseRepositoryLine(line)).toEqual(expected);
    expect(parseRepositoryLine(formatRepositoryLine(parseRepositoryLine(line)))).toEqual(expected);
  });

  it.each([
    '',
    '   ',
    '@local',
    '@ ./packages',
    'local ./packages',
    '@lo/cal ./packages',
    '@a @b ./x',
    'a b c',
    'ftp://example.com/repo',
    'https://',
    '/',
    './pack\0ages',
    'https://x\n@evil y',
  ])('rejects %j with CONFIG_INVALID', (line) => {
    let error: unknown;
    try {
      parseRepositoryLine(line);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG_INVALID');
  });

  it('formats tagged and untagged lines', () => {
    expect(formatRepositoryLine({ tag: 'local', url: './p' })).toBe('@local ./p');
    expect(formatRepositoryLine({ url: './p' })).toBe('./p');
  });
});

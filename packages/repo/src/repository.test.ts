import { describe, expect, it } from 'vitest';
import { RepoError } from './errors.ts';
import { indexUrl, packageUrl, parseRepository, redactUrl } from './repository.ts';

const baseDir = '/work/app';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof RepoError) return error.code;
    throw error;
  }
  return undefined;
}

describe('parseRepository', () => {
  it.each([
    [
      'https://dl-cdn.alpinelinux.org/alpine/v3.19/main',
      undefined,
      'https://dl-cdn.alpinelinux.org/alpine/v3.19/main',
      'https://dl-cdn.alpinelinux.org/alpine/v3.19/main',
    ],
    [
      'https://dl-cdn.alpinelinux.org/alpine/v3.19/main/',
      undefined,
      'https://dl-cdn.alpinelinux.org/alpine/v3.19/main',
      'https://dl-cdn.alpinelinux.org/alpine/v3.19/main',
    ],
    ['http://127.0.0.1:8080/os', undefined, 'http://127.0.0.1:8080/os', 'http://127.0.0.1:8080/os'],
    [
      'HTTPS://Packages.Wolfi.Dev/os//',
      undefined,
      'HTTPS://Packages.Wolfi.Dev/os',
      'https://packages.wolfi.dev/os',
    ],
    ['https://example.com', undefined, 'https://example.com', 'https://example.com/'],
    ['/abs/path', undefined, '/abs/path', 'file:///abs/path'],
    ['/abs/path/', undefined, '/abs/path', 'file:///abs/path'],
    ['./packages', undefined, './packages', 'file:///work/app/packages'],
    ['packages', undefined, 'packages', 'file:///work/app/packages'],
    ['../other/repo', undefined, '../other/repo', 'file:///work/other/repo'],
    ['./a/../b', undefined, './a/../b', 'file:///work/app/b'],
    ['file:///x', undefined, 'file:///x', 'file:///x'],
    ['file:///x/y/', undefined, 'file:///x/y', 'file:///x/y'],
    ['file://localhost/x', undefined, 'file://localhost/x', 'file:///x'],
    ['@local ./packages', 'local', './packages', 'file:///work/app/packages'],
    ['@local\t./packages', 'local', './packages', 'file:///work/app/packages'],
    [
      '  @my-repo_1.2   https://example.com/os  ',
      'my-repo_1.2',
      'https://example.com/os',
      'https://example.com/os',
    ],
    ['@Local /srv/repo', 'Local', '/srv/repo', 'file:///srv/repo'],
    ['./with%percent#hash', undefined, './with%percent#hash', 'file:///work/app/with%25percent%23hash'],
    ['./dir:colon', undefined, './dir:colon', 'file:///work/app/dir:colon'],
    ['/', undefined, '/', 'file:///'],
  ])('%j → tag %j, location %j, url %s', (line, tag, location, url) => {
    const spec = parseRepository(line, { baseDir });
    expect(spec.tag).toBe(tag);
    expect(spec.location).toBe(location);
    expect(spec.url.href).toBe(url);
    expect(spec.line).toBe(line.trim());
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['\t\n', 'only whitespace'],
    ['./my packages', 'space inside a path'],
    ['https://example.com/a b', 'space inside a URL'],
    ['@local ./a ./b', 'three fields'],
    ['@', '@ alone'],
    ['@ ./packages', 'empty tag'],
    ['@local', 'tag without location'],
    ['@lo/cal ./packages', '/ in a tag'],
    ['@lo:cal ./packages', ': in a tag'],
    ['@local @other', 'two tags'],
    ['@tag\u00e9 ./x', 'non-ASCII tag'],
    ['ftp://example.com/os', 'ftp scheme'],
    ['s3://bucket/os', 's3 scheme'],
    ['git+ssh://host/repo', 'git+ssh scheme'],
    ['javascript:alert(1)', 'javascript scheme'],
    ['data:text/plain,x', 'data scheme'],
    ['https://', 'URL without host'],
    ['https:///path', 'URL with empty host'],
    ['https:\\\\example.com\\os', 'backslashes'],
    ['https://exa mple.com', 'space in host'],
    ['https://example.com/os?token=1', 'query'],
    ['https://example.com/os#frag', 'fragment'],
    ['file://remotehost/x', 'remote file URL'],
    ['file:relative', 'relative file URL'],
    ['file:///x/%2e%2e%2fetc', 'encoded slash'],
    ['./pack\u0000ages', 'NUL'],
    ['./pack\u001bages', 'ESC'],
    ['https://example.com/\u007f', 'DEL'],
    ['./x\u0085y', 'C1 control'],
    ['# a comment', 'comment'],
    ['x'.repeat(5000), 'too long'],
  ])('refuses %j (%s)', (line) => {
    expect(code(() => parseRepository(line, { baseDir }))).toBe('REPO_BAD_REPOSITORY');
  });

  it('never echoes credentials in errors, keeps them in the URL for the fetcher', () => {
    let message = '';
    try {
      parseRepository('https://user:s3cret@example.com/os?x', { baseDir });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('user:***@example.com');
    expect(message).not.toContain('s3cret');
    const spec = parseRepository('https://user:s3cret@example.com/os', { baseDir });
    expect(spec.url.password).toBe('s3cret');
    expect(redactUrl(spec.url)).toBe('https://user:***@example.com/os');
    expect(redactUrl('https://tok3n@example.com/os')).toBe('https://***@example.com/os');
    expect(redactUrl('not a url //u:p@h')).toBe('not a url //u:***@h');
  });

  it('resolves relative paths against baseDir only, and requires it to be absolute', () => {
    expect(parseRepository('packages', { baseDir: '/a/b' }).url.href).toBe('file:///a/b/packages');
    expect(parseRepository('packages', { baseDir: '/c' }).url.href).toBe('file:///c/packages');
    expect(() => parseRepository('packages', { baseDir: 'relative' })).toThrow(/baseDir must be absolute/);
  });
});

describe('indexUrl and packageUrl', () => {
  const remote = parseRepository('https://example.com/os/', { baseDir });
  const root = parseRepository('https://example.com/', { baseDir });
  const local = parseRepository('@local ./packages', { baseDir });

  it('builds <repo>/<arch>/APKINDEX.tar.gz and <repo>/<arch>/<name>-<version>.apk', () => {
    expect(indexUrl(remote, 'x86_64').href).toBe('https://example.com/os/x86_64/APKINDEX.tar.gz');
    expect(indexUrl(root, 'aarch64').href).toBe('https://example.com/aarch64/APKINDEX.tar.gz');
    expect(indexUrl(local, 'x86_64').href).toBe('file:///work/app/packages/x86_64/APKINDEX.tar.gz');
    expect(packageUrl(remote, 'x86_64', 'libstdc++', '13.2.1_git20231014-r0').href).toBe(
      'https://example.com/os/x86_64/libstdc++-13.2.1_git20231014-r0.apk',
    );
    expect(packageUrl(local, 'aarch64', 'hello', '2.12-r0').href).toBe(
      'file:///work/app/packages/aarch64/hello-2.12-r0.apk',
    );
  });

  it.each([
    ['../../etc/passwd', '1.0-r0'],
    ['a/b', '1.0-r0'],
    ['..', '1.0-r0'],
    ['', '1.0-r0'],
    ['name', '1.0/../../x'],
    ['name', '1.0 r0'],
    ['name', '1.0?x'],
    ['name', '1.0#x'],
    ['na%2fme', '1.0'],
    ['na\u0000me', '1.0'],
  ])('refuses hostile package name %j version %j', (name, version) => {
    expect(code(() => packageUrl(remote, 'x86_64', name, version))).toBe('REPO_BAD_PACKAGE_NAME');
  });

  it.each(['', '..', 'x86_64/..', 'x 86'])('refuses hostile arch %j', (arch) => {
    expect(code(() => indexUrl(remote, arch))).toBe('REPO_BAD_PACKAGE_NAME');
  });
});

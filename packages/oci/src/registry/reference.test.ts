import { describe, expect, it } from 'vitest';
import { formatReference, isLoopback, isPrivateAddress, parseReference, parseRegistry } from './reference.ts';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  it.each([
    ['hello', 'index.docker.io', 'library/hello', 'latest', undefined],
    ['hello:1.0', 'index.docker.io', 'library/hello', '1.0', undefined],
    ['docker.io/hello', 'index.docker.io', 'library/hello', 'latest', undefined],
    ['docker.io/library/hello:x', 'index.docker.io', 'library/hello', 'x', undefined],
    ['index.docker.io/me/app', 'index.docker.io', 'me/app', 'latest', undefined],
    ['me/app:v1', 'index.docker.io', 'me/app', 'v1', undefined],
    ['ghcr.io/org/team/app:v1.2_3-rc', 'ghcr.io', 'org/team/app', 'v1.2_3-rc', undefined],
    ['localhost/x', 'localhost', 'x', 'latest', undefined],
    ['localhost:5000/x', 'localhost:5000', 'x', 'latest', undefined],
    ['127.0.0.1:43211/a/b:c', '127.0.0.1:43211', 'a/b', 'c', undefined],
    ['[::1]:5000/x:t', '[::1]:5000', 'x', 't', undefined],
    ['[::1]/x', '[::1]', 'x', 'latest', undefined],
    ['[0:0:0:0:0:0:0:1]:5000/x', '[0:0:0:0:0:0:0:1]:5000', 'x', 'latest', undefined],
    ['Registry.Example.COM/x', 'registry.example.com', 'x', 'latest', undefined],
    ['REG/x', 'reg', 'x', 'latest', undefined],
    [`hello@${D}`, 'index.docker.io', 'library/hello', undefined, D],
    [`ghcr.io/a/b:tag@${D}`, 'ghcr.io', 'a/b', 'tag', D],
    ['a/b__c/d-e--f/g.h', 'index.docker.io', 'a/b__c/d-e--f/g.h', 'latest', undefined],
    ['registry.example.com:0443/x', 'registry.example.com:443', 'x', 'latest', undefined],
  ])('%s', (text, registry, repository, tag, digest) => {
    expect(parseReference(text)).toEqual({ registry, repository, tag, digest });
  });

  it.each([
    [''],
    ['Hello'],
    ['hello:'],
    ['hello:-bad'],
    [`hello:${'x'.repeat(129)}`],
    ['hello@sha256:abc'],
    [`hello@sha256:${'AB'.repeat(32)}`],
    [`hello@md5:${'ab'.repeat(16)}`],
    ['ghcr.io/'],
    ['ghcr.io//x'],
    ['ghcr.io/a//b'],
    ['ghcr.io/a/'],
    ['ghcr.io/-a'],
    ['ghcr.io/a..b'],
    ['ghcr.io/a___b'],
    ['host:99999/x'],
    ['host:0/x'],
    ['host:abc/x'],
    ['[::1/x'],
    ['[::1]x/x'],
    ['[nothex]:5000/x'],
    ['-bad.com/x'],
    ['bad_host.com/x'],
    ['a b'],
    ['hello\n'],
    ['héllo'],
    ['x'.repeat(2000)],
    [`ghcr.io/${'a'.repeat(250)}`],
    ['ghcr.io/../etc'],
  ])('rejects %j', (text) => {
    expect(() => parseReference(text)).toThrow(expect.objectContaining({ code: 'REGISTRY_BAD_REFERENCE' }));
  });

  it('formats references fully qualified', () => {
    expect(formatReference(parseReference('hello'))).toBe('index.docker.io/library/hello:latest');
    expect(formatReference(parseReference(`ghcr.io/a@${D}`))).toBe(`ghcr.io/a@${D}`);
    expect(formatReference(parseReference(`[::1]:5000/a:t@${D}`))).toBe(`[::1]:5000/a:t@${D}`);
  });
});

describe('parseRegistry', () => {
  it.each([
    ['ghcr.io', 'ghcr.io'],
    ['docker.io', 'index.docker.io'],
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['LOCALHOST:5000', 'localhost:5000'],
    ['[::1]:5000', '[::1]:5000'],
    ['registry-1.docker.io', 'registry-1.docker.io'],
  ])('%s → %s', (text, host) => {
    expect(parseRegistry(text)).toBe(host);
  });

  it.each([[''], ['a b'], ['host:70000'], ['[::1'], ['under_score.io'], ['x'.repeat(300)]])(
    'rejects %j',
    (text) => {
      expect(() => parseRegistry(text)).toThrow(expect.objectContaining({ code: 'REGISTRY_BAD_REFERENCE' }));
    },
  );
});

describe('isLoopback', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST:5000', true],
    ['127.0.0.1', true],
    ['127.0.0.1:5000', true],
    ['127.255.0.9:1', true],
    ['::1', true],
    ['[::1]', true],
    ['[::1]:5000', true],
    ['0:0:0:0:0:0:0:1', true],
    ['[::ffff:127.0.0.1]:80', true],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['[::2]:5000', false],
    ['localhost.example.com', false],
    ['foo.localhost', false],
    ['127.0.0.1.nip.io', false],
    ['127.1', false],
    ['', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopback(host)).toBe(expected);
  });
});

describe('isPrivateAddress', () => {
  it.each([
    ['10.1.2.3', true],
    ['172.16.0.1:443', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['127.0.0.1', true],
    ['[::1]:8443', true],
    ['fd00:ec2::254', true],
    ['[fe80::1]', true],
    ['8.8.8.8', false],
    ['2001:4860::8888', false],
    ['metadata.google.internal', false],
  ])('%s → %s', (host, expected) => {
    expect(isPrivateAddress(host)).toBe(expected);
  });
});

import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRecordingLogger } from '@tk/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type ConfigErrorCode, type ConfigIssue } from './errors.ts';
import { loadImageConfig, MAX_CONFIG_BYTES } from './load.ts';
import { parseImageConfig } from './parse.ts';

const fixtures = join(import.meta.dirname, '../../../../test-fixtures');
const y = (...lines: string[]): string => `${lines.join('\n')}\n`;

interface Caught {
  code: ConfigErrorCode;
  message: string;
  issues: { path: string; line: number; column: number; code: string; file: string }[];
  raw: ConfigIssue[];
}

function caught(error: unknown): Caught {
  expect(error).toBeInstanceOf(ConfigError);
  const e = error as ConfigError;
  const raw = (e.data?.issues as ConfigIssue[] | undefined) ?? [];
  return {
    code: e.code,
    message: e.message,
    raw,
    issues: raw.map((i) => ({ path: i.path, line: i.line, column: i.column, code: i.code, file: i.file })),
  };
}

function parseError(text: string | Uint8Array): Caught {
  try {
    parseImageConfig(text, { source: 'apko.yaml' });
  } catch (error) {
    return caught(error);
  }
  throw new Error('expected a ConfigError');
}

async function loadError(promise: Promise<unknown>): Promise<Caught> {
  try {
    await promise;
  } catch (error) {
    return caught(error);
  }
  throw new Error('expected a ConfigError');
}

/** An in-memory file system for loadImageConfig. */
function memoryFs(files: Record<string, string | Uint8Array>): (path: string) => Promise<Uint8Array> {
  return async (path) => {
    const content = files[path];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return typeof content === 'string' ? new TextEncoder().encode(content) : content;
  };
}

describe('real configurations', () => {
  const real = [
    'recipes/apko/alpine-base.yaml',
    'recipes/apko/certificates.yaml',
    'recipes/apko/chainguard-images-static-latest.apko.yaml',
    'recipes/apko/nginx.yaml',
    'recipes/apko/wolfi-base.yaml',
    'real/apko-testrepo/apko.yaml',
    'real/apko-testrepo/apko-certs.yaml',
  ];

  it('lists every YAML fixture', async () => {
    const listed = (await readdir(join(fixtures, 'recipes/apko'))).filter((f) => f.endsWith('.yaml'));
    expect(listed.map((f) => `recipes/apko/${f}`).sort()).toEqual(
      real.filter((f) => f.startsWith('recipes/')).sort(),
    );
  });

  it.each(real)('%s loads', async (file) => {
    const path = join(fixtures, file);
    const { config, files } = await loadImageConfig(path);
    expect(files).toHaveLength(1);
    expect(files[0]!.path).toBe(path);
    expect(config.contents.packages.length).toBeGreaterThan(0);
    expect(config.format).toBe('tar');
  });

  it('reads nginx.yaml as apko does', async () => {
    const { config } = await loadImageConfig(join(fixtures, 'recipes/apko/nginx.yaml'));
    expect(config.entrypoint).toEqual({
      type: 'service-bundle',
      services: { nginx: '/usr/sbin/nginx -c /etc/nginx/nginx.conf -g "daemon off;"' },
    });
    expect(config.paths).toEqual([
      { path: '/run/nginx', type: 'directory', uid: 10000, gid: 10000, permissions: 0o755 },
      {
        path: '/etc/nginx/http.d/default.conf',
        type: 'hardlink',
        source: '/etc/nginx/nginx.conf.default',
        uid: 10000,
        gid: 10000,
        permissions: 0o644,
      },
    ]);
    expect(config.accounts).toEqual({
      users: [{ username: 'nginx', uid: 10000, homedir: '/home/nginx' }],
      groups: [{ groupname: 'nginx', gid: 10000, members: [] }],
    });
    expect(config['work-dir']).toBe('/usr/share/nginx');
    expect(config.annotations).toEqual({ foo: 'bar' });
    expect(config.archs).toEqual(['amd64']);
  });

  it('normalises apk arch names and keeps run-as text', async () => {
    const base = await loadImageConfig(join(fixtures, 'real/apko-testrepo/apko.yaml'));
    expect(base.config.archs).toEqual(['amd64', 'arm64']);
    expect(base.config.entrypoint).toEqual({ command: '/bin/sh -l' });
    const stat = await loadImageConfig(
      join(fixtures, 'recipes/apko/chainguard-images-static-latest.apko.yaml'),
    );
    expect(stat.config.accounts['run-as']).toBe('65532');
    expect(stat.config.annotations['org.opencontainers.image.url']).toBe(
      'https://edu.chainguard.dev/chainguard/chainguard-images/reference/static/',
    );
    const certs = await loadImageConfig(join(fixtures, 'real/apko-testrepo/apko-certs.yaml'));
    expect(certs.config.certificates).toEqual({ additional: [], providers: ['custom-ca-certificates'] });
  });
});

describe('repositories', () => {
  it('lets one tag name several repositories (apk-tools pins to any of them)', () => {
    const config = parseImageConfig(
      y(
        'contents:',
        '  repositories: ["./main", "@testing ./overlay1", "@testing ./overlay3"]',
        '  packages: [a@testing]',
      ),
      { source: 'apko.yaml' },
    );
    expect(config.contents.repositories).toEqual(['./main', '@testing ./overlay1', '@testing ./overlay3']);
  });
});

describe('YAML scalars read as apko (yaml.v3) reads them', () => {
  it('gives string fields the source text of numbers and booleans', () => {
    const config = parseImageConfig(
      y(
        'contents:',
        '  packages: [busybox]',
        'environment:',
        '  PORT: 8080',
        '  VERSION: 1.0',
        '  DEBUG: true',
        '  ZERO: 0755',
        '  EMPTY:',
        'accounts:',
        '  run-as: 65532',
        'stop-signal: 15',
        'archs: [386, x86_64]',
        'cmd: ~',
      ),
    );
    expect(config.environment).toEqual({
      PORT: '8080',
      VERSION: '1.0',
      DEBUG: 'true',
      ZERO: '0755',
      EMPTY: '',
    });
    expect(config.accounts['run-as']).toBe('65532');
    expect(config['stop-signal']).toBe('15');
    expect(config.archs).toEqual(['386', 'amd64']);
    expect('cmd' in config).toBe(false);
  });

  it.each([
    ['0o755', 0o755],
    ['0755', 0o755],
    ['493', 0o755],
    ['0x1ed', 0o755],
    ['0b111101101', 0o755],
    ['0', 0],
    ['04755', 0o4755],
    ['0o7777', 0o7777],
  ])('permissions: %s → %i', (written, expected) => {
    const config = parseImageConfig(
      y('paths:', '  - path: /x', '    type: permissions', `    permissions: ${written}`),
    );
    expect(config.paths[0]!.permissions).toBe(expected);
  });

  it('reads YAML 1.1 booleans in boolean fields only', () => {
    const config = parseImageConfig(
      y('paths:', '  - path: /x', '    type: directory', '    recursive: yes', 'environment:', '  A: yes'),
    );
    expect(config.paths[0]!.recursive).toBe(true);
    expect(config.environment.A).toBe('yes');
  });

  it('fills permissions where apko would use 0, but not for links', () => {
    const config = parseImageConfig(
      y(
        'paths:',
        '  - { path: /d, type: directory }',
        '  - { path: /f, type: empty-file }',
        '  - { path: /l, type: symlink, source: /d }',
        '  - { path: /h, type: hardlink, source: /f }',
      ),
    );
    expect(config.paths.map((p) => p.permissions)).toEqual([0o755, 0o644, undefined, undefined]);
  });

  it('accepts JSON, anchors and aliases', () => {
    expect(parseImageConfig('{"contents": {"packages": ["busybox"]}, "archs": ["x86_64"]}').archs).toEqual([
      'amd64',
    ]);
    const config = parseImageConfig(
      y(
        'contents:',
        '  repositories: &r [https://a/os/]',
        '  runtime_repositories: *r',
        '  packages: [busybox]',
      ),
    );
    expect(config.contents.runtime_repositories).toEqual(['https://a/os']);
    expect(config.contents.repositories).toEqual(['https://a/os']);
  });

  it('reads CRLF line endings and a UTF-8 byte order mark', () => {
    const text = '\ufeffcontents:\r\n  packages: [busybox]\r\ncmd: /bin/sh\r\n';
    const config = parseImageConfig(new TextEncoder().encode(text));
    expect(config.contents.packages).toEqual(['busybox']);
    expect(config.cmd).toBe('/bin/sh');
    const error = parseError('contents:\r\n  packages: [a]\r\nbogus: 1\r\n');
    expect(error.issues.map((i) => [i.path, i.line, i.column])).toEqual([['bogus', 3, 1]]);
  });

  it('applies defaults', () => {
    const config = parseImageConfig(y('contents:', '  packages: [busybox]'));
    expect(config).toEqual({
      contents: {
        repositories: [],
        build_repositories: [],
        runtime_repositories: [],
        keyring: [],
        runtime_keyring: [],
        packages: ['busybox'],
      },
      entrypoint: {},
      accounts: { users: [], groups: [] },
      environment: {},
      paths: [],
      archs: [],
      annotations: {},
      volumes: [],
      format: 'tar',
    });
  });
});

interface BadCase {
  name: string;
  text: string;
  code: ConfigErrorCode;
  issues: [path: string, line: number, column: number][];
}

const pkgs = 'contents:\n  packages: [busybox]';

const BAD: BadCase[] = [
  {
    name: 'unknown top-level key',
    text: y('contents:', '  packages: [a]', 'foo: 1'),
    code: 'CONFIG_INVALID',
    issues: [['foo', 3, 1]],
  },
  {
    name: 'unknown key in contents',
    text: y('contents:', '  pakages: [a]'),
    code: 'CONFIG_INVALID',
    issues: [['contents.pakages', 2, 3]],
  },
  {
    name: 'unknown key in entrypoint',
    text: y(pkgs, 'entrypoint:', '  cmd: /bin/sh'),
    code: 'CONFIG_INVALID',
    issues: [['entrypoint.cmd', 4, 3]],
  },
  {
    name: 'unknown key in a user',
    text: y(pkgs, 'accounts:', '  users:', '    - username: a', '      uid: 1', '      home: /x'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[0].home', 7, 7]],
  },
  {
    name: 'unknown key in a group',
    text: y(pkgs, 'accounts:', '  groups:', '    - { groupname: g, gid: 5, users: [a] }'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.groups[0].users', 5, 31]],
  },
  {
    name: 'unknown key in accounts',
    text: y(pkgs, 'accounts:', '  run_as: 0'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.run_as', 4, 3]],
  },
  {
    name: 'unknown key in a path',
    text: y(pkgs, 'paths:', '  - path: /x', '    type: directory', '    mode: 0o755'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].mode', 6, 5]],
  },
  {
    name: 'unknown key in certificates',
    text: y(pkgs, 'certificates:', '  extra: []'),
    code: 'CONFIG_INVALID',
    issues: [['certificates.extra', 4, 3]],
  },
  {
    name: 'unknown key in a runtime key',
    text: y('contents:', '  runtime_keyring:', '    - name: k', '      content: x', '      url: y'),
    code: 'CONFIG_INVALID',
    issues: [
      ['contents.runtime_keyring[0].content', 4, 16],
      ['contents.runtime_keyring[0].url', 5, 7],
    ],
  },
  {
    name: 'archs is not a list',
    text: y(pkgs, 'archs: amd64'),
    code: 'CONFIG_INVALID',
    issues: [['archs', 3, 8]],
  },
  {
    name: 'packages is not a list',
    text: y('contents:', '  packages: busybox'),
    code: 'CONFIG_INVALID',
    issues: [['contents.packages', 2, 13]],
  },
  {
    name: 'uid is a string',
    text: y(pkgs, 'accounts:', '  users:', '    - username: a', '      uid: "x"'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[0].uid', 6, 12]],
  },
  {
    name: 'uid is missing',
    text: y(pkgs, 'accounts:', '  users:', '    - username: a'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[0].uid', 5, 7]],
  },
  {
    name: 'uid is negative',
    text: y(pkgs, 'accounts:', '  users:', '    - { username: a, uid: -1 }'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[0].uid', 5, 27]],
  },
  {
    name: 'recursive is not a boolean',
    text: y(pkgs, 'paths:', '  - { path: /x, type: directory, recursive: maybe, permissions: 0o755 }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].recursive', 4, 45]],
  },
  {
    name: 'uid 0',
    text: y(pkgs, 'accounts:', '  users:', '    - username: root2', '      uid: 0'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[0].uid', 6, 12]],
  },
  {
    name: 'the same uid twice',
    text: y(
      pkgs,
      'accounts:',
      '  users:',
      '    - { username: a, uid: 1000 }',
      '    - { username: b, uid: 1000 }',
    ),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[1].uid', 6, 27]],
  },
  {
    name: 'the same username twice',
    text: y(
      pkgs,
      'accounts:',
      '  users:',
      '    - { username: a, uid: 1000 }',
      '    - { username: a, uid: 1001 }',
    ),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[1].username', 6, 19]],
  },
  {
    name: 'duplicate group name and gid',
    text: y(
      pkgs,
      'accounts:',
      '  groups:',
      '    - { groupname: g, gid: 5 }',
      '    - { groupname: g, gid: 5 }',
    ),
    code: 'CONFIG_INVALID',
    issues: [
      ['accounts.groups[1].groupname', 6, 20],
      ['accounts.groups[1].gid', 6, 28],
    ],
  },
  {
    name: 'a username that would break /etc/passwd',
    text: y(pkgs, 'accounts:', '  users:', '    - { username: "a:b", uid: 5 }'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.users[0].username', 5, 19]],
  },
  {
    name: 'run-as names nobody',
    text: y(pkgs, 'accounts:', '  users:', '    - { username: a, uid: 5 }', '  run-as: b'),
    code: 'CONFIG_INVALID',
    issues: [['accounts.run-as', 6, 11]],
  },
  {
    name: 'path ../../etc/x',
    text: y(pkgs, 'paths:', '  - { path: ../../etc/x, type: directory }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].path', 4, 13]],
  },
  {
    name: 'path /../x',
    text: y(pkgs, 'paths:', '  - { path: /../x, type: empty-file }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].path', 4, 13]],
  },
  {
    name: 'path with NUL',
    text: y(pkgs, 'paths:', '  - { path: "/etc/a\\0b", type: empty-file }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].path', 4, 13]],
  },
  {
    name: 'hardlink source escaping the root',
    text: y(pkgs, 'paths:', '  - { path: /x, type: hardlink, source: /a/../../etc/shadow }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].source', 4, 41]],
  },
  {
    name: 'symlink without source',
    text: y(pkgs, 'paths:', '  - { path: /x, type: symlink }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].source', 4, 5]],
  },
  {
    name: 'unknown path type',
    text: y(pkgs, 'paths:', '  - { path: /x, type: fifo }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].type', 4, 23]],
  },
  {
    name: 'permissions over 0o7777',
    text: y(pkgs, 'paths:', '  - { path: /x, type: directory, permissions: 0o10000 }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].permissions', 4, 47]],
  },
  {
    name: 'permissions quoted',
    text: y(pkgs, 'paths:', '  - { path: /x, type: directory, permissions: "0755" }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].permissions', 4, 47]],
  },
  {
    name: 'permissions not an integer',
    text: y(pkgs, 'paths:', '  - { path: /x, type: directory, permissions: 7.5 }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].permissions', 4, 47]],
  },
  {
    name: 'permissions missing for type permissions',
    text: y(pkgs, 'paths:', '  - { path: /x, type: permissions }'),
    code: 'CONFIG_INVALID',
    issues: [['paths[0].permissions', 4, 5]],
  },
  {
    name: 'annotation key Foo',
    text: y(pkgs, 'annotations:', '  Foo: bar'),
    code: 'CONFIG_INVALID',
    issues: [['annotations.Foo', 4, 3]],
  },
  {
    name: 'empty annotation value',
    text: y(pkgs, 'annotations:', '  org.opencontainers.image.title: ""'),
    code: 'CONFIG_INVALID',
    issues: [['annotations["org.opencontainers.image.title"]', 4, 35]],
  },
  {
    name: 'bad environment key',
    text: y(pkgs, 'environment:', '  1FOO: x', '  "A B": y'),
    code: 'CONFIG_INVALID',
    issues: [
      ['environment["1FOO"]', 4, 3],
      ['environment["A B"]', 5, 3],
    ],
  },
  {
    name: 'unknown arch',
    text: y(pkgs, 'archs:', '  - sparc'),
    code: 'CONFIG_INVALID',
    issues: [['archs[0]', 4, 5]],
  },
  {
    name: 'arch all in the file',
    text: y(pkgs, 'archs: [all]'),
    code: 'CONFIG_INVALID',
    issues: [['archs[0]', 3, 9]],
  },
  {
    name: 'duplicate arch in two spellings',
    text: y(pkgs, 'archs:', '  - amd64', '  - x86_64'),
    code: 'CONFIG_INVALID',
    issues: [['archs[1]', 5, 5]],
  },
  {
    name: 'bad package constraint foo==1',
    text: y('contents:', '  packages:', '    - busybox', '    - foo==1'),
    code: 'CONFIG_INVALID',
    issues: [['contents.packages[1]', 4, 7]],
  },
  {
    name: 'bad package version',
    text: y('contents:', '  packages: [busybox>=1..2]'),
    code: 'CONFIG_INVALID',
    issues: [['contents.packages[0]', 2, 14]],
  },
  {
    name: 'bad repository lines',
    text: y(
      'contents:',
      '  repositories:',
      '    - "@local"',
      '    - a b c',
      '  build_repositories: [ftp://x/y]',
      '  packages: [a]',
    ),
    code: 'CONFIG_INVALID',
    issues: [
      ['contents.repositories[0]', 3, 7],
      ['contents.repositories[1]', 4, 7],
      ['contents.build_repositories[0]', 5, 24],
    ],
  },
  {
    name: 'entrypoint type other than service-bundle',
    text: y(pkgs, 'entrypoint:', '  type: simple'),
    code: 'CONFIG_INVALID',
    issues: [['entrypoint.type', 4, 9]],
  },
  {
    name: 'service-bundle without services',
    text: y(pkgs, 'entrypoint:', '  type: service-bundle'),
    code: 'CONFIG_INVALID',
    issues: [['entrypoint.type', 4, 9]],
  },
  {
    name: 'services without service-bundle, bad service name',
    text: y(pkgs, 'entrypoint:', '  services:', '    ../x: /bin/true'),
    code: 'CONFIG_INVALID',
    issues: [
      ['entrypoint.services["../x"]', 5, 5],
      ['entrypoint.services', 5, 5],
    ],
  },
  {
    name: 'command and shell-fragment',
    text: y(pkgs, 'entrypoint:', '  command: /bin/a', '  shell-fragment: b'),
    code: 'CONFIG_INVALID',
    issues: [['entrypoint.shell-fragment', 5, 19]],
  },
  {
    name: 'relative volume',
    text: y(pkgs, 'volumes: [data]'),
    code: 'CONFIG_INVALID',
    issues: [['volumes[0]', 3, 11]],
  },
  {
    name: 'bad stop signal',
    text: y(pkgs, 'stop-signal: "kill -9"'),
    code: 'CONFIG_INVALID',
    issues: [['stop-signal', 3, 14]],
  },
  {
    name: 'certificate that is not PEM, bad name',
    text: y(pkgs, 'certificates:', '  additional:', '    - { name: .hidden, content: hello }'),
    code: 'CONFIG_INVALID',
    issues: [
      ['certificates.additional[0].name', 5, 15],
      ['certificates.additional[0].content', 5, 33],
    ],
  },
  {
    name: 'duplicate YAML key',
    text: y('contents:', '  packages: [a]', 'cmd: /bin/a', 'cmd: /bin/b'),
    code: 'CONFIG_INVALID',
    issues: [['cmd', 4, 1]],
  },
  {
    name: 'duplicate nested YAML key',
    text: y('contents:', '  packages: [a]', '  packages: [b]'),
    code: 'CONFIG_INVALID',
    issues: [['contents.packages', 3, 3]],
  },
  {
    name: '__proto__ key',
    text: y(pkgs, 'environment:', '  __proto__: x'),
    code: 'CONFIG_INVALID',
    issues: [['environment.__proto__', 4, 3]],
  },
  { name: 'top-level list', text: y('- contents'), code: 'CONFIG_INVALID', issues: [['', 1, 1]] },
  { name: 'empty file', text: '', code: 'CONFIG_INVALID', issues: [['', 1, 1]] },
  { name: 'only comments', text: y('# nothing here'), code: 'CONFIG_INVALID', issues: [['', 1, 1]] },
  {
    name: 'include in text',
    text: y(pkgs, 'include: base.yaml'),
    code: 'CONFIG_INVALID',
    issues: [['include', 3, 10]],
  },
  {
    name: 'layering (unsupported)',
    text: y(pkgs, 'layering:', '  strategy: origin', '  budget: 10'),
    code: 'CONFIG_UNSUPPORTED',
    issues: [['layering', 3, 1]],
  },
  {
    name: 'format: erofs (unsupported)',
    text: y(pkgs, 'format: erofs'),
    code: 'CONFIG_UNSUPPORTED',
    issues: [['format', 3, 9]],
  },
  {
    name: 'baseimage (unsupported)',
    text: y('contents:', '  packages: [a]', '  baseimage:', '    image: ./base', '    apkindex: ./idx'),
    code: 'CONFIG_UNSUPPORTED',
    issues: [['contents.baseimage', 3, 3]],
  },
  {
    name: 'unknown format',
    text: y(pkgs, 'format: zip'),
    code: 'CONFIG_INVALID',
    issues: [['format', 3, 9]],
  },
  {
    name: 'unsupported and invalid together',
    text: y(pkgs, 'format: erofs', 'archs: [sparc]'),
    code: 'CONFIG_INVALID',
    issues: [
      ['format', 3, 9],
      ['archs[0]', 4, 9],
    ],
  },
];

describe('invalid configurations', () => {
  it.each(BAD)('$name', ({ text, code, issues }) => {
    const error = parseError(text);
    expect(error.code).toBe(code);
    expect(error.issues.map((i) => [i.path, i.line, i.column])).toEqual(issues);
    for (const issue of error.issues) expect(issue.file).toBe('apko.yaml');
    // The message lists every issue as file:line:column: path: message, one per line.
    const lines = error.message.split('\n').slice(1);
    expect(lines).toHaveLength(issues.length);
    issues.forEach(([path, line, column], i) => {
      expect(lines[i]).toContain(`apko.yaml:${line}:${column}: ${path === '' ? '' : `${path}: `}`);
    });
  });

  it('says what is wrong and hints at the fix', () => {
    const uid0 = parseError(y(pkgs, 'accounts:', '  users:', '    - username: x', '      uid: 0'));
    expect(uid0.message).toContain('apko.yaml:6:12: accounts.users[0].uid: must not be 0 (hint:');
    expect(uid0.raw[0]!.hint).toContain('run-as: 0');
    const typo = parseError(y(pkgs, 'workdir: /x'));
    expect(typo.raw[0]!.hint).toBe('did you mean "work-dir"?');
    const dep = parseError(y('contents:', '  packages: [foo==1]'));
    expect(dep.raw[0]!.message).toContain('foo==1');
    const perm = parseError(y(pkgs, 'paths: [{ path: /x, type: directory, permissions: 0o10000 }]'));
    expect(perm.raw[0]!.message).toContain('0o10000');
  });

  it('reports every problem at once', () => {
    const error = parseError(
      y(
        'contents:',
        '  packages: [busybox, foo==1]', //  1: bad constraint
        '  repositories: ["@x"]', //          2: bad repository
        '  extra: 1', //                      3: unknown key
        'accounts:',
        '  users:',
        '    - { username: a, uid: 0 }', //   4: uid 0
        '    - { username: a, uid: 7 }', //   5: username twice
        '    - { username: c, uid: "x" }', // 6: bad type
        '  run-as: nobody', //                7: unknown user
        'paths:',
        '  - { path: /../x, type: symlink }', // 8: escape, 9: no source
        '  - { path: /y, type: directory, permissions: 0o17777 }', // 10: bad permissions
        'archs: [amd64, x86_64, sparc]', //   11: duplicate, 12: unknown
        'annotations: { Foo: x, ok: "" }', // 13: bad key, 14: empty value
        'format: erofs', //                   15: unsupported
        'workdir: /', //                      16: unknown key
      ),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues).toHaveLength(16);
    expect(error.message.split('\n')).toHaveLength(17);
    expect(error.message.split('\n')[0]).toBe('apko.yaml: 16 problems in the image configuration:');
    const lines = error.issues.map((i) => i.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  it('reports YAML syntax errors with positions and no partial result', () => {
    const error = parseError(y('contents:', '  packages: [a, b', 'cmd: x'));
    expect(error.code).toBe('CONFIG_YAML_SYNTAX');
    expect(error.issues.length).toBeGreaterThan(0);
    expect(error.issues[0]!.line).toBeGreaterThanOrEqual(2);
    expect(error.message).toMatch(/apko\.yaml:\d+:\d+: /);
    const tab = parseError('contents:\n\tpackages: [a]\n');
    expect(tab.code).toBe('CONFIG_YAML_SYNTAX');
    expect(tab.issues[0]!.line).toBe(2);
  });

  it('refuses several YAML documents in one file', () => {
    const error = parseError(y(pkgs, '---', 'cmd: x'));
    expect(error.code).toBe('CONFIG_YAML_SYNTAX');
    expect(error.issues.map((i) => i.line)).toEqual([3]);
  });

  it('refuses unknown tags and bad UTF-8', () => {
    expect(parseError(y(pkgs, 'cmd: !custom x')).code).toBe('CONFIG_YAML_SYNTAX');
    expect(parseError(new Uint8Array([0x63, 0x6d, 0x64, 0x3a, 0x20, 0xff, 0xfe, 0x0a])).code).toBe(
      'CONFIG_YAML_SYNTAX',
    );
  });
});

describe('hostile input', () => {
  it('refuses a 10 MB configuration before parsing it (CONFIG_TOO_LARGE)', () => {
    const big = new Uint8Array(10 * 1024 * 1024).fill(0x20);
    expect(parseError(big).code).toBe('CONFIG_TOO_LARGE');
    const justOver = new TextEncoder().encode(`${pkgs}#${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    expect(parseError(justOver).code).toBe('CONFIG_TOO_LARGE');
  });

  it('accepts a configuration just under the limit', () => {
    const filler = `${'#'.repeat(999)}\n`.repeat(Math.floor((MAX_CONFIG_BYTES - pkgs.length) / 1000));
    const config = parseImageConfig(`${pkgs}\n${filler}`);
    expect(config.contents.packages).toEqual(['busybox']);
  });

  it.each([
    ['flow nesting', '['.repeat(100_000)],
    ['deep flow nesting that closes', `cmd: ${'['.repeat(2000)}${']'.repeat(2000)}\n`],
    ['compact sequences', `${'- '.repeat(100_000)}x\n`],
    ['compact sequences after a key', `cmd:\n  ${'- '.repeat(100_000)}x\n`],
    ['deep indentation', Array.from({ length: 1200 }, (_, i) => `${' '.repeat(i)}a${i}:`).join('\n')],
  ])('refuses %s without overflowing the stack (CONFIG_TOO_LARGE)', (_name, text) => {
    expect(parseError(text).code).toBe('CONFIG_TOO_LARGE');
  });

  it('refuses nesting deeper than 64 levels that the pre-scan lets through', () => {
    let text = '';
    for (let i = 0; i < 100; i++) text += `${' '.repeat(i * 2)}k${i}:\n`;
    text += `${' '.repeat(200)}x: 1\n`;
    expect(parseError(text).code).toBe('CONFIG_TOO_LARGE');
  });

  it('refuses alias bombs (billion laughs)', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++) {
      const refs = Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ');
      lines.push(`a${i}: &a${i} [${refs}]`);
    }
    lines.push('contents:', '  packages: *a9');
    expect(parseError(y(...lines)).code).toBe('CONFIG_TOO_LARGE');
  });

  it('keeps prototype keys out of maps', () => {
    const error = parseError(y(pkgs, 'annotations:', '  __proto__: { polluted: yes }'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('include', () => {
  it('merges as apko MergeInto does: scalars target wins, lists base first, maps target wins', async () => {
    const readFile = memoryFs({
      '/cfg/apko.yaml': y(
        'include: base/base.yaml',
        'contents:',
        '  repositories: [https://top/os]',
        '  packages: [top]',
        'cmd: /bin/top',
        'environment: { A: top, C: top }',
        'annotations: { a: top }',
        'accounts:',
        '  users: [{ username: t, uid: 2 }]',
        'paths: [{ path: /top, type: directory }]',
        'volumes: [/top]',
      ),
      '/cfg/base/base.yaml': y(
        'include: ../common.yaml',
        'contents:',
        '  repositories: [https://base/os]',
        '  keyring: [base.rsa.pub]',
        '  packages: [base]',
        'cmd: /bin/base',
        'work-dir: /base',
        'entrypoint: { command: /bin/base-entry }',
        'environment: { A: base, B: base }',
        'annotations: { a: base, b: base }',
        'archs: [x86_64]',
        'accounts:',
        '  run-as: b',
        '  users: [{ username: b, uid: 1 }]',
        'paths: [{ path: /base, type: directory }]',
        'volumes: [/base]',
      ),
      '/cfg/common.yaml': y('contents:', '  packages: [common]', 'stop-signal: SIGQUIT', 'archs: [aarch64]'),
    });
    const { config, files } = await loadImageConfig('/cfg/apko.yaml', { readFile });
    expect(files.map((f) => f.path)).toEqual(['/cfg/apko.yaml', '/cfg/base/base.yaml', '/cfg/common.yaml']);
    expect(new TextDecoder().decode(files[0]!.bytes)).toContain('include: base/base.yaml');
    expect(config.contents.packages).toEqual(['common', 'base', 'top']);
    expect(config.contents.repositories).toEqual(['https://base/os', 'https://top/os']);
    expect(config.contents.keyring).toEqual(['base.rsa.pub']);
    expect(config.cmd).toBe('/bin/top');
    expect(config['work-dir']).toBe('/base');
    expect(config['stop-signal']).toBe('SIGQUIT');
    expect(config.entrypoint).toEqual({ command: '/bin/base-entry' });
    expect(config.environment).toEqual({ A: 'top', B: 'base', C: 'top' });
    expect(config.annotations).toEqual({ a: 'top', b: 'base' });
    expect(config.archs).toEqual(['amd64']);
    expect(config.accounts['run-as']).toBe('b');
    expect(config.accounts.users.map((u) => u.username)).toEqual(['b', 't']);
    expect(config.paths.map((p) => p.path)).toEqual(['/base', '/top']);
    expect(config.volumes).toEqual(['/base', '/top']);
    expect(config.include).toBe('base/base.yaml');
  });

  it('reports problems in each file at their own positions, after merging', async () => {
    const readFile = memoryFs({
      '/c/top.yaml': y(
        'include: base.yaml',
        'accounts:',
        '  users:',
        '    - { username: dup, uid: 10 }',
        'bogus: 1',
      ),
      '/c/base.yaml': y(
        'contents:',
        '  packages: [ok, "bad=="]',
        'accounts:',
        '  users:',
        '    - { username: dup, uid: 10 }',
      ),
    });
    const error = await loadError(loadImageConfig('/c/top.yaml', { readFile }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues.map((i) => [i.file, i.path, i.line, i.column])).toEqual([
      // The duplicate is the target's user, which comes after the base's in the merged list.
      ['/c/top.yaml', 'accounts.users[1].username', 4, 19],
      ['/c/top.yaml', 'accounts.users[1].uid', 4, 29],
      ['/c/top.yaml', 'bogus', 5, 1],
      ['/c/base.yaml', 'contents.packages[1]', 2, 18],
    ]);
  });

  it('searches includePaths after the including file directory', async () => {
    const readFile = memoryFs({
      '/work/apko.yaml': y('include: shared.yaml', 'contents: { packages: [a] }'),
      '/lib/two/shared.yaml': y('contents: { packages: [shared] }'),
    });
    const { config, files } = await loadImageConfig('/work/apko.yaml', {
      readFile,
      includePaths: ['/lib/one', '/lib/two'],
    });
    expect(config.contents.packages).toEqual(['shared', 'a']);
    expect(files.map((f) => f.path)).toEqual(['/work/apko.yaml', '/lib/two/shared.yaml']);
  });

  it('reports a missing include at its position (CONFIG_NOT_FOUND)', async () => {
    const readFile = memoryFs({ '/w/apko.yaml': y('contents: { packages: [a] }', 'include: nope.yaml') });
    const error = await loadError(loadImageConfig('/w/apko.yaml', { readFile }));
    expect(error.code).toBe('CONFIG_NOT_FOUND');
    expect(error.issues).toEqual([
      { path: 'include', line: 2, column: 10, code: 'CONFIG_NOT_FOUND', file: '/w/apko.yaml' },
    ]);
    const remote = await loadError(
      loadImageConfig('/w/apko.yaml', {
        readFile: memoryFs({
          '/w/apko.yaml': y('include: github.com/chainguard-dev/apko/examples/alpine-base.yaml@main'),
        }),
      }),
    );
    expect(remote.raw[0]!.hint).toContain('local files only');
  });

  it('detects a deeply nested include cycle (CONFIG_INCLUDE_CYCLE)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++)
      files[`/c/d${i}/f.yaml`] = y(`include: ../d${(i + 1) % 12}/f.yaml`, `cmd: c${i}`);
    const error = await loadError(loadImageConfig('/c/d0/f.yaml', { readFile: memoryFs(files) }));
    expect(error.code).toBe('CONFIG_INCLUDE_CYCLE');
    expect(error.issues).toEqual([
      { path: 'include', line: 1, column: 10, code: 'CONFIG_INCLUDE_CYCLE', file: '/c/d11/f.yaml' },
    ]);
    expect(error.message).toContain('/c/d0/f.yaml → /c/d1/f.yaml');
  });

  it('detects a file including itself', async () => {
    const error = await loadError(
      loadImageConfig('/a.yaml', { readFile: memoryFs({ '/a.yaml': y('include: ./a.yaml') }) }),
    );
    expect(error.code).toBe('CONFIG_INCLUDE_CYCLE');
  });

  it('limits the include depth (CONFIG_INCLUDE_TOO_DEEP)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i++) files[`/c/f${i}.yaml`] = y(`include: f${i + 1}.yaml`, `cmd: c${i}`);
    const error = await loadError(loadImageConfig('/c/f0.yaml', { readFile: memoryFs(files) }));
    expect(error.code).toBe('CONFIG_INCLUDE_TOO_DEEP');
  });

  it('stops an oversized include (CONFIG_TOO_LARGE)', async () => {
    const readFile = memoryFs({
      '/a.yaml': y('include: b.yaml'),
      '/b.yaml': new Uint8Array(MAX_CONFIG_BYTES + 1),
    });
    expect((await loadError(loadImageConfig('/a.yaml', { readFile }))).code).toBe('CONFIG_TOO_LARGE');
  });
});

describe('files on disk', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-apko-config-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'apko.yaml'), y('include: sub/base.yaml', 'contents: { packages: [top] }'));
    await writeFile(join(dir, 'sub/base.yaml'), y('contents: { packages: [base] }', 'archs: [aarch64]'));
    await writeFile(join(dir, 'big.yaml'), new Uint8Array(10 * 1024 * 1024).fill(0x23));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads with includes from disk', async () => {
    const { config, files } = await loadImageConfig(join(dir, 'apko.yaml'));
    expect(config.contents.packages).toEqual(['base', 'top']);
    expect(config.archs).toEqual(['arm64']);
    expect(files.map((f) => f.path)).toEqual([join(dir, 'apko.yaml'), join(dir, 'sub/base.yaml')]);
  });

  it('refuses a 10 MB file without reading it (CONFIG_TOO_LARGE)', async () => {
    expect((await loadError(loadImageConfig(join(dir, 'big.yaml')))).code).toBe('CONFIG_TOO_LARGE');
  });

  it('names a missing file (CONFIG_NOT_FOUND) and an unreadable one (CONFIG_READ_FAILED)', async () => {
    expect((await loadError(loadImageConfig(join(dir, 'missing.yaml')))).code).toBe('CONFIG_NOT_FOUND');
    expect((await loadError(loadImageConfig(join(dir, 'sub')))).code).toBe('CONFIG_READ_FAILED');
  });
});

describe('warnings', () => {
  it('warns about keys that have no effect', () => {
    const logger = createRecordingLogger();
    parseImageConfig(
      y(
        pkgs,
        'paths:',
        '  - { path: /d, type: directory, source: /x }',
        '  - { path: /l, type: symlink, source: /x, recursive: true }',
      ),
      { logger },
    );
    expect(logger.messages.filter((m) => m.level === 'warn').map((m) => m.code)).toEqual([
      'CONFIG_IGNORED_KEY',
      'CONFIG_IGNORED_KEY',
    ]);
  });
});

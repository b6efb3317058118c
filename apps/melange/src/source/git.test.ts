import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import type { CompiledStep } from '../recipe/types.ts';
import { classifyRepository, gitConfigEnv, mirrorKey, prefetchGitSources } from './git.ts';
import { startDaemon, stopDaemon } from './testdata/git-daemon.ts';

const HOST_ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir() };

function step(withs: Record<string, string>, extra: Partial<CompiledStep> = {}): CompiledStep {
  return {
    uses: 'git-checkout',
    with: withs,
    workingDirectory: '/home/build',
    environment: {},
    enabled: true,
    pipeline: [],
    ...extra,
  };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof MelangeError ? error.code : 'other';
  }
  return undefined;
}

async function rejectsWith(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (error) {
    return error instanceof MelangeError ? error.code : String(error);
  }
  return undefined;
}

describe('classifyRepository', () => {
  it('mirrors network URLs and scp-like addresses, literally', () => {
    for (const url of [
      'https://github.com/a/b.git',
      'http://127.0.0.1:8080/r.git',
      'git://127.0.0.1:9418/repo.git',
      'ssh://git@host/x.git',
      'git@github.com:a/b.git',
      'https://h/$(touch /tmp/pwned);`id`|x&y.git',
    ])
      expect(classifyRepository(url)).toEqual({ kind: 'remote', url });
    expect(classifyRepository('  https://h/r.git\n')).toEqual({ kind: 'remote', url: 'https://h/r.git' });
  });

  it('leaves paths and file:// to the sandbox', () => {
    for (const p of ['', '/srv/repo', './repo', '../x', 'file:///srv/r.git', 'dir/with:colon'])
      expect(classifyRepository(p)).toEqual({ kind: 'local' });
  });

  it('refuses ext::, fd::, option-like and control-character repositories', () => {
    for (const bad of [
      'ext::sh -c touch% /tmp/pwned',
      'EXT::sh -c id',
      'fd::3',
      'fd::0,1/x',
      'ext://host/x',
      '-uhelp',
      '--upload-pack=touch /tmp/pwned',
      'https://h/r.git\n[core]',
      'https://h/r\u0000.git',
    ])
      expect(
        code(() => classifyRepository(bad)),
        bad,
      ).toBe('MELANGE_SOURCE_GIT_URL');
  });

  it('leaves other remote helpers and schemes to the sandbox', () => {
    expect(classifyRepository('persistent-https::https://h/r').kind).toBe('other');
    expect(classifyRepository('svn://h/r').kind).toBe('other');
  });
});

describe('mirrorKey and gitConfigEnv', () => {
  it('keys a mirror by the first 16 hex of the URL hash', () => {
    const url = 'https://example.org/r.git';
    expect(mirrorKey(url)).toBe(createHash('sha256').update(url).digest('hex').slice(0, 16));
    expect(mirrorKey(url)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('numbers entries after an existing GIT_CONFIG_COUNT', () => {
    const config: Array<[string, string]> = [
      ['url.file:///m.git.insteadOf', 'https://h/r'],
      ['safe.directory', '/m.git'],
    ];
    expect(gitConfigEnv([])).toEqual({});
    expect(gitConfigEnv(config)).toEqual({
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_0: 'url.file:///m.git.insteadOf',
      GIT_CONFIG_VALUE_0: 'https://h/r',
      GIT_CONFIG_KEY_1: 'safe.directory',
      GIT_CONFIG_VALUE_1: '/m.git',
    });
    const env = gitConfigEnv(config, { GIT_CONFIG_COUNT: '1' });
    expect(env['GIT_CONFIG_COUNT']).toBe('3');
    expect(env['GIT_CONFIG_KEY_1']).toBe('url.file:///m.git.insteadOf');
    expect(env['GIT_CONFIG_KEY_0']).toBeUndefined();
    expect(gitConfigEnv(config, { GIT_CONFIG_COUNT: 'junk' })['GIT_CONFIG_COUNT']).toBe('2');
  });
});

describe('prefetchGitSources', () => {
  let work: string;
  let daemon: { port: number; child: ChildProcess };
  let url: string;
  let commit: string;
  const git = (cwd: string, ...args: string[]): string =>
    execFileSync('git', args, {
      cwd,
      env: {
        ...HOST_ENV,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
      },
      encoding: 'utf8',
    }).trim();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tk-git-test-'));
    const src = join(work, 'src');
    mkdirSync(src);
    git(src, 'init', '-q', '-b', 'main');
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    git(src, 'add', 'hello.txt');
    git(src, 'commit', '-q', '-m', 'one');
    git(src, 'tag', 'v1');
    commit = git(src, 'rev-parse', 'HEAD');
    const served = join(work, 'served');
    mkdirSync(served);
    git(work, 'clone', '-q', '--bare', src, join(served, 'repo.git'));
    daemon = await startDaemon(served);
    url = `git://127.0.0.1:${daemon.port}/repo.git`;
  });
  afterAll(async () => {
    await stopDaemon(daemon.child);
    rmSync(work, { recursive: true, force: true });
  });

  it('mirrors into <cache>/git/<key>.git, readable, and configures insteadOf', async () => {
    const cacheDir = join(work, 'cache1');
    const result = await prefetchGitSources(
      [step({ repository: url, tag: 'v1', 'expected-commit': commit })],
      { cacheDir, env: HOST_ENV },
    );
    const key = mirrorKey(url);
    const path = join(cacheDir, 'git', `${key}.git`);
    expect(result.mirrors).toEqual([
      { repository: url, path, guestUrl: `file:///var/cache/melange/git/${key}.git`, fromCache: false },
    ]);
    expect(result.config).toEqual([
      [`url.file:///var/cache/melange/git/${key}.git.insteadOf`, url],
      ['safe.directory', `/var/cache/melange/git/${key}.git`],
    ]);
    expect(git(path, 'rev-parse', 'refs/tags/v1')).toBe(commit);
    expect(statSync(join(path, 'config')).mode & 0o444).toBe(0o444);
    expect(statSync(join(path, 'objects')).mode & 0o555).toBe(0o555);
    expect(statSync(join(cacheDir, 'git')).mode & 0o555).toBe(0o555);

    // With the expected commit present the remote is not contacted again.
    const again = await prefetchGitSources(
      [step({ repository: url, tag: 'v1', 'expected-commit': commit })],
      {
        cacheDir,
        env: HOST_ENV,
      },
    );
    expect(again.mirrors[0]!.fromCache).toBe(true);
  });

  it('resets a mirror config the sandbox tampered with, and drops alternates', async () => {
    const cacheDir = join(work, 'cache2');
    const s = step({ repository: url, tag: 'v1', 'expected-commit': commit });
    await prefetchGitSources([s], { cacheDir, env: HOST_ENV });
    const path = join(cacheDir, 'git', `${mirrorKey(url)}.git`);
    writeFileSync(
      join(path, 'config'),
      '[core]\n\tbare = true\n\tfsmonitor = touch /tmp/tk-pwned\n\tsshCommand = touch /tmp/tk-pwned\n[remote "origin"]\n\turl = ext::sh -c touch% /tmp/tk-pwned\n',
    );
    writeFileSync(join(path, 'objects', 'info', 'alternates'), '/etc\n');
    await prefetchGitSources([s], { cacheDir, env: HOST_ENV });
    const config = readFileSync(join(path, 'config'), 'utf8');
    expect(config).not.toContain('pwned');
    expect(config).toContain(url);
    expect(existsSync(join(path, 'objects', 'info', 'alternates'))).toBe(false);
  });

  it('offline: a missing mirror is MELANGE_SOURCE_OFFLINE', async () => {
    const cacheDir = join(work, 'cache3');
    expect(
      await rejectsWith(
        prefetchGitSources([step({ repository: url, tag: 'v1' })], {
          cacheDir,
          offline: true,
          env: HOST_ENV,
        }),
      ),
    ).toBe('MELANGE_SOURCE_OFFLINE');
  });

  it('refuses a symlink in place of the mirror', async () => {
    const cacheDir = join(work, 'cache4');
    mkdirSync(join(cacheDir, 'git'), { recursive: true });
    symlinkSync('/etc', join(cacheDir, 'git', `${mirrorKey(url)}.git`));
    expect(
      await rejectsWith(
        prefetchGitSources([step({ repository: url, tag: 'v1' })], { cacheDir, env: HOST_ENV }),
      ),
    ).toBe('MELANGE_SOURCE_GIT_FAILED');
  });

  it('reports an unreachable repository as MELANGE_SOURCE_GIT_FAILED', async () => {
    const cacheDir = join(work, 'cache5');
    const missing = `git://127.0.0.1:${daemon.port}/nope.git`;
    expect(
      await rejectsWith(prefetchGitSources([step({ repository: missing })], { cacheDir, env: HOST_ENV })),
    ).toBe('MELANGE_SOURCE_GIT_FAILED');
    expect(existsSync(join(cacheDir, 'git', `${mirrorKey(missing)}.git`))).toBe(false);
  });

  it('refuses ext:: at any depth, skips disabled and non-git steps and local paths', async () => {
    const cacheDir = join(work, 'cache6');
    const nested = step(
      {},
      { uses: undefined, runs: 'true', pipeline: [step({ repository: 'ext::sh -c id' })] },
    );
    expect(await rejectsWith(prefetchGitSources([nested], { cacheDir, env: HOST_ENV }))).toBe(
      'MELANGE_SOURCE_GIT_URL',
    );
    const result = await prefetchGitSources(
      [
        step({ repository: url }, { enabled: false }),
        step({ repository: url }, { uses: 'fetch' }),
        step({ repository: './local-repo' }),
        step({ repository: 'file:///srv/r.git' }),
      ],
      { cacheDir, env: HOST_ENV },
    );
    expect(result).toEqual({ mirrors: [], config: [] });
    expect(existsSync(join(cacheDir, 'git'))).toBe(false);
  });
});

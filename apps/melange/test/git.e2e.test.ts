/**
 * git-checkout in hermetic builds: the repository is mirrored on the host into the cache (served here by
 * `git daemon` on 127.0.0.1, which the sandbox cannot reach), and the pipeline's own `git clone` reads the
 * mirror through `url.<mirror>.insteadOf`. A second build works offline with the server stopped; a wrong
 * expected-commit still fails the step.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApk } from '@tk/apk';
import { MelangeError } from '../src/errors.ts';
import { mirrorKey } from '../src/source/git.ts';
import { startDaemon, stopDaemon } from '../src/source/testdata/git-daemon.ts';
import { build, buildBench, makeKey, tempDir } from './helpers.ts';

const bench = buildBench();

function recipe(url: string, tag: string, commit: string): string {
  return [
    'package:',
    '  name: gitdemo',
    '  version: 1.0.0',
    '  epoch: 0',
    '  copyright:',
    '    - license: MIT',
    'environment:',
    '  contents:',
    '    packages: [busybox, busybox-binsh, tk-baselayout]',
    'pipeline:',
    '  - uses: git-checkout',
    '    with:',
    `      repository: ${url}`,
    `      tag: ${tag}`,
    `      expected-commit: ${commit}`,
    '      destination: src',
    '  - runs: |',
    '      mkdir -p ${{targets.destdir}}/usr/share/gitdemo',
    '      cp src/hello.txt ${{targets.destdir}}/usr/share/gitdemo/hello.txt',
    '',
  ].join('\n');
}

describe.skipIf(!bench.ready)(
  `git-checkout in hermetic builds${bench.ready ? '' : ` (skipped: ${bench.reason})`}`,
  () => {
    let work: string;
    let key: string;
    let daemon: { port: number; child: ChildProcess };
    let url: string;
    let commit: string;
    const git = (cwd: string, ...args: string[]): string =>
      execFileSync('git', args, {
        cwd,
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          HOME: cwd,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@t',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@t',
        },
        encoding: 'utf8',
      }).trim();

    beforeAll(async () => {
      work = tempDir('git');
      key = await makeKey(work);
      const src = join(work, 'src');
      mkdirSync(src);
      git(src, 'init', '-q', '-b', 'main');
      writeFileSync(join(src, 'hello.txt'), 'hello from v1\n');
      git(src, 'add', 'hello.txt');
      git(src, 'commit', '-q', '-m', 'v1');
      git(src, 'tag', 'v1');
      commit = git(src, 'rev-parse', 'HEAD');
      // A later commit on the branch: the build must check out the tag, not the tip.
      writeFileSync(join(src, 'hello.txt'), 'hello from the tip\n');
      git(src, 'commit', '-q', '-am', 'tip');
      const served = join(work, 'served');
      mkdirSync(served);
      git(work, 'clone', '-q', '--bare', src, join(served, 'repo.git'));
      daemon = await startDaemon(served);
      url = `git://127.0.0.1:${daemon.port}/repo.git`;
    });
    afterAll(async () => {
      if (daemon !== undefined) await stopDaemon(daemon.child);
      rmSync(work, { recursive: true, force: true });
    });

    function packagedHello(outDir: string): string | undefined {
      const pkg = readApk(new Uint8Array(readFileSync(join(outDir, 'x86_64', 'gitdemo-1.0.0-r0.apk'))));
      const file = pkg.files.find((f) => f.path === 'usr/share/gitdemo/hello.txt');
      return file === undefined ? undefined : Buffer.from(file.data).toString('utf8');
    }

    it('checks out a tag in a hermetic build from the host-side mirror', async () => {
      const cacheDir = join(work, 'cache');
      const config = join(work, 'melange.yaml');
      writeFileSync(config, recipe(url, 'v1', commit));
      const out = join(work, 'out1');
      await build(config, { outDir: out, cacheDir, signingKey: key });
      expect(packagedHello(out)).toBe('hello from v1\n');
      const mirror = join(cacheDir, 'git', `${mirrorKey(url)}.git`);
      expect(git(mirror, 'rev-parse', 'refs/tags/v1')).toBe(commit);
    });

    it('fails the step on a wrong expected-commit', async () => {
      const config = join(work, 'wrong.yaml');
      writeFileSync(config, recipe(url, 'v1', 'f'.repeat(40)));
      let error: unknown;
      try {
        await build(config, {
          outDir: join(work, 'out-wrong'),
          cacheDir: join(work, 'cache'),
          signingKey: key,
        });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MelangeError);
      expect((error as MelangeError).code).toBe('MELANGE_STEP_FAILED');
    });

    it('builds again with --offline from the mirror while the server is stopped', async () => {
      await stopDaemon(daemon.child);
      const out = join(work, 'out2');
      await build(join(work, 'melange.yaml'), {
        outDir: out,
        cacheDir: join(work, 'cache'),
        signingKey: key,
        offline: true,
      });
      expect(packagedHello(out)).toBe('hello from v1\n');
    });

    it('offline without a mirror is MELANGE_SOURCE_OFFLINE', async () => {
      let error: unknown;
      try {
        await build(join(work, 'melange.yaml'), {
          outDir: join(work, 'out-empty'),
          cacheDir: join(work, 'empty-cache'),
          signingKey: key,
          offline: true,
        });
      } catch (e) {
        error = e;
      }
      expect((error as MelangeError | undefined)?.code).toBe('MELANGE_SOURCE_OFFLINE');
    });
  },
);

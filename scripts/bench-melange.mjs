#!/usr/bin/env node
// `pnpm bench melange`: what tk melange build costs on top of the work itself, as ratios.
//  1. fixed cost: a trivial recipe (one step that writes one file) built end to end — guest from the
//     warm guest cache, sandbox, packaging, SBOM, signature, index — against the same shell step run
//     once by a bare `bwrap` in an already assembled root;
//  2. GNU hello 2.10: the whole `tk melange build` (warm caches) against the same
//     extract/configure/make/install/strip run by hand in one bwrap call in the same root.
// Needs the bootstrap repository and sources (./scripts/setup.sh) and a build (`pnpm build`).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleGuest, buildPackages, compileRecipe, loadRecipe } from '../apps/melange/dist/index.js';
import { generateKeyPair, writeKeyPair } from '../packages/keys/dist/index.js';

const root = join(import.meta.dirname, '..');
const repo = join(root, '.cache/bootstrap/repo');
const key = join(repo, 'tk-bootstrap.rsa.pub');
const tarball = join(root, '.cache/bootstrap/sources/hello_2.10.orig.tar.gz');
const HELLO_SHA256 = '31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b';

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchMelange(report, { helloRuns = 2 } = {}) {
  if (!existsSync(join(repo, 'x86_64', 'APKINDEX.tar.gz')) || !existsSync(tarball)) {
    console.log(
      'melange: skipped measuring: the bootstrap repository or sources are missing (run ./scripts/setup.sh)',
    );
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'tk-bench-melange-'));
  const apkCache = join(work, 'apk-cache');
  const signingKey = join(work, 'melange.rsa');
  await writeKeyPair(signingKey, await generateKeyPair({ bits: 2048 }));
  const common = {
    hostArch: 'x86_64',
    archs: ['x86_64'],
    repositoryAppend: [repo],
    keyringAppend: [key],
    env: { SOURCE_DATE_EPOCH: '1700000000' },
    isRoot: process.getuid() === 0,
    uid: process.getuid(),
    gid: process.getgid(),
    toolVersion: 'bench',
    tempDir: work,
    apkCacheDir: apkCache,
    signingKey,
  };
  const bwrap = (guest, workspace, script) =>
    execFileSync(
      'bwrap',
      [
        '--bind',
        guest,
        '/',
        '--bind',
        workspace,
        '/home/build',
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--unshare-user',
        '--uid',
        '1000',
        '--gid',
        '1000',
        '--unshare-pid',
        '--die-with-parent',
        '--clearenv',
        '--setenv',
        'PATH',
        '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin',
        '--setenv',
        'HOME',
        '/home/build',
        '--setenv',
        'SOURCE_DATE_EPOCH',
        '1700000000',
        '--chdir',
        '/home/build',
        '/bin/sh',
        '-c',
        script,
      ],
      { stdio: 'ignore' },
    );

  try {
    // 1. Fixed cost of a trivial recipe.
    const trivial = join(work, 'trivial');
    mkdirSync(trivial);
    const step =
      'mkdir -p /home/build/melange-out/trivial/usr/share/trivial && echo hi > /home/build/melange-out/trivial/usr/share/trivial/hi';
    writeFileSync(
      join(trivial, 'melange.yaml'),
      `package:\n  name: trivial\n  version: 1.0.0\n  epoch: 0\n  copyright:\n    - license: MIT\nenvironment:\n  contents:\n    packages: [busybox, busybox-binsh, tk-baselayout]\npipeline:\n  - runs: ${step}\n`,
    );
    const tkRuns = [];
    for (let i = 0; i < 6; i++) {
      const start = performance.now();
      await buildPackages({
        ...common,
        configPath: join(trivial, 'melange.yaml'),
        outDir: join(work, `out-${i}`),
        cacheDir: join(work, 'cache'),
      });
      if (i > 0) tkRuns.push(performance.now() - start); // the first run fills the guest cache
    }
    const guestDir = join(work, 'trivial-guest');
    const recipe = await loadRecipe(join(trivial, 'melange.yaml'));
    const compiled = await compileRecipe(recipe.recipe, { arch: 'x86_64' });
    await assembleGuest({
      environment: compiled.environment,
      arch: 'x86_64',
      repositoryAppend: [repo],
      keyringAppend: [key],
      baseDir: trivial,
      dir: guestDir,
      sourceDateEpoch: 0,
      env: {},
      isRoot: common.isRoot,
      noGuestCache: true,
    });
    const rawRuns = [];
    for (let i = 0; i < 20; i++) {
      const ws = join(work, `ws-${i}`);
      mkdirSync(ws);
      const start = performance.now();
      bwrap(guestDir, ws, step);
      rawRuns.push(performance.now() - start);
    }
    const tk = median(tkRuns);
    const raw = median(rawRuns);
    report(
      'melange build of a trivial recipe (warm guest cache)',
      tk.toFixed(0),
      'ms',
      'guest copy + sandbox + package + index',
    );
    report('  the same step in a bare bwrap (root already assembled)', raw.toFixed(0), 'ms');
    report('  ratio: tk fixed cost / bare bwrap step', (tk / raw).toFixed(1), '×');

    // 2. GNU hello, whole build against the same commands by hand.
    const hello = join(work, 'hello');
    mkdirSync(join(hello, 'cache'), { recursive: true });
    copyFileSync(join(root, 'test-fixtures/melange/hello/melange.yaml'), join(hello, 'melange.yaml'));
    copyFileSync(tarball, join(hello, 'cache', `sha256:${HELLO_SHA256}`));
    const helloTk = [];
    for (let i = 0; i <= helloRuns; i++) {
      const start = performance.now();
      await buildPackages({
        ...common,
        configPath: join(hello, 'melange.yaml'),
        outDir: join(hello, `out-${i}`),
        cacheDir: join(hello, 'cache'),
        offline: true,
      });
      if (i > 0) helloTk.push(performance.now() - start); // the first run fills the guest cache
    }
    const helloCompiled = await compileRecipe((await loadRecipe(join(hello, 'melange.yaml'))).recipe, {
      arch: 'x86_64',
    });
    const helloByHand = [];
    for (let i = 0; i < helloRuns; i++) {
      const guest = join(hello, `guest-${i}`);
      await assembleGuest({
        environment: helloCompiled.environment,
        arch: 'x86_64',
        repositoryAppend: [repo],
        keyringAppend: [key],
        baseDir: hello,
        dir: guest,
        sourceDateEpoch: 0,
        env: {},
        isRoot: common.isRoot,
        cacheDir: apkCache,
      });
      const ws = join(hello, `ws-${i}`);
      mkdirSync(ws);
      copyFileSync(tarball, join(ws, 'hello-2.10.tar.gz'));
      const start = performance.now();
      bwrap(
        guest,
        ws,
        [
          'set -e',
          'tar -x --no-same-owner --strip-components=1 -f hello-2.10.tar.gz',
          './configure --host=x86_64-pc-linux-gnu --build=x86_64-pc-linux-gnu --prefix=/usr --sysconfdir=/etc --libdir=/usr/lib --mandir=/usr/share/man --infodir=/usr/share/info --localstatedir=/var',
          'make -j$(nproc) V=1',
          'make install DESTDIR=/home/build/out V=1',
          'strip -g out/usr/bin/hello',
        ].join('\n'),
      );
      helloByHand.push(performance.now() - start);
      rmSync(guest, { recursive: true, force: true });
    }
    // 3. Foreign arch: a small C program for aarch64 (qemu-user through binfmt_misc), against the same
    //    compile by hand in the same aarch64 root; and a two-arch build against the two single-arch ones.
    if (existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64')) {
      const small = join(work, 'small');
      mkdirSync(small);
      writeFileSync(
        join(small, 'answer.c'),
        '#include <stdio.h>\nint main(void) { printf("42\\n"); return 0; }\n',
      );
      const compile =
        'mkdir -p /home/build/melange-out/answer/usr/bin && cc -O2 -o /home/build/melange-out/answer/usr/bin/answer answer.c';
      writeFileSync(
        join(small, 'melange.yaml'),
        `package:\n  name: answer\n  version: 1.0.0\n  epoch: 0\n  copyright:\n    - license: MIT\nenvironment:\n  contents:\n    packages: [build-base, busybox]\npipeline:\n  - runs: ${compile}\n`,
      );
      const one = async (archs, i) => {
        const start = performance.now();
        await buildPackages({
          ...common,
          archs,
          parallel: 2,
          configPath: join(small, 'melange.yaml'),
          outDir: join(small, `out-${archs.join('-')}-${i}`),
          cacheDir: join(small, 'cache'),
        });
        return performance.now() - start;
      };
      await one(['x86_64', 'aarch64'], 'warm'); // fills the guest caches of both arches
      const arm = [];
      const amd = [];
      const both = [];
      for (let i = 0; i < 3; i++) {
        arm.push(await one(['aarch64'], i));
        amd.push(await one(['x86_64'], i));
        both.push(await one(['x86_64', 'aarch64'], i));
      }
      const armCompiled = await compileRecipe((await loadRecipe(join(small, 'melange.yaml'))).recipe, {
        arch: 'aarch64',
      });
      const armGuest = join(small, 'guest-aarch64');
      await assembleGuest({
        environment: armCompiled.environment,
        arch: 'aarch64',
        repositoryAppend: [repo],
        keyringAppend: [key],
        baseDir: small,
        dir: armGuest,
        sourceDateEpoch: 0,
        env: {},
        isRoot: common.isRoot,
        cacheDir: apkCache,
      });
      const byHand = [];
      for (let i = 0; i < 3; i++) {
        const ws = join(small, `ws-${i}`);
        mkdirSync(ws);
        copyFileSync(join(small, 'answer.c'), join(ws, 'answer.c'));
        const start = performance.now();
        bwrap(armGuest, ws, compile);
        byHand.push(performance.now() - start);
      }
      report(
        'melange build of a small C program for aarch64 (qemu-user)',
        (median(arm) / 1000).toFixed(1),
        's',
      );
      report(
        '  the same compile by hand under qemu-user in the same root',
        (median(byHand) / 1000).toFixed(1),
        's',
      );
      report('  ratio: tk aarch64 build / by hand', (median(arm) / median(byHand)).toFixed(2), '×');
      report('two-arch build (x86_64 + aarch64, parallel)', (median(both) / 1000).toFixed(1), 's');
      report('  sum of the two single-arch builds', ((median(arm) + median(amd)) / 1000).toFixed(1), 's');
      report(
        '  speed-up of building the arches side by side',
        ((median(arm) + median(amd)) / median(both)).toFixed(2),
        '×',
      );
    }

    const a = median(helloTk);
    const b = median(helloByHand);
    report('melange build of GNU hello 2.10 (warm caches)', (a / 1000).toFixed(1), 's');
    report('  the same configure/make/install/strip by hand in bwrap', (b / 1000).toFixed(1), 's');
    report('  ratio: tk build / by hand', (a / b).toFixed(2), '×');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await benchMelange((name, value, unit, note = '') =>
    console.log(`${name.padEnd(58)} ${String(value).padStart(10)} ${unit.padEnd(6)} ${note}`),
  );
}

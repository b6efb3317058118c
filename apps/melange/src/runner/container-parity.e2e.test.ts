/**
 * The same recipe built with bubblewrap and with podman gives byte-identical packages and index (issue 8:
 * "The same recipe built with bubblewrap and with podman gives byte-identical packages"). The recipe is
 * test-fixtures/melange/libgreet: a C library with five subpackages, stripped, with executables and a
 * shared library whose modes must survive the container's bind mount.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApk } from '@tk/apk';
import { ROOT, build, buildBench, makeKey, tempDir } from '../../test/helpers.ts';
import { runnerFor } from './index.ts';

const bench = buildBench();
const podman = ['/usr/bin/podman', '/usr/local/bin/podman'].find((p) => existsSync(p));
const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
const isRoot = process.getuid?.() === 0;
const skipReason = !bench.ready
  ? bench.reason
  : podman === undefined
    ? 'podman is not installed (apt-get install podman runc)'
    : !isRoot
      ? 'the podman runner lends the workspace to uid 1000, which needs root'
      : undefined;
const LIBGREET = join(ROOT, 'test-fixtures/melange/libgreet', 'melange.yaml');

describe.skipIf(skipReason !== undefined)(
  `bubblewrap and podman build the same bytes${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    let work: string;
    let key: string;

    beforeAll(async () => {
      work = tempDir('runner-parity');
      key = await makeKey(work);
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('libgreet: every package and the index are byte for byte the same', async () => {
      const outs = { bubblewrap: join(work, 'out-bwrap'), podman: join(work, 'out-podman') };
      await build(LIBGREET, {
        outDir: outs.bubblewrap,
        cacheDir: join(work, 'cache-bwrap'),
        signingKey: key,
      });
      const runner = runnerFor('podman', {
        isRoot,
        hostUser: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
        container: {
          ...(runc === undefined ? {} : { runtime: 'runc' }),
          ulimits: ['nofile=1024:1024', 'nproc=1024:1024'],
        },
      });
      const result = await build(LIBGREET, {
        outDir: outs.podman,
        cacheDir: join(work, 'cache-podman'),
        signingKey: key,
        runner,
      });
      expect(result.archs[0]!.packages.map((p) => p.name)).toEqual([
        'libgreet',
        'libgreet-dev',
        'libgreet-doc',
        'greet-bye',
        'greet-hi',
        'libgreet-extra',
      ]);

      const files = (dir: string): string[] => readdirSync(join(dir, 'x86_64')).sort();
      expect(files(outs.podman)).toEqual(files(outs.bubblewrap));
      const differing = files(outs.bubblewrap).filter(
        (f) =>
          !readFileSync(join(outs.bubblewrap, 'x86_64', f)).equals(
            readFileSync(join(outs.podman, 'x86_64', f)),
          ),
      );
      expect(differing).toEqual([]);

      // And the bytes are right, not merely equal: executables kept their modes, root owns everything.
      const hi = readApk(new Uint8Array(readFileSync(join(outs.podman, 'x86_64', 'greet-hi-1.2.3-r1.apk'))));
      const lib = readApk(new Uint8Array(readFileSync(join(outs.podman, 'x86_64', 'libgreet-1.2.3-r1.apk'))));
      const entry = (pkg: typeof hi, path: string) => pkg.files.find((f) => f.path === path);
      expect(entry(hi, 'usr/bin/greet-hi')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
      expect(entry(lib, 'usr/lib/libgreet.so.1.2.3')).toMatchObject({ mode: 0o755, uid: 0, gid: 0 });
    }, 600_000);
  },
);

/**
 * Hermetic builds and secrets (the sandbox has no network unless asked; fetch still works because it runs
 * on the host; --env-file and --secret values reach the steps and no byte of any output), and one command
 * building a small C program with a test for x86_64 and aarch64 (qemu-user through binfmt_misc).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApk, verifyApk } from '@tk/apk';
import { loadKeyring } from '@tk/keys';
import { readIndexArchive } from '@tk/repo';
import { parseElf } from '../src/package/elf.ts';
import { build, buildBench, makeKey, tempDir, testBuilt } from './helpers.ts';

const bench = buildBench();
const aarch64 = existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64');

function recipe(name: string, steps: string, extra = ''): string {
  return [
    'package:',
    `  name: ${name}`,
    '  version: 1.0.0',
    '  epoch: 0',
    '  copyright:',
    '    - license: MIT',
    extra,
    'environment:',
    '  contents:',
    '    packages: [busybox, busybox-binsh, tk-baselayout]',
    'pipeline:',
    steps,
    '',
  ].join('\n');
}

/** Every byte a package carries, decompressed: control and data sections. */
function packageText(path: string): string {
  const bytes = readFileSync(path);
  const pkg = readApk(new Uint8Array(bytes));
  const control = gunzipSync(bytes.subarray(pkg.sections.control.start, pkg.sections.control.end));
  const data = gunzipSync(bytes.subarray(pkg.sections.data.start, pkg.sections.data.end));
  return control.toString('latin1') + data.toString('latin1');
}

describe.skipIf(!bench.ready)(
  `hermetic builds and secrets${bench.ready ? '' : ` (skipped: ${bench.reason})`}`,
  () => {
    let work: string;
    let key: string;
    let server: Server;
    let port: number;

    beforeAll(async () => {
      work = tempDir('hermetic');
      key = await makeKey(work);
      server = createServer((req, res) => {
        if (req.url === '/src.tar') {
          res.end(readFileSync(join(work, 'src.tar')));
        } else res.end('reachable\n');
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      await new Promise<void>((done) => server.close(() => done()));
      rmSync(work, { recursive: true, force: true });
    });

    it('a step that opens a TCP connection fails without networking and succeeds with it', async () => {
      const dir = join(work, 'net');
      mkdirSync(dir, { recursive: true });
      const step = `  - runs: |\n      wget -q -O - http://127.0.0.1:${port}/ > /tmp/answer\n      grep reachable /tmp/answer\n      mkdir -p \${{targets.destdir}}/etc && cp /tmp/answer \${{targets.destdir}}/etc/answer`;
      writeFileSync(join(dir, 'closed.yaml'), recipe('closed', step));
      writeFileSync(join(dir, 'open.yaml'), recipe('open', step, 'capabilities:\n  networking: true'));
      await expect(
        build(join(dir, 'closed.yaml'), { outDir: join(dir, 'out'), cacheDir: join(dir, 'cache') }),
      ).rejects.toMatchObject({
        code: 'MELANGE_STEP_FAILED',
      });
      await build(join(dir, 'open.yaml'), { outDir: join(dir, 'out'), cacheDir: join(dir, 'cache') });
      await build(join(dir, 'closed.yaml'), {
        outDir: join(dir, 'out2'),
        cacheDir: join(dir, 'cache'),
        network: true,
      });
      expect(existsSync(join(dir, 'out', 'x86_64', 'open-1.0.0-r0.apk'))).toBe(true);
      expect(existsSync(join(dir, 'out2', 'x86_64', 'closed-1.0.0-r0.apk'))).toBe(true);
    }, 120_000);

    it('fetch still works in a hermetic build: the source comes from 127.0.0.1 through the host', async () => {
      const dir = join(work, 'fetch');
      mkdirSync(join(dir, 'src', 'pkg-1.0.0'), { recursive: true });
      writeFileSync(join(dir, 'src', 'pkg-1.0.0', 'data.txt'), 'from the local server\n');
      const { execFileSync } = await import('node:child_process');
      execFileSync('tar', ['-cf', join(work, 'src.tar'), '-C', join(dir, 'src'), 'pkg-1.0.0']);
      const sha = execFileSync('sha256sum', [join(work, 'src.tar')], { encoding: 'utf8' }).split(' ')[0]!;
      writeFileSync(
        join(dir, 'fetched.yaml'),
        recipe(
          'fetched',
          `  - uses: fetch\n    with:\n      uri: http://127.0.0.1:${port}/src.tar\n      expected-sha256: ${sha}\n  - runs: |\n      mkdir -p \${{targets.destdir}}/usr/share\n      cp data.txt \${{targets.destdir}}/usr/share/data.txt`,
        ),
      );
      await build(join(dir, 'fetched.yaml'), { outDir: join(dir, 'out'), cacheDir: join(dir, 'cache') });
      const pkg = readApk(new Uint8Array(readFileSync(join(dir, 'out', 'x86_64', 'fetched-1.0.0-r0.apk'))));
      const file = pkg.files.find((f) => f.path === 'usr/share/data.txt')!;
      expect(Buffer.from(file.data).toString()).toBe('from the local server\n');
      expect(existsSync(join(dir, 'cache', `sha256:${sha}`))).toBe(true);
    }, 120_000);

    it('a secret from --env-file and --secret reaches the step and no byte of the outputs or the log', async () => {
      const dir = join(work, 'secret');
      mkdirSync(dir, { recursive: true });
      const token = 'tk-s3cr3t-token-8a1f2c';
      const password = 'hunter2-but-longer-0f9e';
      writeFileSync(join(dir, 'build.env'), `export API_TOKEN="${token}"\n`);
      writeFileSync(join(dir, 'password.txt'), `${password}\n`);
      writeFileSync(
        join(dir, 'secret.yaml'),
        recipe(
          'secretive',
          [
            '  - runs: |',
            `      test "$API_TOKEN" = "${token.slice(0, 3)}$(echo "$API_TOKEN" | cut -c4-)"`,
            '      echo "the token is $API_TOKEN and the password is $DB_PASSWORD"',
            '      test -n "$DB_PASSWORD"',
            '      mkdir -p ${{targets.destdir}}/usr/share/secretive',
            '      echo "$API_TOKEN" | sha256sum | cut -d" " -f1 > ${{targets.destdir}}/usr/share/secretive/token.sha256',
          ].join('\n'),
        ),
      );
      const lines: string[] = [];
      const out = join(dir, 'out');
      await build(join(dir, 'secret.yaml'), {
        outDir: out,
        cacheDir: join(dir, 'cache'),
        envFiles: [join(dir, 'build.env')],
        secrets: [`DB_PASSWORD=${join(dir, 'password.txt')}`],
        signingKey: key,
        onStepOutput: (line) => void lines.push(line),
      });
      const log = lines.join('\n');
      expect(log).toContain('the token is *** and the password is ***');
      const apk = join(out, 'x86_64', 'secretive-1.0.0-r0.apk');
      const everything = [
        packageText(apk),
        readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz')).toString('latin1'),
        gunzipSync(
          readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz')).subarray(
            readIndexArchive(new Uint8Array(readFileSync(join(out, 'x86_64', 'APKINDEX.tar.gz'))))
              .signedStart,
          ),
        ).toString('latin1'),
        log,
      ];
      for (const text of everything) {
        expect(text.includes(token)).toBe(false);
        expect(text.includes(password)).toBe(false);
      }
      // The step saw the real value: the hash of the token is in the package.
      const { createHash } = await import('node:crypto');
      expect(packageText(apk)).toContain(createHash('sha256').update(`${token}\n`).digest('hex'));

      // A step that writes the secret into the install tree: refused, nothing written.
      writeFileSync(
        join(dir, 'leaky.yaml'),
        recipe(
          'leaky',
          '  - runs: |\n      mkdir -p ${{targets.destdir}}/etc\n      echo "$DB_PASSWORD" > ${{targets.destdir}}/etc/leak',
        ),
      );
      await expect(
        build(join(dir, 'leaky.yaml'), {
          outDir: out,
          cacheDir: join(dir, 'cache'),
          secrets: [`DB_PASSWORD=${join(dir, 'password.txt')}`],
        }),
      ).rejects.toMatchObject({ code: 'MELANGE_SECRET_LEAK' });
      expect(existsSync(join(out, 'x86_64', 'leaky-1.0.0-r0.apk'))).toBe(false);
    }, 120_000);

    it.skipIf(!aarch64)(
      'builds a C program with a test for x86_64 and aarch64 in one command',
      async () => {
        const dir = join(work, 'multi');
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          join(dir, 'answer.c'),
          '#include <stdio.h>\nint main(void) { printf("42\\n"); return 0; }\n',
        );
        writeFileSync(
          join(dir, 'melange.yaml'),
          [
            'package:',
            '  name: answer',
            '  version: 1.0.0',
            '  epoch: 0',
            '  copyright:',
            '    - license: MIT',
            '  target-architecture: [amd64, arm64]',
            'environment:',
            '  contents:',
            '    packages: [build-base, busybox]',
            'pipeline:',
            '  - runs: |',
            '      mkdir -p ${{targets.destdir}}/usr/bin',
            '      cc -O2 -o ${{targets.destdir}}/usr/bin/answer answer.c',
            '  - uses: strip',
            'test:',
            '  environment:',
            '    contents:',
            '      packages: [busybox]',
            '  pipeline:',
            '    - runs: test "$(answer)" = 42',
            '',
          ].join('\n'),
        );
        const out = join(dir, 'packages');
        const result = await build(join(dir, 'melange.yaml'), {
          outDir: out,
          cacheDir: join(dir, 'cache'),
          archs: ['x86_64,aarch64'],
          parallel: 2,
          signingKey: key,
        });
        expect(result.archs.map((a) => a.arch)).toEqual(['x86_64', 'aarch64']);
        const keyring = await loadKeyring([`${key}.pub`]);
        const machines: Record<string, number> = { x86_64: 62, aarch64: 183 };
        for (const arch of ['x86_64', 'aarch64']) {
          const bytes = new Uint8Array(readFileSync(join(out, arch, 'answer-1.0.0-r0.apk')));
          expect(verifyApk(bytes, keyring).status).toBe('OK');
          const pkg = readApk(bytes);
          expect(pkg.pkginfo.arch).toBe(arch);
          const elf = parseElf(pkg.files.find((f) => f.path === 'usr/bin/answer')!.data);
          expect(elf?.machine).toBe(machines[arch]);
          const index = readIndexArchive(new Uint8Array(readFileSync(join(out, arch, 'APKINDEX.tar.gz'))));
          expect(index.entries.map((e) => `${e.name}-${e.version}-${e.arch}`)).toEqual([
            `answer-1.0.0-r0-${arch}`,
          ]);
          expect(index.signatures).toHaveLength(1);
        }
        const tested = await testBuilt(join(dir, 'melange.yaml'), {
          outDir: out,
          cacheDir: join(dir, 'cache'),
          publicKey: `${key}.pub`,
          archs: ['amd64', 'arm64'],
          tempDir: work,
        });
        expect(tested.results.map((r) => [r.arch, r.package, r.kind])).toEqual([
          ['x86_64', 'answer', 'test'],
          ['aarch64', 'answer', 'test'],
        ]);
      },
      600_000,
    );
  },
);

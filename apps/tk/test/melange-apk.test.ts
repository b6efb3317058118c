import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readApk } from '@tk/apk';
import { readIndexArchive } from '@tk/repo';
import { FIXTURES, ROOT, scratch, tk } from './helpers.ts';

describe('tk melange keygen', () => {
  it('writes melange.rsa (0600, PKCS#1) and melange.rsa.pub (0644, SPKI) that openssl reads', async () => {
    const dir = scratch();
    const r = await tk(dir, 'melange', 'keygen', '--key-size', '2048');
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(dir, 'melange.rsa')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'melange.rsa.pub')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(dir, 'melange.rsa'), 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(
      execFileSync('openssl', ['rsa', '-in', join(dir, 'melange.rsa'), '-check', '-noout'], {
        encoding: 'utf8',
      }),
    ).toMatch(/RSA key ok/);
    const again = await tk(dir, 'melange', 'keygen', '--key-size', '2048');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error \[KEY_EXISTS\]/);
    expect((await tk(dir, 'melange', 'keygen', 'other.rsa', '--key-size', '1024')).stderr).toMatch(
      /KEY_TOO_SMALL/,
    );
  });

  it('generates 4096-bit keys by default', async () => {
    const dir = scratch();
    expect((await tk(dir, 'melange', 'keygen', 'big.rsa')).code).toBe(0);
    expect(
      execFileSync('openssl', ['rsa', '-in', join(dir, 'big.rsa'), '-text', '-noout'], { encoding: 'utf8' }),
    ).toMatch(/4096 bit/);
  });
});

describe('tk melange index / sign / sign-index and tk apk verify', () => {
  it('indexes, signs and verifies a repository the way melange and apk do', async () => {
    const dir = scratch(
      'apko-testrepo/x86_64',
      'apko-testrepo/melange.rsa',
      'apko-testrepo/melange.rsa.pub',
      'unsigned/hello-0.1.0-r0.apk',
    );
    const apks = [
      'custom-ca-certs-1-1.0.0-r0.apk',
      'pretend-baselayout-1.0.0-r0.apk',
      'replayout-1.0.0-r0.apk',
    ].map((f) => `x86_64/${f}`);
    const index = await tk(
      dir,
      'melange',
      'index',
      '-o',
      'out/APKINDEX.tar.gz',
      '--signing-key',
      'melange.rsa',
      ...apks,
    );
    expect(index.code, index.stderr).toBe(0);
    const written = readIndexArchive(new Uint8Array(readFileSync(join(dir, 'out/APKINDEX.tar.gz'))));
    expect(written.entries.map((e) => e.name)).toEqual([
      'custom-ca-certs-1',
      'pretend-baselayout',
      'replayout',
    ]);
    expect(written.signatures[0]!.entryName).toBe('.SIGN.RSA256.melange.rsa.pub');

    // --merge adds to the existing index; --arch filters.
    const merged = await tk(
      dir,
      'melange',
      'index',
      '-o',
      'out/APKINDEX.tar.gz',
      '--merge',
      '--arch',
      'x86_64',
      '--signing-key',
      'melange.rsa',
      'x86_64/custom-ca-certs-2-1.0.0-r0.apk',
      join(FIXTURES, 'apko-testrepo/aarch64/replayout-1.0.0-r0.apk'),
    );
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(/MELANGE_INDEX_ARCH_MISMATCH/);
    expect(
      readIndexArchive(new Uint8Array(readFileSync(join(dir, 'out/APKINDEX.tar.gz')))).entries,
    ).toHaveLength(4);

    const verify = await tk(
      dir,
      'apk',
      'verify',
      '--keyring',
      'melange.rsa.pub',
      'out/APKINDEX.tar.gz',
      ...apks,
    );
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toBe(
      ['out/APKINDEX.tar.gz: 0 - OK', ...apks.map((a) => `${a}: 0 - OK`)].join('\n') + '\n',
    );

    // Sign an unsigned package in place, then it verifies.
    expect((await tk(dir, 'apk', 'verify', '--keys-dir', '.', 'hello-0.1.0-r0.apk')).stdout).toBe(
      'hello-0.1.0-r0.apk: 0 - UNTRUSTED\n',
    );
    const before = readApk(new Uint8Array(readFileSync(join(dir, 'hello-0.1.0-r0.apk'))));
    expect(
      (await tk(dir, 'melange', 'sign', '--signing-key', 'melange.rsa', 'hello-0.1.0-r0.apk')).code,
    ).toBe(0);
    const after = readApk(new Uint8Array(readFileSync(join(dir, 'hello-0.1.0-r0.apk'))));
    expect(after.identity).toBe(before.identity);
    expect((await tk(dir, 'apk', 'verify', '--keys-dir', '.', 'hello-0.1.0-r0.apk')).stdout).toBe(
      'hello-0.1.0-r0.apk: 0 - OK\n',
    );

    // sign-index refuses an already signed index without --force.
    const resign = await tk(
      dir,
      'melange',
      'sign-index',
      '--signing-key',
      'melange.rsa',
      'out/APKINDEX.tar.gz',
    );
    expect(resign.code).toBe(1);
    expect(resign.stderr).toMatch(/error \[REPO_ALREADY_SIGNED\].*\n {2}hint: pass --force/);
    expect(
      (
        await tk(
          dir,
          'melange',
          'sign-index',
          '--signing-key',
          'melange.rsa',
          '--force',
          'out/APKINDEX.tar.gz',
        )
      ).code,
    ).toBe(0);
  });

  it('prints apk-tools verdicts for real packages and exits with the number of failures', async () => {
    const dir = scratch();
    const files = [
      'negative/neon-4604-r0.apk',
      'negative/hello-wolfi-2.12.1-r0.apk',
      'unsigned/xset-doc-1.2.5-r1.apk',
      'wolfi/libcap-2.69-r0.apk',
    ].map((f) => join(FIXTURES, f));
    const r = await tk(
      dir,
      'apk',
      'verify',
      '--keyring',
      join(FIXTURES, 'keys'),
      '--keyring',
      join(FIXTURES, 'apko-testrepo/melange.rsa.pub'),
      ...files,
    );
    expect(
      r.stdout
        .split('\n')
        .slice(0, 4)
        .map((l) => l.slice(l.lastIndexOf(': ') + 2)),
    ).toEqual(['-129 - BAD signature', '-129 - BAD signature', '0 - UNTRUSTED', '0 - OK']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /neon-4604-r0.apk: the RSA signature by "wolfi-signing.rsa.pub" does not verify/,
    );
  });

  it("prints apk-tools' codes for files that are not packages (as a hand-built apk-tools 2.14.10 does)", async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'garbage.apk'), 'not an apk\n');
    writeFileSync(
      join(dir, 'trunc.apk'),
      readFileSync(join(FIXTURES, 'apko-testrepo/x86_64/replayout-1.0.0-r0.apk')).subarray(0, 1000),
    );
    const r = await tk(
      dir,
      'apk',
      'verify',
      '--keyring',
      join(FIXTURES, 'apko-testrepo/melange.rsa.pub'),
      'garbage.apk',
      'trunc.apk',
    );
    expect(r.stdout).toBe('garbage.apk: -5 - IO ERROR\ntrunc.apk: -74 - BAD archive\n');
    expect(r.code).toBe(2);
  });

  it('tk apk info shows metadata and contents, and --json is canonical', async () => {
    const dir = scratch();
    const file = join(FIXTURES, 'apko-testrepo/x86_64/replayout-1.0.0-r0.apk');
    const r = await tk(dir, 'apk', 'info', file);
    expect(r.stdout).toContain('replayout-1.0.0-r0 depends on:\npretend-baselayout\n');
    expect(r.stdout).toContain('-rw-r--r-- 501:20 etc/os-release');
    const json = await tk(dir, 'apk', 'info', '--json', file);
    const doc = JSON.parse(json.stdout) as { identity: string; files: unknown[] };
    expect(doc.identity).toBe('Q11/HhSewwwOXgl0r0ffb0O0BRtYc=');
    expect(doc.files).toHaveLength(7);
  });

  it('reports a missing file and a corrupt package with a code and no stack', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'bad.apk'), 'not a package');
    const missing = await tk(dir, 'apk', 'info', 'nope.apk');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error \[ENOENT\]/);
    const bad = await tk(dir, 'apk', 'info', 'bad.apk');
    expect(bad.stderr).toMatch(/^error \[APK_BAD_FORMAT\] .*bad\.apk.*\n {2}hint: /);
  });
});

describe('the built binary', () => {
  it('runs from apps/tk/dist after `pnpm build`', () => {
    const main = join(ROOT, 'apps/tk/dist/main.js');
    expect(existsSync(main), 'run `pnpm build` first (the test command does)').toBe(true);
    const out = execFileSync(
      process.execPath,
      [
        main,
        'apk',
        'verify',
        '--keyring',
        join(FIXTURES, 'apko-testrepo/melange.rsa.pub'),
        join(FIXTURES, 'apko-testrepo/aarch64/replayout-1.0.0-r0.apk'),
      ],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/: 0 - OK\n$/);
  });
});

/**
 * checkRootfs on roots made by tk's own assembler (`buildRootTree`, the code `tk apko build` runs) from
 * packages built here, then tampered with on purpose.
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApk, readApk, emptyPkgInfo, type ApkInputFile, type ApkPackage, type PkgInfo } from '@tk/apk';
import { concatBytes, silentLogger } from '@tk/core';
import { writeLayerTar } from '@tk/oci';
import { treeEntries } from '@tk/rootfs';
import { readTar } from '@tk/tar';
import { buildRootTree, entrypointOf, type FetchedApk } from '../build/assemble.ts';
import type { PreparedBuild, ResolvedArch } from '../build/prepare.ts';
import { parseImageConfig } from '../config/index.ts';
import { checkRootfs, type RootfsCheck } from './check-rootfs.ts';
import { TK_OS_RELEASE } from './generated.ts';
import { LayerFs, type LayerEntry } from './layer-fs.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dir = (path: string, extra: Partial<ApkInputFile> = {}): ApkInputFile => ({
  path,
  type: 'directory',
  ...extra,
});
const file = (path: string, text: string, extra: Partial<ApkInputFile> = {}): ApkInputFile => ({
  path,
  type: 'file',
  data: enc(text),
  ...extra,
});
const link = (path: string, target: string): ApkInputFile => ({ path, type: 'symlink', linkname: target });

const CERT = (seed: string): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(seed.repeat(20)).toString('base64').slice(0, 64)}\nQUJD\n-----END CERTIFICATE-----\n`;

async function pkg(name: string, files: ApkInputFile[], extra: Partial<PkgInfo> = {}): Promise<ApkPackage> {
  const built = await buildApk({
    pkginfo: { ...emptyPkgInfo(name, '1.0-r0'), arch: 'x86_64', ...extra },
    files,
    sourceDateEpoch: 1_700_000_000,
  });
  return readApk(built.bytes, { source: name });
}

const CONFIG = `
contents:
  packages: [base, busybox, certs, tool]
  runtime_keyring:
    - name: runtime.rsa.pub
      content: "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n"
entrypoint:
  type: service-bundle
  services:
    web: /usr/bin/tool --serve
accounts:
  groups:
    - groupname: app
      gid: 4242
  users:
    - username: app
      uid: 4242
      gid: 4242
certificates:
  additional:
    - name: extra
      content: |
${CERT('extra')
  .split('\n')
  .filter(Boolean)
  .map((l) => `        ${l}`)
  .join('\n')}
`;

let packages: ApkPackage[];

beforeAll(async () => {
  packages = [
    await pkg('base', [
      dir('etc'),
      file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
      file('etc/group', 'root:x:0:\n'),
      file('etc/hosts', '127.0.0.1 localhost\n'),
      dir('tmp', { mode: 0o1777 }),
      dir('home'),
      dir('home/build', { uid: 1000, gid: 1000 }),
      dir('usr'),
      dir('usr/bin'),
      dir('usr/lib'),
      link('lib', 'usr/lib'),
    ]),
    await pkg('busybox', [
      dir('bin'),
      file('bin/busybox', 'BUSYBOX BINARY', { mode: 0o755 }),
      dir('etc/busybox-paths.d'),
      file('etc/busybox-paths.d/busybox', '/bin/sh\n/bin/ls\n/usr/bin/env\n/sbin/init\n/bin/busybox\n'),
    ]),
    await pkg('certs', [
      dir('etc/ssl'),
      dir('etc/ssl/certs'),
      file('etc/ssl/certs/ca-certificates.crt', CERT('one') + CERT('two')),
    ]),
    await pkg('tool', [
      file('usr/bin/tool', 'TOOL v1', { mode: 0o4755 }),
      link('usr/bin/tool-alias', 'tool'),
      file('usr/lib/libtool.so', 'LIB', { mode: 0o755 }),
      { path: 'usr/bin/tool-hard', type: 'hardlink', linkname: 'usr/bin/tool' },
    ]),
  ];
});

/** The root `tk apko build` would make of these packages, as its layer. */
async function buildFs(
  configText = CONFIG,
  list: ApkPackage[] = packages,
): Promise<{ fs: LayerFs; entrypoint?: string[] }> {
  const config = parseImageConfig(configText);
  const prepared = {
    config,
    keys: [],
    keyring: new Map(),
    repositories: [{ role: 'image', spec: { line: 'https://example.test/repo' } }],
    logger: silentLogger,
  } as unknown as PreparedBuild;
  const resolved = { arch: 'x86_64', world: list.map((p) => p.pkginfo.pkgname) } as unknown as ResolvedArch;
  const fetched = list.map(
    (p) =>
      ({
        resolved: { entry: { checksum: p.identity }, repository: {} },
        fetched: { pkg: p },
      }) as unknown as FetchedApk,
  );
  const { tree } = await buildRootTree(prepared, resolved, fetched, {
    created: 0,
    devices: true,
    logger: silentLogger,
  });
  const fs = new LayerFs();
  fs.applyLayer(readTar(concatBytes(writeLayerTar(treeEntries(tree)).chunks)).entries);
  const { entrypoint } = entrypointOf(config);
  return { fs, ...(entrypoint === undefined ? {} : { entrypoint }) };
}

function check(built: { fs: LayerFs; entrypoint?: string[] }, apkArch = 'x86_64'): RootfsCheck {
  return checkRootfs(built.fs, {
    apkArch,
    ...(built.entrypoint === undefined ? {} : { entrypoint: built.entrypoint }),
  });
}

const codes = (result: RootfsCheck): string[] =>
  result.findings.map((f) =>
    `${f.code} ${f.path ?? ''}${f.package === undefined ? '' : ` [${f.package}]`}`.trim(),
  );

function put(fs: LayerFs, path: string, entry: Partial<LayerEntry>): void {
  const previous = fs.entries.get(path);
  const data = entry.data ?? previous?.data ?? new Uint8Array(0);
  fs.entries.set(path, {
    path,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    layer: 0,
    ...previous,
    ...entry,
    data,
    size: data.byteLength,
  });
}

describe('checkRootfs on a root tk built', () => {
  it('finds nothing, and lists every path tk wrote with its rule', async () => {
    const result = check(await buildFs());
    expect(codes(result)).toEqual([]);
    expect(result.database).toBe('/usr/lib/apk/db/installed');
    expect(result.packages.map((p) => p.name)).toEqual(['base', 'busybox', 'certs', 'tool']);
    expect(result.filesChecked).toBe(11);
    const byRule = (rule: string): string[] =>
      result.generated.filter((g) => g.rule === rule).map((g) => g.path);
    expect(byRule('skeleton')).toEqual([
      '/dev',
      '/etc/apk',
      '/etc/apk/keys',
      '/proc',
      '/var',
      '/var/cache',
      '/var/cache/apk',
      '/var/cache/misc',
    ]);
    expect(byRule('device')).toEqual([
      '/dev/console',
      '/dev/null',
      '/dev/random',
      '/dev/urandom',
      '/dev/zero',
    ]);
    expect(byRule('accounts')).toEqual(['/etc/group', '/etc/passwd', '/etc/shadow']);
    expect(result.generated.find((g) => g.path === '/etc/passwd')).toMatchObject({ package: 'base-1.0-r0' });
    expect(result.generated.find((g) => g.path === '/etc/shadow')!.package).toBeUndefined();
    expect(byRule('home-directory')).toEqual(['/home/app']);
    expect(byRule('service-bundle')).toEqual(['/sv', '/sv/web', '/sv/web/run']);
    expect(byRule('certificates')).toEqual(['/etc/ssl/certs/ca-certificates.crt']);
    expect(result.generated.find((g) => g.rule === 'certificates')!.note).toMatch(
      /with 1 certificate from certificates.additional/,
    );
    expect(byRule('busybox-link')).toEqual(['/bin/ls', '/bin/sh', '/sbin/init', '/usr/bin/env']);
    expect(byRule('os-release')).toEqual(['/etc/os-release']);
    expect(byRule('apk-database')).toEqual([
      '/etc/apk/arch',
      '/etc/apk/repositories',
      '/etc/apk/world',
      '/usr/lib/apk',
      '/usr/lib/apk/db',
      '/usr/lib/apk/db/installed',
      '/usr/lib/apk/db/lock',
      '/usr/lib/apk/db/scripts.tar',
      '/usr/lib/apk/db/triggers',
    ]);
    expect(byRule('apk-keys')).toEqual(['/etc/apk/keys/runtime.rsa.pub']);
  });

  it('a minimal root with no accounts, certificates or busybox', async () => {
    const result = check(await buildFs('contents:\n  packages: [tool]\n', [packages[3]!]));
    expect(codes(result)).toEqual([]);
    expect(result.generated.map((g) => g.rule)).not.toContain('busybox-link');
    // passwd is always written; without a package it is tk's own.
    expect(result.generated.filter((g) => g.rule === 'accounts').map((g) => g.path)).toEqual(['/etc/passwd']);
  });

  describe('tampering', () => {
    let built: { fs: LayerFs; entrypoint?: string[] };
    beforeAll(async () => {
      built = await buildFs();
    });
    const tampered = async (change: (fs: LayerFs) => void, apkArch?: string): Promise<string[]> => {
      const copy = await buildFs();
      change(copy.fs);
      return codes(check(copy, apkArch));
    };

    it('a file added by hand', async () => {
      expect(
        await tampered((fs) => put(fs, 'usr/bin/evil', { data: enc('#!/bin/sh\n'), mode: 0o755 })),
      ).toEqual(['UNOWNED /usr/bin/evil']);
    });

    it('a directory added by hand, empty or with a file in it', async () => {
      expect(await tampered((fs) => put(fs, 'opt', { type: 'directory', mode: 0o755 }))).toEqual([
        'UNOWNED /opt',
      ]);
      expect(
        await tampered((fs) => {
          put(fs, 'opt', { type: 'directory', mode: 0o755 });
          put(fs, 'opt/payload', { data: enc('x') });
        }),
      ).toEqual(['UNOWNED /opt', 'UNOWNED /opt/payload']);
    });

    it('a package file whose bytes changed, size kept', async () => {
      const result = await tampered((fs) => put(fs, 'usr/bin/tool', { data: enc('TOOL v2') }));
      // The hard link shares the inode; apk records no checksum for the link itself.
      expect(result).toEqual(['CHECKSUM_MISMATCH /usr/bin/tool [tool-1.0-r0]']);
    });

    it('the same finding says the size when it changed', async () => {
      const copy = await buildFs();
      put(copy.fs, 'usr/lib/libtool.so', { data: enc('LIBRARY') });
      const [finding] = check(copy).findings;
      expect(finding).toMatchObject({
        code: 'CHECKSUM_MISMATCH',
        path: '/usr/lib/libtool.so',
        expected: `sha1:${createHash('sha1').update('LIB').digest('hex')}`,
        actual: `sha1:${createHash('sha1').update('LIBRARY').digest('hex')} (7 bytes)`,
      });
    });

    it('a mode or owner change (setuid dropped, file given away)', async () => {
      expect(await tampered((fs) => put(fs, 'usr/bin/tool', { mode: 0o755 }))).toEqual([
        'MODE_MISMATCH /usr/bin/tool [tool-1.0-r0]',
      ]);
      expect(await tampered((fs) => put(fs, 'usr/lib/libtool.so', { uid: 1000 }))).toEqual([
        'OWNER_MISMATCH /usr/lib/libtool.so [tool-1.0-r0]',
      ]);
      expect(await tampered((fs) => put(fs, 'home/build', { mode: 0o777 }))).toEqual([
        'MODE_MISMATCH /home/build [base-1.0-r0]',
      ]);
      expect(await tampered((fs) => put(fs, 'tmp', { mode: 0o755 }))).toEqual([
        'MODE_MISMATCH /tmp [base-1.0-r0]',
      ]);
    });

    it('a missing file or directory, and a file turned into a directory', async () => {
      expect(await tampered((fs) => fs.entries.delete('etc/hosts'))).toEqual([
        'MISSING /etc/hosts [base-1.0-r0]',
      ]);
      expect(
        await tampered((fs) => {
          fs.entries.delete('usr/lib/libtool.so');
          put(fs, 'usr/lib/libtool.so', { type: 'directory', mode: 0o755 });
        }),
      ).toEqual(['TYPE_MISMATCH /usr/lib/libtool.so [tool-1.0-r0]']);
      expect(
        await tampered((fs) => {
          for (const p of [...fs.entries.keys()]) if (p.startsWith('etc/ssl')) fs.entries.delete(p);
        }),
      ).toEqual([
        'MISSING /etc/ssl/certs/ca-certificates.crt [certs-1.0-r0]',
        'MISSING /etc/ssl [certs-1.0-r0]',
        'MISSING /etc/ssl/certs [certs-1.0-r0]',
      ]);
    });

    it('a symlink pointed elsewhere', async () => {
      expect(
        await tampered((fs) => put(fs, 'usr/bin/tool-alias', { type: 'symlink', linkname: '/tmp/x' })),
      ).toEqual(['LINK_MISMATCH /usr/bin/tool-alias [tool-1.0-r0]']);
    });

    it('generated paths that do not look the way tk writes them', async () => {
      expect(await tampered((fs) => put(fs, 'bin/ls', { linkname: '/tmp/evil' }))).toEqual([
        'GENERATED_MISMATCH /bin/ls',
      ]);
      expect(await tampered((fs) => put(fs, 'dev/null', { devmajor: 8 }))).toEqual([
        'GENERATED_MISMATCH /dev/null',
      ]);
      expect(await tampered((fs) => put(fs, 'etc/os-release', { data: enc('ID=alpine\n') }))).toEqual([
        'GENERATED_MISMATCH /etc/os-release',
      ]);
      expect(await tampered(() => undefined, 'aarch64')).toEqual(['GENERATED_MISMATCH /etc/apk/arch']);
      expect(await tampered((fs) => put(fs, 'etc/apk/keys/evil.pub', { data: enc('not a key') }))).toEqual([
        'GENERATED_MISMATCH /etc/apk/keys/evil.pub',
      ]);
      expect(await tampered((fs) => put(fs, 'sv/web/run', { data: enc('#!/bin/sh\nrm -rf /\n') }))).toEqual([
        'GENERATED_MISMATCH /sv/web/run',
      ]);
      expect(await tampered((fs) => put(fs, 'home/app', { mode: 0o755 }))).toEqual([
        'GENERATED_MISMATCH /home/app',
      ]);
      expect(await tampered((fs) => put(fs, 'var/cache/apk', { mode: 0o777 }))).toEqual([
        'GENERATED_MISMATCH /var/cache/apk',
      ]);
    });

    it('a certificate bundle with something other than certificates appended', async () => {
      const bundle = new TextDecoder().decode(
        built.fs.entries.get('etc/ssl/certs/ca-certificates.crt')!.data,
      );
      expect(
        await tampered((fs) =>
          put(fs, 'etc/ssl/certs/ca-certificates.crt', { data: enc(`${bundle}#!/bin/sh\n`) }),
        ),
      ).toEqual(['CHECKSUM_MISMATCH /etc/ssl/certs/ca-certificates.crt [certs-1.0-r0]']);
    });

    it('documents the one blind spot: a rewritten /etc/passwd is not compared with the package', async () => {
      const passwd = new TextDecoder().decode(built.fs.entries.get('etc/passwd')!.data);
      expect(passwd).toContain('root:x:0:0');
      expect(
        await tampered((fs) => put(fs, 'etc/passwd', { data: enc(passwd.replace('root:x:', 'root::')) })),
      ).toEqual([]);
      // Its mode and owner still are.
      expect(await tampered((fs) => put(fs, 'etc/passwd', { mode: 0o666 }))).toEqual([
        'MODE_MISMATCH /etc/passwd [base-1.0-r0]',
      ]);
    });

    it('reads the database through the lib -> usr/lib symlink; its absence or damage is a finding', async () => {
      expect(await tampered((fs) => fs.entries.delete('usr/lib/apk/db/installed'))).toEqual([
        'NO_APK_DATABASE',
      ]);
      expect(
        await tampered((fs) => {
          const db = new TextDecoder().decode(fs.entries.get('usr/lib/apk/db/installed')!.data);
          put(fs, 'usr/lib/apk/db/installed', { data: enc(db.replace('R:hosts', 'R:../hosts')) });
        }),
      ).toEqual([
        'DB_MALFORMED /usr/lib/apk/db/installed', // R:../hosts
        'DB_MALFORMED /usr/lib/apk/db/installed', // its Z: has no file
        'UNOWNED /etc/hosts',
      ]);
      expect(
        await tampered((fs) => put(fs, 'usr/lib/apk/db/installed', { data: new Uint8Array([0xff, 0xfe]) })),
      ).toEqual(['DB_MALFORMED /usr/lib/apk/db/installed']);
    });

    it('two packages claiming one path', async () => {
      const result = await tampered((fs) => {
        const db = new TextDecoder().decode(fs.entries.get('usr/lib/apk/db/installed')!.data);
        put(fs, 'usr/lib/apk/db/installed', { data: enc(`${db}P:intruder\nV:6.6.6\nF:etc\nR:hosts\n\n`) });
      });
      expect(result).toEqual(['DUPLICATE_OWNER /etc/hosts [intruder-6.6.6]']);
    });

    it('an unsafe layer entry', async () => {
      const copy = await buildFs();
      copy.fs.issues.push({
        name: '../../etc/cron.d/x',
        layer: 0,
        message: 'the name is not a safe relative path',
      });
      expect(codes(check(copy))).toEqual(['UNSAFE_PATH ../../etc/cron.d/x']);
    });
  });

  it('an image without tk generating os-release when a package has one', async () => {
    const withOs = [
      ...packages.slice(0, 3),
      await pkg('os', [
        dir('usr'),
        dir('usr/lib'),
        file('usr/lib/os-release', 'ID=test\n'),
        dir('etc'),
        link('etc/os-release', '../usr/lib/os-release'),
      ]),
    ];
    const result = check(
      await buildFs(CONFIG.replace('[base, busybox, certs, tool]', '[base, busybox, certs, os]'), withOs),
    );
    expect(codes(result)).toEqual([]);
    expect(result.generated.map((g) => g.rule)).not.toContain('os-release');
    expect(TK_OS_RELEASE).toContain('ID=tk');
  });
});

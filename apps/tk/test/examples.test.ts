/**
 * The examples under examples/ that show melange and apko features, each built the way its README says:
 * from a copy of its folder laid out like the checkout (TEMP/examples/NAME, with TEMP/.cache and
 * TEMP/test-fixtures linking to the repository's), with the bootstrap repository and key passed as flags.
 * Then the images are loaded into podman and run.
 *
 * - static: a -static C binary, built for x86_64 and aarch64, on nothing but the base layout (no shell, no libc6);
 * - service: a non-root service with work-dir and paths: (owned state directory, group-readable config, symlink);
 * - greet: a library split with split/dev: -dev goes into a build image that compiles against it, never into
 *   the runtime image.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApk, type ApkPackage } from '@tk/apk';
import { fromUtf8 } from '@tk/core';
import type { TarEntry } from '@tk/tar';
import { layerEntries, tarballFiles } from './apko-support.ts';
import { BOOTSTRAP_REPO, PODMAN_RUN, ROOT, tk } from './helpers.ts';

const BOOTSTRAP_KEY = join(ROOT, 'test-fixtures/bootstrap/keys/tk-bootstrap.rsa.pub');
/** What a user's build writes into an example folder: never copied from the checkout. */
const GENERATED = new Set(['packages', 'melange.rsa', 'melange.rsa.pub', 'melange-cache', 'sboms']);

let temp: string;
/** Shared by every melange build of this file, so each guest is assembled once. */
let apkCache: string;
/** Images loaded into podman, removed at the end. */
const loaded: string[] = [];

beforeAll(() => {
  expect(
    existsSync(join(BOOTSTRAP_REPO, 'x86_64/APKINDEX.tar.gz')) &&
      existsSync(join(BOOTSTRAP_REPO, 'aarch64/APKINDEX.tar.gz')),
    'the bootstrap repository is missing: run ./scripts/setup.sh',
  ).toBe(true);
  temp = mkdtempSync(join(tmpdir(), 'tk-examples-'));
  symlinkSync(join(ROOT, '.cache'), join(temp, '.cache'));
  symlinkSync(join(ROOT, 'test-fixtures'), join(temp, 'test-fixtures'));
  mkdirSync(join(temp, 'examples'));
  apkCache = join(temp, 'apk-cache');
});

afterAll(() => {
  if (loaded.length > 0) spawnSync('podman', ['rmi', '--ignore', ...loaded], { stdio: 'pipe' });
  rmSync(temp, { recursive: true, force: true });
});

/** Copy examples/NAME (its sources and configs only) to TEMP/examples/NAME and make its signing key there. */
async function example(name: string): Promise<string> {
  const dir = join(temp, 'examples', name);
  cpSync(join(ROOT, 'examples', name), dir, {
    recursive: true,
    filter: (src) => !GENERATED.has(basename(src)) && !/\.(tar|spdx\.json)$/.test(src),
  });
  const r = await tk(dir, 'melange', 'keygen', '--key-size', '2048');
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

/** `tk melange build` as the READMEs run it (plus the shared apk cache). */
async function melangeBuild(dir: string, arch: string): Promise<void> {
  const r = await tk(
    dir,
    'melange',
    'build',
    'melange.yaml',
    '--arch',
    arch,
    '--signing-key',
    'melange.rsa',
    '--repository-append',
    BOOTSTRAP_REPO,
    '--keyring-append',
    BOOTSTRAP_KEY,
    '--apk-cache-dir',
    apkCache,
  );
  expect(r.code, r.stderr).toBe(0);
}

/** `tk melange test` as the READMEs run it: the built packages come from ./packages. */
async function melangeTest(dir: string, arch: string): Promise<string> {
  const r = await tk(
    dir,
    'melange',
    'test',
    'melange.yaml',
    '--arch',
    arch,
    '--repository-append',
    BOOTSTRAP_REPO,
    '--repository-append',
    './packages',
    '--keyring-append',
    BOOTSTRAP_KEY,
    '--keyring-append',
    'melange.rsa.pub',
    '--apk-cache-dir',
    apkCache,
  );
  expect(r.code, r.stderr).toBe(0);
  return r.stderr;
}

/** `tk apko build CONFIG TAG OUT --keyring-append melange.rsa.pub …` in DIR; returns the tarball path. */
async function apkoBuild(dir: string, config: string, tag: string, ...extra: string[]): Promise<string> {
  const out = join(dir, `${tag.replace(/[:/]/g, '_')}.tar`);
  const r = await tk(dir, 'apko', 'build', config, tag, out, '--keyring-append', 'melange.rsa.pub', ...extra);
  expect(r.code, r.stderr).toBe(0);
  return out;
}

/** A unique image name for this run. */
const tagFor = (name: string): string => `tk-test-example-${name}:${process.pid}`;

/** `podman load` a tarball; every image it loads (a single-arch one also as TAG) is removed at the end. */
function podmanLoad(tarball: string, tag: string, archs: string[]): void {
  const r = spawnSync('podman', ['load', '-i', tarball], { encoding: 'utf8' });
  loaded.push(...[...r.stdout.matchAll(/^Loaded image: (\S+)$/gm)].map((m) => m[1]!));
  expect(r.status, r.stderr).toBe(0);
  for (const arch of archs) expect(loaded).toContain(`localhost/${tag}-${arch}`);
}

/** `podman run --rm …`: exit status and output. */
function podmanRun(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', [...PODMAN_RUN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The image config and layer entries of TAG-ARCH in a docker-archive tarball. */
function imageOf(
  tarball: string,
  tagArch: string,
): {
  config: { User?: string; WorkingDir?: string; Entrypoint?: string[]; Cmd?: string[] };
  entries: TarEntry[];
} {
  const files = tarballFiles(tarball);
  const manifest = JSON.parse(fromUtf8(files.get('manifest.json')!)) as {
    Config: string;
    RepoTags: string[];
    Layers: string[];
  }[];
  const image = manifest.find((m) => m.RepoTags.includes(tagArch));
  expect(image, `${tagArch} in ${manifest.map((m) => m.RepoTags.join(',')).join(' ')}`).toBeDefined();
  expect(image!.Layers).toHaveLength(1);
  const config = JSON.parse(fromUtf8(files.get(image!.Config)!)) as {
    config: { User?: string; WorkingDir?: string; Entrypoint?: string[]; Cmd?: string[] };
  };
  return { config: config.config, entries: layerEntries(files.get(image!.Layers[0]!)!) };
}

/** The package names recorded in an image's installed database. */
function installed(entries: TarEntry[]): string[] {
  const db = entries.find((e) => e.name === 'lib/apk/db/installed' || e.name === 'usr/lib/apk/db/installed');
  expect(db, 'the installed database is in the layer').toBeDefined();
  return fromUtf8(db!.data)
    .split('\n')
    .filter((l) => l.startsWith('P:'))
    .map((l) => l.slice(2))
    .sort();
}

function entry(entries: TarEntry[], name: string): TarEntry {
  const e = entries.find((x) => x.name === name);
  expect(e, `${name} in the layer`).toBeDefined();
  return e!;
}

function apk(dir: string, arch: string, file: string): ApkPackage {
  return readApk(new Uint8Array(readFileSync(join(dir, 'packages', arch, file))));
}

describe('examples/static: a -static binary on the base layout alone', () => {
  let dir: string;
  let tarball: string;
  const tag = tagFor('static');

  it('builds archinfo for x86_64 and aarch64 with no shared-library dependency, and its test passes', async () => {
    dir = await example('static');
    await melangeBuild(dir, 'x86_64,aarch64');
    for (const arch of ['x86_64', 'aarch64']) {
      const pkg = apk(dir, arch, 'archinfo-1.0.0-r0.apk');
      expect(pkg.pkginfo.arch).toBe(arch);
      // A static binary needs nothing: melange's SCA gives it no so: dependency (no libc6).
      expect(pkg.pkginfo.depend).toEqual([]);
      expect(pkg.pkginfo.provides).toEqual(['cmd:archinfo=1.0.0-r0']);
      expect(pkg.files.map((f) => f.path)).toContain('usr/bin/archinfo');
    }
    const log = await melangeTest(dir, 'x86_64,aarch64');
    expect(log).toContain('archinfo 1.0.0: built for x86_64, running on x86_64, statically linked');
    expect(log).toContain('archinfo 1.0.0: built for aarch64, running on aarch64, statically linked');
  }, 180_000);

  it('without --keyring-append melange.rsa.pub, apko refuses the local repository', async () => {
    const r = await tk(dir, 'apko', 'build', 'apko.yaml', tag, join(dir, 'untrusted.tar'), '--arch', 'amd64');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('[REPO_UNTRUSTED_INDEX]');
    expect(r.stderr).toContain('melange.rsa.pub');
    expect(existsSync(join(dir, 'untrusted.tar'))).toBe(false);
  });

  it('builds a two-arch image holding exactly tk-baselayout and archinfo: no libc6, no busybox, no shell', async () => {
    tarball = await apkoBuild(dir, 'apko.yaml', tag);
    for (const arch of ['amd64', 'arm64']) {
      const { config, entries } = imageOf(tarball, `${tag}-${arch}`);
      expect(installed(entries)).toEqual(['archinfo', 'tk-baselayout']);
      expect(config.Entrypoint).toEqual(['/usr/bin/archinfo']);
      const names = entries.map((e) => e.name);
      expect(names).toContain('usr/bin/archinfo');
      expect(names.filter((n) => /^(usr\/)?bin\/(sh|busybox)$/.test(n))).toEqual([]);
      expect(names.filter((n) => /(^|\/)(libc\.so|ld-linux)/.test(n))).toEqual([]);
    }
  });

  it('runs on amd64 and (through qemu) arm64, and `--entrypoint /bin/sh` fails: there is no shell', () => {
    podmanLoad(tarball, tag, ['amd64', 'arm64']);
    const amd64 = podmanRun(`localhost/${tag}-amd64`);
    expect(amd64.stderr).toBe('');
    expect(amd64.stdout).toBe('archinfo 1.0.0: built for x86_64, running on x86_64, statically linked\n');
    const arm64 = podmanRun('--arch', 'arm64', `localhost/${tag}-arm64`);
    expect(arm64.stdout).toBe('archinfo 1.0.0: built for aarch64, running on aarch64, statically linked\n');
    const shell = podmanRun('--entrypoint', '/bin/sh', `localhost/${tag}-amd64`, '-c', 'echo reached');
    expect(shell.status).not.toBe(0);
    expect(shell.stdout).toBe('');
    expect(shell.stderr).toContain('/bin/sh');
  });
});

describe('examples/service: a non-root service with work-dir and paths:', () => {
  let dir: string;
  let tarball: string;
  const tag = tagFor('service');
  const image = `localhost/${tag}-amd64`;

  it('builds visits (linked against libc: it depends on so:libc.so.6) and its test passes', async () => {
    dir = await example('service');
    await melangeBuild(dir, 'x86_64');
    const pkg = apk(dir, 'x86_64', 'visits-0.3.0-r0.apk');
    expect(pkg.pkginfo.depend).toContain('so:libc.so.6');
    expect(pkg.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['usr/bin/visits', 'etc/visits/visits.conf']),
    );
    expect(await melangeTest(dir, 'x86_64')).toContain('front-desk: visit 2 recorded in');
  });

  it('builds an image whose config runs as 65532 in /var/lib/visits, with the paths: entries in its layer', async () => {
    tarball = await apkoBuild(dir, 'apko.yaml', tag, '--arch', 'amd64');
    const { config, entries } = imageOf(tarball, `${tag}-amd64`);
    expect(config.User).toBe('65532');
    expect(config.WorkingDir).toBe('/var/lib/visits');
    expect(config.Entrypoint).toEqual(['/usr/bin/visits']);
    expect(config.Cmd).toEqual(['--config', '/etc/visits/visits.conf']);
    expect(installed(entries)).toEqual(
      expect.arrayContaining(['busybox', 'libc6', 'tk-baselayout', 'visits']),
    );

    const state = entry(entries, 'var/lib/visits');
    expect([state.type, state.uid, state.gid, state.mode & 0o7777]).toEqual([
      'directory',
      65532,
      65532,
      0o750,
    ]);
    const conf = entry(entries, 'etc/visits/visits.conf');
    expect([conf.type, conf.uid, conf.gid, conf.mode & 0o7777]).toEqual(['file', 0, 65532, 0o640]);
    const link = entry(entries, 'srv/visits');
    expect([link.type, link.linkname]).toEqual(['symlink', '/var/lib/visits']);
    // The account apko wrote, and /etc itself still root's.
    const passwd = fromUtf8(entry(entries, 'etc/passwd').data);
    expect(passwd).toContain('visits:x:65532:65532:');
    const etc = entry(entries, 'etc');
    expect([etc.uid, etc.gid, etc.mode & 0o7777]).toEqual([0, 0, 0o755]);
  });

  it('runs as 65532 in its work-dir, writes its state there, and cannot write to /etc', () => {
    podmanLoad(tarball, tag, ['amd64']);
    const run = podmanRun(image);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(
      'front-desk: running as uid 65532 gid 65532 in /var/lib/visits\n' +
        'front-desk: visit 1 recorded in /var/lib/visits/visits.log\n',
    );
    const probe = podmanRun(
      '--entrypoint',
      '/bin/sh',
      image,
      '-c',
      [
        'id -u; id -g; pwd',
        'visits --config /etc/visits/visits.conf >/dev/null && visits >/dev/null',
        'cat /srv/visits/visits.log',
        'stat -c "%U:%G %a" /var/lib/visits/visits.log',
        'touch /etc/probe 2>/dev/null && echo wrote /etc/probe || echo /etc is read-only',
        'echo name=evil >>/etc/visits/visits.conf 2>/dev/null && echo wrote the config || echo the config is read-only',
        'touch /var/lib/probe 2>/dev/null && echo wrote /var/lib/probe || echo /var/lib is read-only',
        'grep -c . /etc/visits/visits.conf',
      ].join('\n'),
    );
    expect(probe.stdout).toBe(
      [
        '65532',
        '65532',
        '/var/lib/visits',
        'visit 1 by uid 65532',
        'visit 2 by uid 65532',
        'visits:visits 644',
        '/etc is read-only',
        'the config is read-only',
        '/var/lib is read-only',
        '2',
        '',
      ].join('\n'),
    );
  });
});

describe('examples/greet: split/dev puts libgreet-dev into the build image only', () => {
  let dir: string;
  const tag = tagFor('greet');
  const buildTag = tagFor('greet-build');

  it('builds libgreet, libgreet-dev and greet, each with the files and dependencies it should have', async () => {
    dir = await example('greet');
    await melangeBuild(dir, 'x86_64');
    const lib = apk(dir, 'x86_64', 'libgreet-1.0.0-r0.apk');
    const dev = apk(dir, 'x86_64', 'libgreet-dev-1.0.0-r0.apk');
    const prog = apk(dir, 'x86_64', 'greet-1.0.0-r0.apk');
    // Files and links, without directories and the package's own SBOM.
    const paths = (p: ApkPackage) =>
      p.files
        .filter((f) => f.type !== 'directory' && !f.path.startsWith('var/lib/db/sbom/'))
        .map((f) => f.path);
    expect(paths(lib)).toEqual(['usr/lib/libgreet.so.1', 'usr/lib/libgreet.so.1.0.0']);
    expect(paths(dev)).toEqual([
      'usr/include/greet.h',
      'usr/lib/libgreet.so',
      'usr/lib/pkgconfig/libgreet.pc',
    ]);
    expect(paths(prog)).toEqual(['usr/bin/greet']);
    expect(lib.pkginfo.provides).toContain('so:libgreet.so.1=1');
    // The -dev package needs the library its libgreet.so link points to; the program needs it too.
    expect(dev.pkginfo.depend).toEqual(['so:libgreet.so.1']);
    expect(dev.pkginfo.provides).toEqual(['pc:libgreet=1.0.0-r0']);
    expect(prog.pkginfo.depend).toContain('so:libgreet.so.1');
    expect(await melangeTest(dir, 'x86_64')).toContain('greet-1.0.0-r0: tests passed');
  });

  it('the runtime image holds the program and the library, not libgreet-dev, headers or a shell, and runs', async () => {
    const tarball = await apkoBuild(dir, 'apko.yaml', tag, '--arch', 'amd64');
    const { config, entries } = imageOf(tarball, `${tag}-amd64`);
    const names = installed(entries);
    expect(names).toEqual(expect.arrayContaining(['greet', 'libc6', 'libgreet', 'tk-baselayout']));
    expect(names).not.toContain('libgreet-dev');
    expect(names).not.toContain('busybox');
    expect(entries.filter((e) => e.name === 'usr/include' || e.name.startsWith('usr/include/'))).toEqual([]);
    expect(entries.map((e) => e.name)).not.toContain('usr/lib/libgreet.so');
    expect(config.User).toBe('65532');
    podmanLoad(tarball, tag, ['amd64']);
    expect(podmanRun(`localhost/${tag}-amd64`).stdout).toBe('Hello, world!\n');
    expect(podmanRun(`localhost/${tag}-amd64`, 'Ada', 'Grace').stdout).toBe('Hello, Ada!\nHello, Grace!\n');
  });

  it('the build image compiles and runs a program against libgreet with pkg-config', async () => {
    const tarball = await apkoBuild(dir, 'build.apko.yaml', buildTag, '--arch', 'amd64');
    const { config, entries } = imageOf(tarball, `${buildTag}-amd64`);
    expect(installed(entries)).toEqual(
      expect.arrayContaining(['build-base', 'libgreet', 'libgreet-dev', 'pkgconf']),
    );
    expect(config.WorkingDir).toBe('/work');
    podmanLoad(tarball, buildTag, ['amd64']);
    // The example's app.c, from a read-only mount: the header and library come from the image only.
    const r = podmanRun(
      '-v',
      `${dir}:/work:ro`,
      `localhost/${buildTag}-amd64`,
      'sh',
      '-c',
      'pkg-config --modversion libgreet && cc app.c $(pkg-config --cflags --libs libgreet) -o /tmp/app && /tmp/app',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1.0.0\nHello, builder! (libgreet 1.0.0)\n');
  }, 180_000);
});

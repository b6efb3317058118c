import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, tk } from './helpers.ts';
// The official SPDX 2.3 and 2.3.1 schemas through ajv, shared with @tk/sbom's tests.
import { schemaErrors } from '../../../packages/sbom/test/helpers.ts';
import {
  buildTestrepo,
  GOLDEN,
  goldenBlob,
  layerEntries,
  runTestrepoBuild,
  tarballFiles,
  testrepoWorkdir,
} from './apko-support.ts';

interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}
interface Index {
  manifests: { digest: string; platform: { architecture: string } }[];
}
const json = <T>(bytes: Uint8Array | undefined): T => JSON.parse(new TextDecoder().decode(bytes)) as T;

describe("tk apko build on apko's own test configuration", () => {
  it("produces the files, modes, owners and config fields of apko's golden image (with tk's documented differences)", async () => {
    const dir = await buildTestrepo();
    const files = tarballFiles(join(dir, 'out.tar'));
    const index = json<Index>(files.get('index.json'));
    const goldenIndex = json<Index>(readFileSync(join(GOLDEN, 'index.json')));
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(
      goldenIndex.manifests.map((m) => m.platform.architecture),
    );
    for (const [i, entry] of index.manifests.entries()) {
      const ours = json<Manifest>(files.get(entry.digest));
      const golden = json<Manifest>(goldenBlob(goldenIndex.manifests[i]!.digest));
      const ourLayer = layerEntries(files.get(`${ours.layers[0]!.digest.replace('sha256:', '')}.tar.gz`)!);
      const goldenLayer = layerEntries(goldenBlob(golden.layers[0]!.digest));
      // Deliberate differences (README "Compatibility"): apk database in lib/apk/db (scanners find it),
      // no /etc/apko.json, the configured world, package owners kept, no /opt and usr/lib/apk/exec.
      const skip = /^(etc\/apko\.json|etc\/apk\/world|lib\/apk|usr\/lib|usr\/lib\/apk.*|opt)$/;
      const describeEntry = (e: (typeof ourLayer)[number]) =>
        `${e.name} ${e.type} ${e.mode.toString(8)} ${e.type === 'file' ? e.data.length : e.linkname} ${e.devmajor}:${e.devminor}`;
      const goldenSet = goldenLayer.filter((e) => !skip.test(e.name)).map(describeEntry);
      const ourSet = ourLayer
        .filter((e) => !skip.test(e.name) && !e.name.startsWith('lib/apk/'))
        .map(describeEntry);
      expect(ourSet).toEqual(goldenSet);
      expect(ourLayer.find((e) => e.name === 'etc/os-release')).toMatchObject({ uid: 501, gid: 20 });
      expect(goldenLayer.find((e) => e.name === 'etc/os-release')).toMatchObject({ uid: 0, gid: 0 });
      for (const name of [
        'etc/os-release',
        'var/lib/db/sbom/replayout-1.0.0-r0.spdx.json',
        'var/lib/db/sbom/pretend-baselayout-1.0.0-r0.spdx.json',
      ]) {
        expect(
          Buffer.from(ourLayer.find((e) => e.name === name)!.data).equals(
            Buffer.from(goldenLayer.find((e) => e.name === name)!.data),
          ),
        ).toBe(true);
      }
      const ourConfig = json<Record<string, unknown>>(files.get(ours.config.digest));
      const goldenConfig = json<Record<string, unknown>>(goldenBlob(golden.config.digest));
      for (const key of ['architecture', 'os', 'created', 'variant'])
        expect(ourConfig[key]).toEqual(goldenConfig[key]);
      expect(ourConfig['config']).toEqual(goldenConfig['config']);
      expect((ourConfig['history'] as { comment: string }[])[0]!.comment).toBe('Title by Vendor');
    }
  });

  it('is reproducible: same tarball bytes twice, and from another directory', async () => {
    const a = await buildTestrepo();
    const b = await buildTestrepo();
    const first = readFileSync(join(a, 'out.tar'));
    expect(readFileSync(join(b, 'out.tar')).equals(first)).toBe(true);
    for (const sbom of ['sbom-x86_64.spdx.json', 'sbom-aarch64.spdx.json', 'sbom-index.spdx.json']) {
      expect(readFileSync(join(b, sbom)).equals(readFileSync(join(a, sbom)))).toBe(true);
    }
  });

  it('reuses compressed layers from --cache-dir, same bytes warm, and rebuilds corrupted entries', async () => {
    const dir = testrepoWorkdir();
    const layers = join(dir, 'cache/layers/sha256');
    const entries = (): string[] => readdirSync(layers).sort();
    const inodes = (): number[] => entries().map((name) => statSync(join(layers, name)).ino);
    await buildTestrepo(dir);
    const cold = readFileSync(join(dir, 'out.tar'));
    const stored = entries().map((name) => readFileSync(join(layers, name)));
    expect(stored).toHaveLength(2); // one layer per arch
    const coldInodes = inodes();

    // Warm: the entries are read, not rewritten (a rewrite renames a new file into place).
    await buildTestrepo(dir);
    expect(readFileSync(join(dir, 'out.tar')).equals(cold)).toBe(true);
    expect(inodes()).toEqual(coldInodes);

    // Corrupt every entry: one flipped byte in the blob, one truncated.
    const [first, second] = entries();
    const flipped = readFileSync(join(layers, first!));
    flipped[flipped.length - 30]! ^= 0x55;
    writeFileSync(join(layers, first!), flipped);
    truncateSync(join(layers, second!), statSync(join(layers, second!)).size - 1000);
    const r = await runTestrepoBuild(dir);
    expect(r.code).toBe(0);
    expect(r.stderr.match(/OCI_LAYER_CACHE_CORRUPT/g)).toHaveLength(2);
    expect(readFileSync(join(dir, 'out.tar')).equals(cold)).toBe(true);
    expect(entries().map((name) => readFileSync(join(layers, name)))).toEqual(stored);

    // --no-layer-cache neither reads nor writes the layer cache.
    rmSync(join(dir, 'cache/layers'), { recursive: true });
    await buildTestrepo(dir, '--no-layer-cache');
    expect(readFileSync(join(dir, 'out.tar')).equals(cold)).toBe(true);
    expect(existsSync(join(dir, 'cache/layers'))).toBe(false);
  });

  it("writes a lock file equal to apko's real apko.lock.json, and --lockfile installs exactly that", async () => {
    const dir = testrepoWorkdir();
    const r = await tk(dir, 'apko', 'lock', 'apko.yaml', '--cache-dir', join(dir, 'cache'));
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'apko.lock.json'), 'utf8')).toBe(
      readFileSync(join(FIXTURES, 'apko-testrepo/apko.lock.json'), 'utf8'),
    );
    await buildTestrepo(dir, '--lockfile', 'apko.lock.json');
    const plain = await buildTestrepo();
    expect(readFileSync(join(dir, 'out.tar')).equals(readFileSync(join(plain, 'out.tar')))).toBe(true);
  });

  it('refuses a lock whose packages no longer match the index', async () => {
    const dir = testrepoWorkdir();
    const lock = readFileSync(join(FIXTURES, 'apko-testrepo/apko.lock.json'), 'utf8').replace(
      'Q11/HhSewwwOXgl0r0ffb0O0BRtYc=',
      'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    );
    writeFileSync(join(dir, 'bad.lock.json'), lock);
    const r = await tk(
      dir,
      'apko',
      'build',
      'apko.yaml',
      'x:1',
      'out.tar',
      '--lockfile',
      'bad.lock.json',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[SOLVER_LOCK_CHECKSUM_MISMATCH\] locked package replayout-1.0.0-r0/m);
  });

  it('show-packages prints the resolved list per arch', async () => {
    const dir = testrepoWorkdir();
    const r = await tk(dir, 'apko', 'show-packages', 'apko.yaml', '--cache-dir', join(dir, 'cache'));
    expect(r.stdout).toBe(
      'x86_64:\n  pretend-baselayout 1.0.0-r0\n  replayout 1.0.0-r0\naarch64:\n  pretend-baselayout 1.0.0-r0\n  replayout 1.0.0-r0\n',
    );
    const one = await tk(
      dir,
      'apko',
      'show-packages',
      'apko.yaml',
      '--arch',
      'arm64',
      '--format',
      'name=version',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(one.stdout).toBe('pretend-baselayout=1.0.0-r0\nreplayout=1.0.0-r0\n');
  });

  it('lets one tag name two repositories and installs tagged packages from either', async () => {
    const dir = testrepoWorkdir();
    // Two overlays under one tag, as apk-tools' pinning12: the packages are only reachable through @overlay.
    cpSync(join(dir, 'testdata/packages'), join(dir, 'overlay1'), { recursive: true });
    cpSync(join(dir, 'testdata/packages'), join(dir, 'overlay2'), { recursive: true });
    writeFileSync(
      join(dir, 'tagged.yaml'),
      [
        'contents:',
        '  keyring: [./testdata/melange.rsa.pub]',
        '  repositories: ["@overlay ./overlay1", "@overlay ./overlay2"]',
        '  packages: [replayout@overlay]',
        'archs: [x86_64]',
        '',
      ].join('\n'),
    );
    const r = await tk(
      dir,
      'apko',
      'show-packages',
      'tagged.yaml',
      '--format',
      'name=version',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('pretend-baselayout=1.0.0-r0\nreplayout=1.0.0-r0\n');
    // Untagged, the same world finds nothing: the tag is what admits the overlays.
    writeFileSync(
      join(dir, 'untagged.yaml'),
      readFileSync(join(dir, 'tagged.yaml'), 'utf8').replace('replayout@overlay', 'replayout'),
    );
    const refused = await tk(
      dir,
      'apko',
      'show-packages',
      'untagged.yaml',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/replayout/);
  });

  it('accepts apk and OCI arch names and writes an OCI layout that skopeo and umoci read', async () => {
    const dir = testrepoWorkdir();
    const r = await tk(
      dir,
      'apko',
      'build',
      'apko.yaml',
      'golden:latest',
      'layout',
      '--output-format',
      'oci',
      '--arch',
      'x86_64,arm64',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(r.code, r.stderr).toBe(0);
    const digest = r.stdout.trim();
    const inspected = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${join(dir, 'layout')}:latest`], { encoding: 'utf8' }),
    ) as { Architecture: string };
    expect(inspected.Architecture).toBe('amd64');
    const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${join(dir, 'layout')}:latest`]);
    expect(`sha256:${execFileSync('sha256sum', { input: raw }).toString().split(' ')[0]}`).toBe(digest);
    execFileSync('umoci', ['unpack', '--image', `${join(dir, 'layout')}:latest-arm64`, join(dir, 'bundle')], {
      stdio: 'pipe',
    });
    expect(readFileSync(join(dir, 'bundle/rootfs/etc/os-release'), 'utf8')).toMatch(/replayout|ID=/);
    expect(readdirSync(join(dir, 'bundle/rootfs/var/lib/db/sbom')).sort()).toEqual([
      'pretend-baselayout-1.0.0-r0.spdx.json',
      'replayout-1.0.0-r0.spdx.json',
    ]);
    expect(existsSync(join(dir, 'layout', 'sbom-index.spdx.json'))).toBe(true);
  });

  it('the tarball is read by skopeo and copied to an OCI layout with the same per-arch digests', async () => {
    const dir = await buildTestrepo();
    const files = tarballFiles(join(dir, 'out.tar'));
    const index = json<Index>(files.get('index.json'));
    for (const [tag, i] of [
      ['latest-amd64', 0],
      ['latest-arm64', 1],
    ] as const) {
      const raw = execFileSync('skopeo', [
        'inspect',
        '--raw',
        `docker-archive:${join(dir, 'out.tar')}:golden:${tag}`,
      ]);
      const config = (JSON.parse(raw.toString()) as Manifest).config.digest;
      expect(config).toBe(json<Manifest>(files.get(index.manifests[i]!.digest)).config.digest);
    }
    execFileSync(
      'skopeo',
      ['copy', `docker-archive:${join(dir, 'out.tar')}:golden:latest-amd64`, `oci:${join(dir, 'copy')}:x`],
      { stdio: 'pipe' },
    );
    expect(existsSync(join(dir, 'copy/index.json'))).toBe(true);
  });

  it('names every package in its SBOMs, valid against the SPDX 2.3 schema', async () => {
    const dir = await buildTestrepo();
    for (const arch of ['x86_64', 'aarch64']) {
      const doc = JSON.parse(readFileSync(join(dir, `sbom-${arch}.spdx.json`), 'utf8')) as {
        packages: { name: string; versionInfo?: string; externalRefs?: { referenceLocator: string }[] }[];
      };
      expect(schemaErrors(readFileSync(join(dir, `sbom-${arch}.spdx.json`), 'utf8'))).toEqual([]);
      const purls = doc.packages
        .flatMap((p) => (p.externalRefs ?? []).map((r) => r.referenceLocator))
        .filter((l) => l.startsWith('pkg:apk/'));
      expect(
        purls.some((p) => p.startsWith('pkg:apk/') && p.includes(`replayout@1.0.0-r0?arch=${arch}`)),
      ).toBe(true);
      expect(purls.some((p) => p.includes(`pretend-baselayout@1.0.0-r0?arch=${arch}`))).toBe(true);
      const golden = JSON.parse(readFileSync(join(GOLDEN, `sboms/sbom-${arch}.spdx.json`), 'utf8')) as {
        packages: { name: string }[];
      };
      for (const name of golden.packages.map((p) => p.name).filter((n) => !n.startsWith('sha256:'))) {
        expect(doc.packages.map((p) => p.name)).toContain(name);
      }
    }
    expect(schemaErrors(readFileSync(join(dir, 'sbom-index.spdx.json'), 'utf8'))).toEqual([]);
  });
});

describe('tk apko errors', () => {
  it('reports every config problem with file, line and column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-apko-'));
    writeFileSync(
      join(dir, 'bad.yaml'),
      'contents:\n  packages: [busybox]\n  repostories: [x]\naccounts:\n  users:\n    - username: root\n      uid: 0\nsurprise: true\n',
    );
    const r = await tk(dir, 'apko', 'build', 'bad.yaml', 'x:1', 'out.tar');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:3:3: contents/);
    expect(r.stderr).toMatch(/bad\.yaml:7:\d+: accounts\.users\[0\]\.uid/);
    expect(r.stderr).toMatch(/bad\.yaml:8:1: /);
    expect(existsSync(join(dir, 'out.tar'))).toBe(false);
  });

  it('refuses an unsigned repository unless --ignore-signatures', async () => {
    const dir = testrepoWorkdir();
    writeFileSync(
      join(dir, 'apko.yaml'),
      'contents:\n  repositories: [./testdata/packages]\n  packages: [replayout]\narchs: [x86_64]\n',
    );
    const r = await tk(
      dir,
      'apko',
      'build',
      'apko.yaml',
      'x:1',
      'out.tar',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(r.stderr).toMatch(/error \[REPO_UNTRUSTED_INDEX\]/);
    const ok = await tk(
      dir,
      'apko',
      'build',
      'apko.yaml',
      'x:1',
      'out.tar',
      '--ignore-signatures',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('names the missing package and its chain', async () => {
    const dir = testrepoWorkdir();
    cpSync(join(dir, 'apko.yaml'), join(dir, 'orig.yaml'));
    const r = await tk(
      dir,
      'apko',
      'build',
      'apko.yaml',
      'x:1',
      'out.tar',
      '-p',
      'nonexistent-thing',
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error \[SOLVER_[A-Z_]+\].*nonexistent-thing/);
  });
});

describe('tk apko build-minirootfs, show-config and image time', () => {
  it('build-minirootfs writes the root of one arch as a tar (gzip for .tar.gz)', async () => {
    const dir = testrepoWorkdir();
    for (const name of ['rootfs.tar', 'rootfs.tar.gz']) {
      const r = await tk(
        dir,
        'apko',
        'build-minirootfs',
        'apko.yaml',
        name,
        '--build-arch',
        'aarch64',
        '--cache-dir',
        join(dir, 'cache'),
      );
      expect(r.code, r.stderr).toBe(0);
      const listing = execFileSync('tar', [name.endsWith('.gz') ? '-tzvf' : '-tvf', join(dir, name)], {
        encoding: 'utf8',
      });
      expect(listing).toMatch(/ etc\/os-release\n/);
      expect(listing).toMatch(/ lib\/apk\/db\/installed\n/);
      expect(listing).toMatch(/^drwxrwxrwt 0\/0 .* tmp$/m);
    }
    const installed = execFileSync('tar', ['-xOf', join(dir, 'rootfs.tar'), 'lib/apk/db/installed'], {
      encoding: 'utf8',
    });
    expect(installed).toContain('P:replayout\nV:1.0.0-r0\nA:aarch64\n');
  });

  it('show-config prints the configuration with flags applied', async () => {
    const dir = testrepoWorkdir();
    const r = await tk(dir, 'apko', 'show-config', 'apko.yaml', '-p', 'extra', '--arch', 'arm64');
    expect(r.code, r.stderr).toBe(0);
    const config = JSON.parse(r.stdout) as { contents: { packages: string[] }; archs: string[] };
    expect(config.contents.packages).toEqual(['replayout', 'extra']);
    expect(config.archs).toEqual(['arm64']);
  });

  it('takes the image time from SOURCE_DATE_EPOCH, else the newest of --build-date and the packages', async () => {
    const { runCli } = await import('@tk/tk');
    const created = async (env: Record<string, string>, ...extra: string[]): Promise<string> => {
      const dir = testrepoWorkdir();
      const code = await runCli(
        [
          'apko',
          'build',
          'apko.yaml',
          'x:1',
          'out.tar',
          '--arch',
          'amd64',
          '--cache-dir',
          join(dir, 'cache'),
          ...extra,
        ],
        {
          cwd: dir,
          env,
          stdout: { write: () => true },
          stderr: { write: () => true },
        },
      );
      expect(code).toBe(0);
      const files = tarballFiles(join(dir, 'out.tar'));
      const index = json<Index>(files.get('index.json'));
      const manifest = json<Manifest>(files.get(index.manifests[0]!.digest));
      return json<{ created: string }>(files.get(manifest.config.digest)).created;
    };
    expect(await created({ SOURCE_DATE_EPOCH: '1700000000' }, '--build-date', '2030-01-01T00:00:00Z')).toBe(
      '2023-11-14T22:13:20Z',
    );
    expect(await created({}, '--build-date', '2024-05-01T12:00:00Z')).toBe('2024-05-01T12:00:00Z');
    expect(await created({})).toBe('1970-01-01T00:00:00Z');
    const dir = testrepoWorkdir();
    const bad = await tk(dir, 'apko', 'build', 'apko.yaml', 'x:1', 'out.tar', '--build-date', 'yesterday');
    expect(bad.stderr).toMatch(/error \[APKO_BAD_OPTION\] --build-date "yesterday"/);
  });
});

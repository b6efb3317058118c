/**
 * verifyImage on small images written with @tk/oci's own writers (tarball and layout), and on containers
 * that were damaged or tampered with: digests, diff_ids, manifest.json, duplicate entries, missing blobs.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, isTkError } from '@tk/core';
import { gunzip } from '@tk/gzip';
import {
  assembleImage,
  assembleIndex,
  buildLayer,
  platformFromArch,
  writeDockerArchiveFile,
  writeOciLayout,
  type ImageArtifact,
  type IndexArtifact,
  type LayerEntry,
} from '@tk/oci';
import { imageSbom } from '@tk/sbom';
import { readTar, writeTar, type TarWriteEntry } from '@tk/tar';
import { looksLikeRegistryReference } from './image-source.ts';
import { verifyImage, type VerifyReport } from './verify-image.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const q1 = (s: string): string => `Q1${createHash('sha1').update(s).digest('base64')}`;
const d = (path: string, mode = 0o755): LayerEntry => ({
  path,
  type: 'directory',
  mode,
  uid: 0,
  gid: 0,
  mtime: 0,
});
const f = (path: string, text: string, mode = 0o644): LayerEntry => ({
  path,
  type: 'file',
  mode,
  uid: 0,
  gid: 0,
  mtime: 0,
  data: enc(text),
});

/** A tiny apk-installed root: package `app` owns usr/bin/app. */
function rootEntries(app = 'APP'): LayerEntry[] {
  return [
    d('lib'),
    d('lib/apk'),
    d('lib/apk/db'),
    f(
      'lib/apk/db/installed',
      `P:app\nV:1.0-r0\nA:x86_64\nF:usr\nF:usr/bin\nR:app\na:0:0:755\nZ:${q1('APP')}\n\n`,
    ),
    d('usr'),
    d('usr/bin'),
    f('usr/bin/app', app, 0o755),
  ];
}

async function image(layers: LayerEntry[][], arch = 'amd64'): Promise<ImageArtifact> {
  return assembleImage({
    platform: platformFromArch(arch),
    layers: await Promise.all(layers.map((l) => buildLayer(l))),
    config: { created: 0, entrypoint: ['/usr/bin/app'] },
  });
}

function sbomFor(img: ImageArtifact, packages: { name: string; version: string }[]): string {
  return imageSbom({
    arch: 'x86_64',
    platform: { architecture: 'amd64' },
    imageName: 'app',
    manifestDigest: img.manifest.digest,
    layerDigest: img.layers[0]!.digest,
    buildDate: 0,
    packages: packages.map((p) => ({
      ...p,
      arch: 'x86_64',
      checksum: 'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      namespace: 'tk',
    })),
    embedded: [],
    toolVersion: '0.1.0',
  });
}

let work: string;
let clean: IndexArtifact;
let n = 0;
const dirFor = (): string => {
  const dir = join(work, `case-${n++}`);
  mkdirSync(dir);
  return dir;
};

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isTkError(error)) return error.code;
    throw error;
  }
  return 'no error';
}

const summary = (report: VerifyReport): string[] =>
  report.platforms.flatMap((p) =>
    p.findings.map((x) => `${p.platform} ${x.code} ${x.path ?? x.package ?? ''}`.trim()),
  );

/** Rewrite a tar file: map each file entry (or drop it with undefined), then append extras. */
function rewriteTar(
  path: string,
  map: (name: string, data: Uint8Array) => Uint8Array | undefined,
  extra: { name: string; data: Uint8Array }[] = [],
): void {
  const entries = readTar(new Uint8Array(readFileSync(path))).entries;
  const out = [];
  for (const e of entries) {
    const data = map(e.name, e.data);
    if (data !== undefined) out.push({ name: e.name, type: 'file' as const, mode: 0o644, mtime: 0, data });
  }
  for (const e of extra)
    out.push({ name: e.name, type: 'file' as const, mode: 0o644, mtime: 0, data: e.data });
  writeFileSync(path, writeTar(out));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tk-verify-unit-'));
  clean = assembleIndex([await image([rootEntries()])]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('verifyImage', () => {
  it('verifies a tarball with its SBOM, and an OCI layout (apko shape and tagged)', async () => {
    const dir = dirFor();
    await writeDockerArchiveFile(join(dir, 'app.tar'), clean, { tags: ['app:1'] });
    writeFileSync(
      join(dir, 'sbom-x86_64.spdx.json'),
      sbomFor(clean.images[0]!, [{ name: 'app', version: '1.0-r0' }]),
    );
    const report = await verifyImage({ image: 'app.tar', cwd: dir });
    expect(summary(report)).toEqual([]);
    expect(report).toMatchObject({
      ok: true,
      source: 'docker-archive',
      digest: clean.index.digest,
      findings: 0,
    });
    expect(report.platforms[0]).toMatchObject({
      platform: 'linux/amd64',
      apkArch: 'x86_64',
      packages: ['app-1.0-r0'],
      filesChecked: 1,
      sbom: { status: 'ok', file: join(dir, 'sbom-x86_64.spdx.json') },
    });

    for (const tag of [undefined, 'latest']) {
      const layout = join(dirFor(), 'layout');
      await writeOciLayout(layout, clean, tag === undefined ? {} : { tag });
      const r = await verifyImage({ image: layout, cwd: '/', sbom: false });
      expect(r).toMatchObject({ ok: true, source: 'oci-layout', digest: clean.index.digest });
      expect(r.platforms).toHaveLength(1);
      expect(r.platforms[0]!.sbom).toEqual({ status: 'skipped', reason: '--no-sbom' });
    }
  });

  it('a missing default SBOM is a finding with a hint; --sbom-path looks elsewhere', async () => {
    const dir = dirFor();
    await writeDockerArchiveFile(join(dir, 'app.tar'), clean, { tags: ['app:1'] });
    const report = await verifyImage({ image: join(dir, 'app.tar'), cwd: '/' });
    expect(summary(report)).toEqual([`linux/amd64 SBOM_NOT_FOUND ${join(dir, 'sbom-x86_64.spdx.json')}`]);
    expect(report.platforms[0]!.findings[0]!.hint).toMatch(/--sbom-path DIR .* or --no-sbom/);
    mkdirSync(join(dir, 'sboms'));
    writeFileSync(join(dir, 'sboms/sbom-x86_64.spdx.json'), sbomFor(clean.images[0]!, []));
    const other = await verifyImage({ image: join(dir, 'app.tar'), cwd: dir, sbomPath: 'sboms' });
    expect(summary(other)).toEqual(['linux/amd64 SBOM_MISSING_PACKAGE app-1.0-r0']);
    writeFileSync(join(dir, 'sboms/sbom-x86_64.spdx.json'), '{"not":"spdx"}');
    const invalid = await verifyImage({ image: join(dir, 'app.tar'), cwd: dir, sbomPath: 'sboms' });
    expect(summary(invalid)).toEqual([
      `linux/amd64 SBOM_INVALID ${join(dir, 'sboms/sbom-x86_64.spdx.json')}`,
    ]);
  });

  it('verifies every platform, and applies whiteouts across layers', async () => {
    const amd = await image([rootEntries()]);
    const arm = await image(
      [
        [...rootEntries(), f('usr/bin/leftover', 'x'), d('opt'), f('opt/junk', 'y')],
        [f('usr/bin/.wh.leftover', ''), f('.wh.opt', '')],
      ],
      'arm64',
    );
    const dir = dirFor();
    await writeDockerArchiveFile(join(dir, 'multi.tar'), assembleIndex([amd, arm]), { tags: ['app:1'] });
    const report = await verifyImage({ image: join(dir, 'multi.tar'), cwd: '/', sbom: false });
    expect(report.platforms.map((p) => [p.platform, p.apkArch, p.layers])).toEqual([
      ['linux/amd64', 'x86_64', 1],
      ['linux/arm64', 'aarch64', 2],
    ]);
    // The arm64 image's etc/apk/arch is not checked (there is none); both are clean.
    expect(summary(report)).toEqual([]);
  });

  it('reports an image that is not from apk packages', async () => {
    const dir = dirFor();
    await writeDockerArchiveFile(
      join(dir, 'plain.tar'),
      assembleIndex([await image([[d('etc'), f('etc/motd', 'hi')]])]),
      { tags: ['plain:1'] },
    );
    const report = await verifyImage({ image: join(dir, 'plain.tar'), cwd: '/', sbom: false });
    expect(summary(report)).toEqual(['linux/amd64 NO_APK_DATABASE']);
    expect(report.ok).toBe(false);
  });

  describe('images that cannot be trusted (errors, not findings)', () => {
    it('a layer blob changed inside the tarball', async () => {
      const dir = dirFor();
      const path = join(dir, 'app.tar');
      await writeDockerArchiveFile(path, clean, { tags: ['app:1'] });
      rewriteTar(path, (name, data) =>
        name.endsWith('.tar.gz') ? concatBytes([data, new Uint8Array([0])]) : data,
      );
      expect(await codeOf(verifyImage({ image: path, cwd: '/', sbom: false }))).toBe(
        'VERIFY_DIGEST_MISMATCH',
      );
    });

    it("a config whose diff_id is not the layer's", async () => {
      const layer = await buildLayer(rootEntries());
      const img = assembleImage({
        platform: platformFromArch('amd64'),
        layers: [{ ...layer, diffId: `sha256:${'0'.repeat(64)}` }],
        config: { created: 0 },
      });
      const dir = dirFor();
      await writeOciLayout(join(dir, 'layout'), assembleIndex([img]));
      expect(await codeOf(verifyImage({ image: join(dir, 'layout'), cwd: '/', sbom: false }))).toBe(
        'VERIFY_DIGEST_MISMATCH',
      );
    });

    it('manifest.json (what docker load reads) naming another image than index.json', async () => {
      const evil = assembleIndex([await image([rootEntries('EVIL')])]);
      const dir = dirFor();
      const good = join(dir, 'good.tar');
      const bad = join(dir, 'bad.tar');
      await writeDockerArchiveFile(good, clean, { tags: ['app:1'] });
      await writeDockerArchiveFile(bad, evil, { tags: ['app:1'] });
      // The good index.json and blobs, plus the evil image's blobs and its manifest.json.
      const goodNames = new Set(readTar(new Uint8Array(readFileSync(good))).entries.map((e) => e.name));
      const evilFiles = readTar(new Uint8Array(readFileSync(bad)))
        .entries.filter((e) => e.name === 'manifest.json' || !goodNames.has(e.name))
        .map((e) => ({ name: e.name, data: e.data }));
      rewriteTar(good, (name, data) => (name === 'manifest.json' ? undefined : data), evilFiles);
      expect(await codeOf(verifyImage({ image: good, cwd: '/', sbom: false }))).toBe(
        'VERIFY_ARCHIVE_INCONSISTENT',
      );
    });

    it('two entries with the same name', async () => {
      const dir = dirFor();
      const path = join(dir, 'app.tar');
      await writeDockerArchiveFile(path, clean, { tags: ['app:1'] });
      rewriteTar(path, (_, data) => data, [{ name: 'index.json', data: enc('{}') }]);
      expect(await codeOf(verifyImage({ image: path, cwd: '/', sbom: false }))).toBe(
        'VERIFY_ARCHIVE_INCONSISTENT',
      );
    });

    it('a docker save tarball (manifest.json, no index.json): read through manifest.json, checked as strictly', async () => {
      const dir = dirFor();
      const saved = join(dir, 'saved.tar');
      await writeDockerArchiveFile(saved, clean, { tags: ['app:1'] });
      rewriteTar(saved, (name, data) => (name === 'index.json' ? undefined : data));
      const report = await verifyImage({ image: saved, cwd: '/' });
      expect(report.ok).toBe(true);
      expect(report.platforms.map((p) => p.sbom.status)).toEqual(['not-checked']);
      // Uncompressed layers, as docker and podman save them: the diff_id is checked against the config.
      const plain = join(dir, 'plain.tar');
      await writeDockerArchiveFile(plain, clean, { tags: ['app:1'] });
      rewriteTar(plain, (name, data) =>
        name === 'index.json' ? undefined : name.endsWith('.tar.gz') ? gunzip(data) : data,
      );
      expect((await verifyImage({ image: plain, cwd: '/', sbom: false })).ok).toBe(true);
      const changed = join(dir, 'changed.tar');
      await writeDockerArchiveFile(changed, clean, { tags: ['app:1'] });
      rewriteTar(changed, (name, data) =>
        name === 'index.json'
          ? undefined
          : name.endsWith('.tar.gz')
            ? concatBytes([gunzip(data), new Uint8Array(1024)])
            : data,
      );
      expect(await codeOf(verifyImage({ image: changed, cwd: '/', sbom: false }))).toBe(
        'VERIFY_DIGEST_MISMATCH',
      );
      const noConfig = join(dir, 'noconfig.tar');
      await writeDockerArchiveFile(noConfig, clean, { tags: ['app:1'] });
      rewriteTar(noConfig, (name, data) =>
        name === 'index.json' || name.startsWith('sha256:') ? undefined : data,
      );
      expect(await codeOf(verifyImage({ image: noConfig, cwd: '/', sbom: false }))).toBe('VERIFY_BAD_IMAGE');
    });

    it('a docker save tarball whose layers are links to a shared file (docker writes a shared layer once)', async () => {
      const dir = dirFor();
      /** The docker save tarball with every layer moved to `shared/<n>` and `links(name, n)` in its place. */
      const linked = async (
        file: string,
        links: (
          name: string,
          n: number,
        ) => { name: string; type: 'symlink' | 'hardlink'; linkname: string }[],
      ): Promise<string> => {
        const saved = join(dir, file);
        await writeDockerArchiveFile(saved, clean, { tags: ['app:1'] });
        const out: TarWriteEntry[] = [];
        let n = 0;
        for (const e of readTar(new Uint8Array(readFileSync(saved))).entries) {
          if (e.name === 'index.json') continue;
          if (!e.name.endsWith('.tar.gz')) {
            out.push({ name: e.name, type: 'file', mode: 0o644, mtime: 0, data: e.data });
            continue;
          }
          out.push({ name: `shared/${n}`, type: 'file', mode: 0o644, mtime: 0, data: e.data });
          for (const link of links(e.name, n)) out.push({ ...link, mode: 0o777, mtime: 0 });
          n++;
        }
        writeFileSync(saved, writeTar(out));
        return saved;
      };
      const verdict = async (path: string): Promise<string> =>
        (await verifyImage({ image: path, cwd: '/', sbom: false })).ok ? 'ok' : 'findings';

      // A symlink from the layer's name, relative to its directory; a chain of two; a hard link.
      expect(
        await verdict(
          await linked('symlink.tar', (name, n) => [{ name, type: 'symlink', linkname: `shared/${n}` }]),
        ),
      ).toBe('ok');
      expect(
        await verdict(
          await linked('chain.tar', (name, n) => [
            { name: `links/${n}`, type: 'symlink', linkname: `../shared/${n}` },
            { name, type: 'symlink', linkname: `./links/${n}` },
          ]),
        ),
      ).toBe('ok');
      expect(
        await verdict(
          await linked('hard.tar', (name, n) => [{ name, type: 'hardlink', linkname: `shared/${n}` }]),
        ),
      ).toBe('ok');

      // Links that lead nowhere in the archive: a loop, above its root, absolute, dangling.
      for (const [file, links] of [
        [
          'loop.tar',
          (name: string) => [
            { name, type: 'symlink' as const, linkname: 'a' },
            { name: 'a', type: 'symlink' as const, linkname: name },
          ],
        ],
        [
          'escape.tar',
          (name: string, n: number) => [{ name, type: 'symlink' as const, linkname: `../shared/${n}` }],
        ],
        [
          'absolute.tar',
          (name: string, n: number) => [{ name, type: 'symlink' as const, linkname: `/shared/${n}` }],
        ],
        ['dangling.tar', (name: string) => [{ name, type: 'symlink' as const, linkname: 'nothing' }]],
      ] as const) {
        expect(await codeOf(verifyImage({ image: await linked(file, links), cwd: '/', sbom: false }))).toBe(
          'VERIFY_BAD_IMAGE',
        );
      }

      // A link that has the name of a file, or of another link, is a second entry of that name.
      const twice = await linked('twice.tar', (name, n) => [
        { name, type: 'symlink', linkname: `shared/${n}` },
        { name, type: 'hardlink', linkname: `shared/${n}` },
      ]);
      expect(await codeOf(verifyImage({ image: twice, cwd: '/', sbom: false }))).toBe(
        'VERIFY_ARCHIVE_INCONSISTENT',
      );
      const shadow = await linked('shadow.tar', (_name, n) => [
        { name: 'manifest.json', type: 'symlink', linkname: `shared/${n}` },
      ]);
      expect(await codeOf(verifyImage({ image: shadow, cwd: '/', sbom: false }))).toBe(
        'VERIFY_ARCHIVE_INCONSISTENT',
      );
      // Also when the link leads nowhere: the name is still there twice.
      for (const linkname of ['nothing', '/etc/passwd', '../../x']) {
        const stray = await linked(`stray-${linkname.length}.tar`, () => [
          { name: 'manifest.json', type: 'symlink', linkname },
        ]);
        expect(await codeOf(verifyImage({ image: stray, cwd: '/', sbom: false }))).toBe(
          'VERIFY_ARCHIVE_INCONSISTENT',
        );
      }
    });

    it('missing pieces and junk', async () => {
      const dir = dirFor();
      const noIndex = join(dir, 'noindex.tar');
      await writeDockerArchiveFile(noIndex, clean, { tags: ['app:1'] });
      rewriteTar(noIndex, (name, data) =>
        name === 'index.json' || name === 'manifest.json' ? undefined : data,
      );
      expect(await codeOf(verifyImage({ image: noIndex, cwd: '/', sbom: false }))).toBe('VERIFY_BAD_IMAGE');

      const noLayer = join(dir, 'nolayer.tar');
      await writeDockerArchiveFile(noLayer, clean, { tags: ['app:1'] });
      rewriteTar(noLayer, (name, data) => (name.endsWith('.tar.gz') ? undefined : data));
      expect(await codeOf(verifyImage({ image: noLayer, cwd: '/', sbom: false }))).toBe('VERIFY_BAD_IMAGE');

      writeFileSync(join(dir, 'junk.tar'), 'this is not a tar archive at all'.repeat(40));
      expect(await codeOf(verifyImage({ image: join(dir, 'junk.tar'), cwd: '/' }))).toBe('VERIFY_BAD_IMAGE');

      const layout = join(dir, 'layout');
      await writeOciLayout(layout, clean);
      const blob = join(layout, 'blobs/sha256', clean.images[0]!.layers[0]!.digest.slice(7));
      writeFileSync(blob, concatBytes([readFileSync(blob), new Uint8Array([1])]));
      expect(await codeOf(verifyImage({ image: layout, cwd: '/', sbom: false }))).toBe(
        'VERIFY_DIGEST_MISMATCH',
      );
      rmSync(blob);
      expect(await codeOf(verifyImage({ image: layout, cwd: '/', sbom: false }))).toBe('VERIFY_BAD_IMAGE');

      writeFileSync(join(layout, 'index.json'), '{"manifests": "no"}');
      expect(await codeOf(verifyImage({ image: layout, cwd: '/', sbom: false }))).toBe('VERIFY_BAD_IMAGE');
      rmSync(join(layout, 'index.json'));
      expect(await codeOf(verifyImage({ image: layout, cwd: '/', sbom: false }))).toBe('VERIFY_BAD_IMAGE');
    });

    it('a zstd-compressed layer', async () => {
      const bytes = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const img = assembleImage({
        platform: platformFromArch('amd64'),
        layers: [
          {
            mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
            bytes,
            digest,
            size: bytes.length,
            diffId: digest,
            uncompressedSize: 0,
          },
        ],
        config: { created: 0 },
      });
      const dir = dirFor();
      await writeOciLayout(join(dir, 'layout'), assembleIndex([img]));
      expect(await codeOf(verifyImage({ image: join(dir, 'layout'), cwd: '/', sbom: false }))).toBe(
        'VERIFY_UNSUPPORTED',
      );
    });

    it('a layer that inflates beyond the limit', async () => {
      const big = assembleIndex([await image([[...rootEntries(), f('zeros', '\0'.repeat(2_000_000))]])]);
      const dir = dirFor();
      await writeDockerArchiveFile(join(dir, 'big.tar'), big, { tags: ['app:1'] });
      expect(
        await codeOf(
          verifyImage({ image: join(dir, 'big.tar'), cwd: '/', sbom: false, maxLayerBytes: 1_000_000 }),
        ),
      ).toBe('VERIFY_BAD_IMAGE');
    });

    it('something that is neither a path nor a registry reference', async () => {
      expect(await codeOf(verifyImage({ image: 'hello:latest', cwd: work }))).toBe('VERIFY_IMAGE_NOT_FOUND');
      expect(await codeOf(verifyImage({ image: 'no/such/file.tar', cwd: work }))).toBe(
        'VERIFY_IMAGE_NOT_FOUND',
      );
    });
  });
});

describe('looksLikeRegistryReference', () => {
  it.each([
    ['127.0.0.1:5000/hello:latest', true],
    ['localhost/app@sha256:abc', true],
    ['ghcr.io/org/app', true],
    ['hello:latest', false],
    ['out/hello.tar', false],
    ['/abs/path', false],
  ])('%s → %s', (text, expected) => {
    expect(looksLikeRegistryReference(text)).toBe(expected);
  });
});

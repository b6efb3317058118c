/**
 * `tk apko verify-image` end to end: real images built by `tk apko build` from the offline bootstrap
 * repository (tk-baselayout, busybox, hello; amd64 and arm64) verify clean as a tarball, as an OCI layout
 * and from a registry (Debian's docker-registry on 127.0.0.1, pushed with `tk apko publish`); copies
 * tampered with on purpose (a file added to the layer, a package file's bytes changed with its size kept,
 * a mode changed, a file removed, a package removed from the SBOM, a layer blob damaged) are each reported
 * with the right finding (exit 1), or refused (exit 2).
 *
 * Tampered images are rebuilt with @tk/oci's own functions (layer, config, manifest, index, tarball), so
 * every digest is consistent and only the verifier's checks of the content can catch them. Only the amd64
 * image is changed; the arm64 image is copied byte for byte and must stay clean.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromUtf8 } from '@tk/core';
import { gunzip } from '@tk/gzip';
import {
  assembleImage,
  assembleIndex,
  buildLayer,
  normalizePlatform,
  writeDockerArchiveFile,
  type ImageArtifact,
  type LayerEntry,
  type OciBlob,
  type OciPlatform,
} from '@tk/oci';
import { readTar, writeTar } from '@tk/tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startRegistry,
  type RunningRegistry,
} from '../../../packages/oci/test/support-registry/registry-server.ts';
import type { VerifyReport } from '../src/verify/index.ts';
import { runApko } from './run-apko.ts';

const ROOT = join(import.meta.dirname, '../../..');
const REPO = join(ROOT, '.cache/bootstrap/repo');
const KEY = join(ROOT, 'test-fixtures/bootstrap/keys/tk-bootstrap.rsa.pub');

const CONFIG = `
contents:
  repositories: [${JSON.stringify(REPO)}]
  keyring: [${JSON.stringify(KEY)}]
  packages: [tk-baselayout, busybox, busybox-binsh, hello]
entrypoint:
  command: /usr/bin/hello
accounts:
  groups:
    - groupname: nonroot
      gid: 65532
  users:
    - username: nonroot
      uid: 65532
      gid: 65532
  run-as: nonroot
archs: [x86_64, aarch64]
`;

let work: string;
let registry: RunningRegistry | undefined;

/** Run `tk apko …` in-process in the work folder. */
const tk = (...args: string[]) => runApko(work, { HOME: work }, ...args);

async function verifyJson(
  ...args: string[]
): Promise<{ code: number; report: VerifyReport; stderr: string }> {
  const r = await tk('verify-image', ...args, '--format', 'json');
  return { code: r.code, report: JSON.parse(r.stdout) as VerifyReport, stderr: r.stderr };
}

const findingsOf = (report: VerifyReport): string[] =>
  report.platforms.flatMap((p) =>
    p.findings.map(
      (f) =>
        `${p.platform} ${f.code} ${f.path ?? ''}${f.package === undefined ? '' : ` [${f.package.replace(/-[^-]+-r\d+$/, '')}]`}`,
    ),
  );

/** The images of a tk tarball, as @tk/oci artifacts with their bytes. */
function readTarball(path: string): { index: Uint8Array; images: ImageArtifact[] } {
  const files = new Map(readTar(new Uint8Array(readFileSync(path))).entries.map((e) => [e.name, e.data]));
  const blob = (mediaType: string, digest: string, size: number): OciBlob => {
    const hex = digest.slice('sha256:'.length);
    const bytes = files.get(digest) ?? files.get(`${hex}.tar.gz`);
    if (bytes === undefined) throw new Error(`${digest} is not in ${path}`);
    return { mediaType, digest, size, bytes };
  };
  type Desc = { mediaType: string; digest: string; size: number; platform?: OciPlatform };
  const index = files.get('index.json')!;
  const images = (JSON.parse(fromUtf8(index)) as { manifests: Desc[] }).manifests.map((m) => {
    const manifest = blob(m.mediaType, m.digest, m.size);
    const doc = JSON.parse(fromUtf8(manifest.bytes)) as { config: Desc; layers: Desc[] };
    return {
      platform: normalizePlatform(m.platform!),
      manifest,
      config: blob(doc.config.mediaType, doc.config.digest, doc.config.size),
      layers: doc.layers.map((l) => blob(l.mediaType, l.digest, l.size)),
    };
  });
  return { index, images };
}

/**
 * Write a copy of the verified tarball whose amd64 layer went through `change`, with every digest
 * recomputed (the arm64 image is kept as it is).
 */
async function tampered(name: string, change: (entries: LayerEntry[]) => LayerEntry[]): Promise<string> {
  const { images } = readTarball(join(work, 'out/hello.tar'));
  const rebuilt: ImageArtifact[] = [];
  for (const image of images) {
    if (image.platform.architecture !== 'amd64') {
      rebuilt.push(image);
      continue;
    }
    const tar = gunzip(image.layers[0]!.bytes);
    const entries: LayerEntry[] = readTar(tar).entries.map((e) => ({
      path: e.name,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      uname: e.uname,
      gname: e.gname,
      mtime: e.mtime,
      ...(e.type === 'symlink' || e.type === 'hardlink' ? { linkname: e.linkname } : {}),
      ...(e.type === 'char' || e.type === 'block' ? { devmajor: e.devmajor, devminor: e.devminor } : {}),
      ...(Object.keys(e.xattrs).length > 0 ? { xattrs: e.xattrs } : {}),
      ...(e.type === 'file' ? { data: e.data } : {}),
    }));
    const config = JSON.parse(fromUtf8(image.config.bytes)) as {
      config: { Entrypoint?: string[]; Env?: string[]; User?: string };
    };
    rebuilt.push(
      assembleImage({
        platform: image.platform,
        layers: [await buildLayer(change(entries))],
        config: {
          created: 0,
          ...(config.config.Entrypoint === undefined ? {} : { entrypoint: config.config.Entrypoint }),
          ...(config.config.Env === undefined ? {} : { env: config.config.Env }),
          ...(config.config.User === undefined ? {} : { user: config.config.User }),
        },
      }),
    );
  }
  const dir = join(work, name);
  mkdirSync(dir);
  const path = join(dir, 'hello.tar');
  await writeDockerArchiveFile(path, assembleIndex(rebuilt), { tags: ['hello:tampered'] });
  return path;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tk-verify-image-'));
  writeFileSync(join(work, 'hello.yaml'), CONFIG);
  const cache = ['--cache-dir', join(work, 'cache')];
  const tarball = await tk('build', 'hello.yaml', 'hello:latest', 'out/hello.tar', ...cache);
  expect(tarball.code, tarball.stderr).toBe(0);
  const layout = await tk(
    'build',
    'hello.yaml',
    'hello:latest',
    'layout',
    '--output-format',
    'oci',
    ...cache,
  );
  expect(layout.code, layout.stderr).toBe(0);
  registry = await startRegistry();
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('tk apko verify-image', () => {
  it('the bootstrap repository is there (./scripts/setup.sh builds it)', () => {
    expect(existsSync(join(REPO, 'x86_64/APKINDEX.tar.gz')), 'run ./scripts/setup.sh').toBe(true);
  });

  it('passes the tarball tk built, both archs, SBOMs included', async () => {
    const r = await tk('verify-image', 'out/hello.tar');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^linux\/amd64 \(x86_64\): manifest sha256:/m);
    expect(r.stdout).toMatch(/^linux\/arm64 \(aarch64\): manifest sha256:/m);
    expect(r.stdout).toMatch(/SBOM: names exactly the 7 installed packages \(.*sbom-x86_64\.spdx\.json\)/);
    expect(r.stdout).toMatch(/SBOM: names exactly the 7 installed packages \(.*sbom-aarch64\.spdx\.json\)/);
    expect(r.stdout).toMatch(/accounts \(3\): \/etc\/group \/etc\/passwd \/etc\/shadow/);
    expect(r.stdout).toMatch(
      /\nOK: every file of 2 images is owned by an installed package or generated by tk\n$/,
    );

    const { report } = await verifyJson('out/hello.tar');
    expect(report.ok).toBe(true);
    for (const p of report.platforms) {
      expect(p.packages.map((x) => x.replace(/-[^-]+-r\d+$/, ''))).toEqual(
        expect.arrayContaining(['tk-baselayout', 'busybox', 'busybox-binsh', 'hello', 'libc6']),
      );
      expect(p.filesChecked).toBeGreaterThan(30);
      expect(p.generated.find((g) => g.path === '/etc/passwd')).toMatchObject({
        rule: 'accounts',
        package: expect.stringMatching(/^tk-baselayout-/) as string,
      });
      expect(p.generated.filter((g) => g.rule === 'busybox-link').length).toBeGreaterThan(100);
      expect(p.sbom.status).toBe('ok');
    }
  });

  it('passes the OCI layout tk built', async () => {
    const r = await tk('verify-image', 'layout');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { report } = await verifyJson('layout');
    expect(report.source).toBe('oci-layout');
    expect(report.platforms.map((p) => p.sbom.status)).toEqual(['ok', 'ok']);
  });

  it('passes the image pushed to a registry, by tag and by digest; the SBOM only with --sbom-path', async () => {
    const ref = `${registry!.host}/verify/hello:latest`;
    const push = await tk(
      'publish',
      'hello.yaml',
      ref,
      '--cache-dir',
      join(work, 'cache'),
      '--sbom-path',
      'pushed-sboms',
    );
    expect(push.code, push.stderr).toBe(0);
    const byDigest = push.stdout.trim();
    expect(byDigest).toMatch(/@sha256:[0-9a-f]{64}$/);

    const tag = await verifyJson(ref);
    expect(tag.code, tag.stderr).toBe(0);
    expect(tag.report.source).toBe('registry');
    expect(tag.report.digest).toBe(byDigest.split('@')[1]);
    expect(tag.report.platforms.map((p) => p.sbom.status)).toEqual(['not-checked', 'not-checked']);

    const digest = await verifyJson(byDigest, '--sbom-path', 'pushed-sboms');
    expect(digest.code, digest.stderr).toBe(0);
    expect(digest.report.platforms.map((p) => [p.platform, p.sbom.status])).toEqual([
      ['linux/amd64', 'ok'],
      ['linux/arm64', 'ok'],
    ]);

    const missing = await tk('verify-image', `${registry!.host}/verify/nothing:here`);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/error \[REGISTRY_NOT_FOUND\]/);
  });

  describe('images tampered with on purpose', () => {
    it('catches a file added to the layer by hand', async () => {
      const path = await tampered('added', (entries) => [
        ...entries,
        {
          path: 'usr/bin/backdoor',
          type: 'file',
          mode: 0o755,
          uid: 0,
          gid: 0,
          mtime: 0,
          data: new TextEncoder().encode('#!/bin/sh\n'),
        },
      ]);
      const { code, report } = await verifyJson(path, '--no-sbom');
      expect(code).toBe(1);
      expect(findingsOf(report)).toEqual(['linux/amd64 UNOWNED /usr/bin/backdoor']);
      const text = await tk('verify-image', path, '--no-sbom');
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/UNOWNED \/usr\/bin\/backdoor: .* owned by no installed package/);
      expect(text.stdout).toMatch(/\nFAILED: 1 finding in 1 of 2 images\n$/);
    });

    it('catches a package file whose bytes were changed (same size)', async () => {
      let size = 0;
      const path = await tampered('bytes', (entries) =>
        entries.map((e) => {
          if (e.path !== 'usr/bin/hello') return e;
          const data = new Uint8Array(e.data!);
          size = data.length;
          data[data.length >> 1] = (data[data.length >> 1] ?? 0) ^ 0xff;
          return { ...e, data };
        }),
      );
      const { code, report } = await verifyJson(path, '--no-sbom');
      expect(code).toBe(1);
      expect(findingsOf(report)).toEqual(['linux/amd64 CHECKSUM_MISMATCH /usr/bin/hello [hello]']);
      expect(report.platforms[0]!.findings[0]!.actual).toContain(`(${size} bytes)`);
    });

    it('catches a mode change (setuid added)', async () => {
      const path = await tampered('mode', (entries) =>
        entries.map((e) => (e.path === 'usr/bin/hello' ? { ...e, mode: 0o4755 } : e)),
      );
      const { code, report } = await verifyJson(path, '--no-sbom');
      expect(code).toBe(1);
      expect(findingsOf(report)).toEqual(['linux/amd64 MODE_MISMATCH /usr/bin/hello [hello]']);
      expect(report.platforms[0]!.findings[0]).toMatchObject({ expected: '0755', actual: '4755' });
    });

    it('catches a missing package file', async () => {
      const path = await tampered('missing', (entries) =>
        entries.filter((e) => e.path !== 'usr/share/doc/hello/copyright'),
      );
      const { code, report } = await verifyJson(path, '--no-sbom');
      expect(code).toBe(1);
      expect(findingsOf(report)).toEqual(['linux/amd64 MISSING /usr/share/doc/hello/copyright [hello]']);
    });

    it('catches an SBOM with a package removed', async () => {
      const dir = join(work, 'sbom');
      cpSync(join(work, 'out'), dir, { recursive: true });
      const file = join(dir, 'sbom-aarch64.spdx.json');
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { packages: { name: string }[] };
      doc.packages = doc.packages.filter((p) => p.name !== 'hello');
      writeFileSync(file, JSON.stringify(doc));
      const { code, report } = await verifyJson('sbom/hello.tar');
      expect(code).toBe(1);
      expect(findingsOf(report)).toEqual(['linux/arm64 SBOM_MISSING_PACKAGE  [hello]']);
      expect(report.platforms.map((p) => p.sbom.status)).toEqual(['ok', 'findings']);
    });

    it('a missing SBOM is a finding with a hint; --no-sbom skips the check', async () => {
      const dir = join(work, 'nosbom');
      mkdirSync(dir);
      cpSync(join(work, 'out/hello.tar'), join(dir, 'hello.tar'));
      const r = await tk('verify-image', 'nosbom/hello.tar');
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/SBOM_NOT_FOUND .*sbom-x86_64\.spdx\.json/);
      expect(r.stdout).toMatch(/hint: pass --sbom-path DIR .*or --no-sbom/);
      expect((await tk('verify-image', 'nosbom/hello.tar', '--no-sbom')).code).toBe(0);
    });

    it('refuses a tarball whose layer blob was damaged (exit 2, no report)', async () => {
      const source = readTar(new Uint8Array(readFileSync(join(work, 'out/hello.tar')))).entries;
      const damaged = source.map((e) => {
        if (!e.name.endsWith('.tar.gz'))
          return { name: e.name, type: 'file' as const, mtime: 0, data: e.data };
        const data = new Uint8Array(e.data);
        data[data.length >> 1] = (data[data.length >> 1] ?? 0) ^ 1;
        return { name: e.name, type: 'file' as const, mtime: 0, data };
      });
      mkdirSync(join(work, 'damaged'));
      writeFileSync(join(work, 'damaged/hello.tar'), writeTar(damaged));
      const r = await tk('verify-image', 'damaged/hello.tar');
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^error \[VERIFY_DIGEST_MISMATCH\] layer 0 of linux\/amd64/);
    });
  });
});

/**
 * Real clients read what tk writes: skopeo (docker-archive and OCI layout), umoci (unpacks a layout,
 * checking digests) and podman (loads the tarball and runs the amd64 image with runc).
 */
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromUtf8 } from '@tk/core';
import { writeDockerArchiveFile, writeOciLayout, assembleIndex, type IndexArtifact } from '@tk/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSampleIndex, runOk, runTool, SAMPLE_XATTR } from './support-image/sample-image.ts';

// A name no one else uses on this machine's podman storage; removed again in afterAll.
const NAME = `tk-oci-test-${process.pid}`;

let work: string;
let index: IndexArtifact;
let tarball: string;
let layout: string;

interface RawManifest {
  config: { digest: string };
  layers: { digest: string }[];
}

function image(arch: string): IndexArtifact['images'][number] {
  const found = index.images.find((i) => i.platform.architecture === arch);
  if (found === undefined) throw new Error(`no ${arch} image`);
  return found;
}

const diffIdOf = (arch: string): string =>
  (JSON.parse(fromUtf8(image(arch).config.bytes)) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids[0]!;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tk-oci-tools-'));
  index = await buildSampleIndex();
  tarball = join(work, 'hello.tar');
  layout = join(work, 'layout');
  await writeDockerArchiveFile(tarball, index, { tags: [NAME] });
  await writeOciLayout(layout, index, { tag: 'latest' });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('skopeo', () => {
  it.each(['amd64', 'arm64'])('reads the %s image of the docker-archive tarball', (arch) => {
    const raw = JSON.parse(
      runOk('skopeo', ['inspect', '--raw', `docker-archive:${tarball}:${NAME}:latest-${arch}`]),
    ) as RawManifest;
    expect(raw.config.digest).toBe(image(arch).config.digest);
    // skopeo describes docker-archive layers by their uncompressed digest: our diff_id.
    expect(raw.layers.map((l) => l.digest)).toEqual([diffIdOf(arch)]);
    const info = JSON.parse(
      runOk('skopeo', ['inspect', `docker-archive:${tarball}:${NAME}:latest-${arch}`]),
    ) as {
      Architecture: string;
      Os: string;
    };
    expect(info).toMatchObject({ Architecture: arch, Os: 'linux' });
  });

  it('reads a single-platform tarball without naming an image', async () => {
    const single = join(work, 'single.tar');
    const amd64 = assembleIndex([image('amd64')], {});
    await writeDockerArchiveFile(single, amd64, { tags: ['single'] });
    const raw = JSON.parse(runOk('skopeo', ['inspect', '--raw', `docker-archive:${single}`])) as RawManifest;
    expect(raw.config.digest).toBe(image('amd64').config.digest);
  });

  it('copies an image of the tarball into an OCI layout', () => {
    const copy = join(work, 'copy');
    runOk('skopeo', ['copy', '--quiet', `docker-archive:${tarball}:${NAME}:latest-arm64`, `oci:${copy}:arm`]);
    const config = JSON.parse(runOk('skopeo', ['inspect', '--config', `oci:${copy}:arm`])) as {
      architecture: string;
      rootfs: { diff_ids: string[] };
    };
    expect(config.architecture).toBe('arm64');
    expect(config.rootfs.diff_ids).toEqual([diffIdOf('arm64')]);
  });

  it('reads the tagged OCI layout: the index by tag, each platform by tag-arch', () => {
    expect(runOk('skopeo', ['inspect', '--raw', `oci:${layout}:latest`])).toBe(fromUtf8(index.index.bytes));
    for (const arch of ['amd64', 'arm64']) {
      const info = JSON.parse(
        runOk('skopeo', ['inspect', '--override-arch', arch, `oci:${layout}:latest`]),
      ) as {
        Digest: string;
        Architecture: string;
      };
      expect(info).toMatchObject({ Digest: index.index.digest, Architecture: arch });
      const raw = runOk('skopeo', ['inspect', '--raw', `oci:${layout}:latest-${arch}`]);
      expect(raw).toBe(fromUtf8(image(arch).manifest.bytes));
    }
  });

  it('refuses apko’s untagged multi-platform layout but reads a single-platform one', async () => {
    const apkoLayout = join(work, 'apko-shape');
    await writeOciLayout(apkoLayout, index);
    const refused = runTool('skopeo', ['inspect', `oci:${apkoLayout}`]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('more than one image');
    const singleLayout = join(work, 'apko-single');
    await writeOciLayout(singleLayout, assembleIndex([image('arm64')], {}));
    const info = JSON.parse(runOk('skopeo', ['inspect', `oci:${singleLayout}`])) as { Architecture: string };
    expect(info.Architecture).toBe('arm64');
  });
});

describe('umoci', () => {
  it('unpacks the amd64 image of the layout with modes, owners, links, devices and xattrs intact', () => {
    const bundle = join(work, 'bundle');
    runOk('umoci', ['unpack', '--image', `${layout}:latest-amd64`, bundle]);
    const root = join(bundle, 'rootfs');
    const mode = (path: string): string => (statSync(join(root, path)).mode & 0o7777).toString(8);
    expect(mode('tmp')).toBe('1777');
    expect(mode('usr/bin/su')).toBe('4755');
    expect(mode('usr/bin/hello')).toBe('755');
    expect(mode('home/app')).toBe('750');
    expect(mode('home/app/notes.txt')).toBe('600');
    expect(statSync(join(root, 'home/app/notes.txt'))).toMatchObject({ uid: 1000, gid: 1000 });
    expect(statSync(join(root, 'usr/bin/su'))).toMatchObject({ uid: 0, gid: 0 });
    expect(lstatSync(join(root, 'bin/sh')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, 'bin/sh'))).toBe('../usr/bin/hello');
    const link = statSync(join(root, 'bin/hello'));
    const target = statSync(join(root, 'usr/bin/hello'));
    expect(link.ino).toBe(target.ino);
    expect(target.nlink).toBe(2);
    const devNull = statSync(join(root, 'dev/null'));
    expect(devNull.isCharacterDevice()).toBe(true);
    expect([Math.floor(devNull.rdev / 256) & 0xfff, devNull.rdev & 0xff]).toEqual([1, 3]);
    expect(statSync(join(root, 'usr/bin/su')).mtimeMs).toBe(1700000000 * 1000);
    const xattr = runOk('python3', [
      '-c',
      'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())',
      join(root, 'usr/bin/hello'),
      SAMPLE_XATTR.name,
    ]);
    expect(xattr).toBe(SAMPLE_XATTR.value);
    expect(runOk(join(root, 'bin/sh'), [])).toBe('hello from tk on x86_64\n');
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
      process: { cwd: string; args: string[] };
    };
    expect(config.process).toMatchObject({ cwd: '/home/app', args: ['/usr/bin/hello'] });
  });

  it('unpacks the arm64 image, whose executable runs under qemu-user', () => {
    const bundle = join(work, 'bundle-arm64');
    runOk('umoci', ['unpack', '--image', `${layout}:latest-arm64`, bundle]);
    expect(runOk('qemu-aarch64-static', [join(bundle, 'rootfs/bin/hello')])).toBe(
      'hello from tk on aarch64\n',
    );
  });

  it('cannot choose a platform from the multi-platform tag, which is why each platform has its own', () => {
    const result = runTool('umoci', ['unpack', '--image', `${layout}:latest`, join(work, 'ambiguous')]);
    expect(result.status).not.toBe(0);
    expect(result.stderr + result.stdout).toContain('ambiguous');
  });
});

describe('podman', () => {
  const loaded = [`localhost/${NAME}:latest-amd64`, `localhost/${NAME}:latest-arm64`];

  afterAll(() => {
    // Remove only the images this test loaded.
    runTool('podman', ['rmi', '--force', ...loaded]);
  });

  it('loads the tarball as name:tag-arch, with our config digests as image IDs, and runs it', () => {
    const output = runOk('podman', ['load', '--quiet', '-i', tarball], 120_000);
    expect(output).toContain(`${NAME}:latest-amd64`);
    expect(output).toContain(`${NAME}:latest-arm64`);
    for (const [ref, arch] of [
      [loaded[0]!, 'amd64'],
      [loaded[1]!, 'arm64'],
    ] as const) {
      const [id, architecture] = runOk('podman', [
        'image',
        'inspect',
        '--format',
        '{{.Id}} {{.Architecture}}',
        ref,
      ])
        .trim()
        .split(' ');
      expect(`sha256:${id}`).toBe(image(arch).config.digest);
      expect(architecture).toBe(arch);
    }
    const run = runOk(
      'podman',
      [
        '--runtime',
        'runc',
        'run',
        '--rm',
        '--network',
        'none',
        '--ulimit',
        'nofile=1024:1024',
        '--ulimit',
        'nproc=1024:1024',
        loaded[0]!,
      ],
      120_000,
    );
    expect(run).toBe('hello from tk on x86_64\n');
  });
});

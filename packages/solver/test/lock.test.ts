import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readApk } from '@tk/apk';
import { digest, isTkError } from '@tk/core';
import { readIndexArchive } from '@tk/repo';
import {
  installListFromLock,
  lockPackageFor,
  lockRepositoryFor,
  parseLockFile,
  serializeLockFile,
  solve,
  solveMultiArch,
  worldFromLock,
  type LockFile,
  type SolverRepository,
} from '@tk/solver';
import { FIXTURES, labels, readFixture } from './helpers.ts';

const LOCK_PATH = 'real/apko-testrepo/apko.lock.json';
const lockText = readFileSync(join(FIXTURES, LOCK_PATH), 'utf8');
const ARCHS = ['x86_64', 'aarch64'] as const;

function repositoriesFor(arch: string): SolverRepository[] {
  return [
    {
      name: './testdata/packages',
      entries: readIndexArchive(readFixture(`real/apko-testrepo/${arch}/APKINDEX.tar.gz`)).entries,
    },
  ];
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isTkError(error) ? error.code : `not a TkError: ${String(error)}`;
  }
  return undefined;
}

describe("apko's real apko.lock.json", () => {
  it('is reproduced byte for byte from its parsed form', () => {
    const lock = parseLockFile(lockText, { source: LOCK_PATH });
    expect(lock.contents.packages).toHaveLength(4);
    expect(serializeLockFile(lock)).toBe(lockText);
    // Bytes in, same result.
    expect(serializeLockFile(parseLockFile(readFixture(LOCK_PATH)))).toBe(lockText);
  });

  it('is rebuilt byte for byte from a solve and the real .apk files', () => {
    const original = parseLockFile(lockText);
    const solutions = solveMultiArch({
      world: ['replayout'],
      archs: ARCHS.map((arch) => ({ arch, repositories: repositoriesFor(arch) })),
    });
    const packages = ARCHS.flatMap((arch) =>
      solutions.get(arch)!.packages.map((resolved) => {
        const bytes = readFixture(
          `real/apko-testrepo/${arch}/${resolved.entry.name}-${resolved.entry.version}.apk`,
        );
        const { sections } = readApk(bytes);
        const part = (range: { start: number; end: number }, alg: 'sha1' | 'sha256') => ({
          ...range,
          digest: digest(alg, bytes.subarray(range.start, range.end)),
        });
        return lockPackageFor(resolved, {
          ...(sections.signature === undefined ? {} : { signature: part(sections.signature, 'sha1') }),
          control: part(sections.control, 'sha1'),
          data: part(sections.data, 'sha256'),
        });
      }),
    );
    const key = readFileSync(join(FIXTURES, 'real/apko-testrepo/melange.rsa.pub'), 'utf8');
    const rebuilt: LockFile = {
      version: 'v1',
      config: { name: 'apko.yaml', checksum: original.config!.checksum! },
      contents: {
        keyring: [{ name: './testdata/melange.rsa.pub', url: './testdata/melange.rsa.pub', content: key }],
        build_repositories: [],
        runtime_repositories: [],
        repositories: ARCHS.map((arch) => lockRepositoryFor({ name: './testdata/packages' }, arch)),
        packages,
      },
    };
    expect(serializeLockFile(rebuilt)).toBe(lockText);
  });

  it('gives each arch its exact world, and the install list without solving', () => {
    const lock = parseLockFile(lockText);
    for (const arch of ARCHS) {
      expect(worldFromLock(lock, arch)).toEqual(['pretend-baselayout=1.0.0-r0', 'replayout=1.0.0-r0']);
      const repositories = repositoriesFor(arch);
      const list = installListFromLock(lock, arch, repositories);
      expect(labels(list)).toEqual(['pretend-baselayout-1.0.0-r0', 'replayout-1.0.0-r0']);
      expect(list.every((item) => item.repository === repositories[0] && item.pin === undefined)).toBe(true);
      // The lock's world solves to the same list.
      expect(labels(solve({ world: worldFromLock(lock, arch), repositories, arch }))).toEqual(labels(list));
    }
  });

  it('refuses a lock whose package checksum no longer matches the index, or is missing, or lacks the arch', () => {
    const lock = parseLockFile(lockText);
    const repositories = repositoriesFor('x86_64');
    const tampered = structuredClone(lock);
    tampered.contents.packages[1]!.checksum = 'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=';
    expect(codeOf(() => installListFromLock(tampered, 'x86_64', repositories))).toBe(
      'SOLVER_LOCK_CHECKSUM_MISMATCH',
    );
    const missing = structuredClone(lock);
    missing.contents.packages[0]!.version = '9.9.9-r0';
    expect(codeOf(() => installListFromLock(missing, 'x86_64', repositories))).toBe(
      'SOLVER_LOCK_MISSING_PACKAGE',
    );
    const old = structuredClone(lock);
    old.contents.packages[0]!.checksum = '';
    expect(codeOf(() => installListFromLock(old, 'x86_64', repositories))).toBe('SOLVER_BAD_LOCK');
    expect(codeOf(() => installListFromLock(lock, 'riscv64', repositories))).toBe('SOLVER_LOCK_ARCH_MISSING');
    expect(codeOf(() => worldFromLock(lock, 'riscv64'))).toBe('SOLVER_LOCK_ARCH_MISSING');
  });
});

describe('tagged repositories in locks (apko #1541, #557)', () => {
  const entries = (names: [string, string, string[]][]) =>
    names.map(([name, version, depends]) => ({
      checksum: `Q1${Buffer.from(digest('sha1', new TextEncoder().encode(name + version))).toString('base64')}`,
      name,
      version,
      arch: 'x86_64',
      depends,
      provides: [],
      installIf: [],
      other: [] as [string, string][],
    }));
  const repositories: SolverRepository[] = [
    { name: 'https://packages.example/os', entries: entries([['base', '1.0-r0', []]]) },
    {
      name: './packages',
      tag: 'local',
      entries: entries([
        ['app', '1.0-r0', ['helper', 'base']],
        ['helper', '2.0-r0', []],
      ]),
    },
  ];

  it('keeps the pin of a dependency that only the tagged repository has, through lock, world and install list', () => {
    const solution = solve({ world: ['app@local'], repositories, arch: 'x86_64' });
    expect(solution.packages.map((p) => [p.entry.name, p.pin])).toEqual([
      ['helper', 'local'],
      ['base', undefined],
      ['app', 'local'],
    ]);
    const section = (start: number, end: number, size: number) => ({
      start,
      end,
      digest: new Uint8Array(size),
    });
    const lock: LockFile = {
      version: 'v1',
      contents: {
        keyring: [],
        build_repositories: [],
        runtime_repositories: [],
        repositories: repositories.map((repository) => lockRepositoryFor(repository, 'x86_64')),
        packages: solution.packages.map((resolved) =>
          lockPackageFor(resolved, { control: section(0, 10, 20), data: section(10, 20, 32) }),
        ),
      },
    };
    expect(lock.contents.repositories[0]).toEqual({
      name: 'packages.example/os/x86_64',
      url: 'https://packages.example/os/x86_64/APKINDEX.tar.gz',
      architecture: 'x86_64',
    });
    expect(lock.contents.packages[0]!.url).toBe('./packages/x86_64/helper-2.0-r0.apk');
    expect(lock.contents.packages[0]!.signature).toEqual({ range: '', checksum: '' });
    const text = serializeLockFile(lock);
    expect(text).toContain('"tag": "local"');
    const parsed = parseLockFile(text);
    expect(parsed).toEqual(lock);
    const world = worldFromLock(parsed, 'x86_64');
    expect(world).toEqual(['app@local=1.0-r0', 'base=1.0-r0', 'helper@local=2.0-r0']);
    const replayed = solve({ world, repositories, arch: 'x86_64' });
    expect(replayed.packages.map((p) => [p.entry.name, p.pin])).toEqual(
      solution.packages.map((p) => [p.entry.name, p.pin]),
    );
    const list = installListFromLock(parsed, 'x86_64', repositories);
    expect(list.map((p) => [p.entry.name, p.pin, p.repository.name])).toEqual([
      ['helper', 'local', './packages'],
      ['base', undefined, 'https://packages.example/os'],
      ['app', 'local', './packages'],
    ]);
  });
});

describe('hostile lock files', () => {
  // Deliberately malformed locks: the mutations write members of any type.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Loose = any;
  const valid: Loose = JSON.parse(lockText);
  const mutate = (change: (lock: Loose) => void): string => {
    const copy = structuredClone(valid);
    change(copy);
    return JSON.stringify(copy);
  };

  it.each([
    ['not JSON', '{"version": "v1",'],
    ['an array', '[]'],
    ['null', 'null'],
    ['an unsupported version', mutate((l) => (l.version = 'v2'))],
    ['no contents', mutate((l) => delete l.contents)],
    ['a number for a name', mutate((l) => (l.contents.packages[0].name = 42))],
    ['packages as an object', mutate((l) => (l.contents.packages = { a: 1 }))],
    ['a backwards range', mutate((l) => (l.contents.packages[0].control.range = 'bytes=900-10'))],
    ['a malformed range', mutate((l) => (l.contents.packages[0].data.range = 'bytes=1-2,5-6'))],
    [
      'a data checksum that is sha1',
      mutate((l) => (l.contents.packages[0].data.checksum = 'sha1-S+THz+JYZxcNzNCw2jI9YlnDnE4=')),
    ],
    ['a range without checksum', mutate((l) => (l.contents.packages[0].control.checksum = ''))],
    ['a control character in a url', mutate((l) => (l.contents.packages[0].url = 'a\u001b[31mb'))],
    ['a name with a space', mutate((l) => (l.contents.packages[0].name = 'a b'))],
    ['a bad identity checksum', mutate((l) => (l.contents.packages[0].checksum = 'Q1short'))],
    ['a bad version', mutate((l) => (l.contents.packages[0].version = '1 .0'))],
    ['a bad config checksum', mutate((l) => (l.config.checksum = 'md5-abc'))],
    ['a bad tag', mutate((l) => (l.contents.repositories[0].tag = 'no spaces'))],
    ['deep nesting', `${'['.repeat(200_000)}${']'.repeat(200_000)}`],
  ])('refuses %s', (_what, text) => {
    expect(codeOf(() => parseLockFile(text))).toBe('SOLVER_BAD_LOCK');
  });

  it('reports every problem at once, by path', () => {
    const text = mutate((l) => {
      l.contents.packages[0].name = 1;
      l.contents.packages[3].data.range = 'x';
    });
    let caught: unknown;
    try {
      parseLockFile(text);
    } catch (error) {
      caught = error;
    }
    const issues = (isTkError(caught) ? caught.data?.issues : undefined) as string[];
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^contents\.packages\[0\]\.name: /);
    expect(issues[1]).toMatch(/^contents\.packages\[3\]\.data\.range: /);
  });

  it('refuses oversized input and invalid UTF-8 before parsing', () => {
    expect(codeOf(() => parseLockFile(new Uint8Array(64 * 1024 * 1024 + 1)))).toBe('SOLVER_BAD_LOCK');
    expect(codeOf(() => parseLockFile(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe('SOLVER_BAD_LOCK');
  });

  it('ignores unknown members and prototype keys, and reads null lists as empty', () => {
    const text = mutate((l) => {
      l.extra = { deep: true };
      l.contents.build_repositories = null;
      l.contents.packages[0].surprise = 1;
    }).replace('"version":"v1"', '"version":"v1","__proto__":{"polluted":true}');
    const lock = parseLockFile(text);
    expect(lock.contents.build_repositories).toEqual([]);
    expect(Object.keys(lock)).toEqual(['version', 'config', 'contents']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(lock.contents.packages[0]!)).not.toContain('surprise');
  });

  it('will not write a lock that would not parse back', () => {
    const lock = parseLockFile(lockText);
    lock.contents.packages[0]!.control.range = 'bytes=2-1';
    expect(codeOf(() => serializeLockFile(lock))).toBe('SOLVER_BAD_LOCK');
    const resolved = installListFromLock(parseLockFile(lockText), 'x86_64', repositoriesFor('x86_64'))[0]!;
    const wrongSize = { start: 0, end: 10, digest: new Uint8Array(16) };
    expect(codeOf(() => lockPackageFor(resolved, { control: wrongSize, data: wrongSize }))).toBe(
      'SOLVER_BAD_LOCK',
    );
    const empty = { start: 5, end: 5, digest: new Uint8Array(20) };
    expect(
      codeOf(() =>
        lockPackageFor(resolved, { control: empty, data: { ...empty, digest: new Uint8Array(32) } }),
      ),
    ).toBe('SOLVER_BAD_LOCK');
  });
});

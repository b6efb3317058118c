/**
 * The launcher's V8 code cache (apps/tk/bin/code-cache.cjs), on a small CommonJS bundle: a cache is made
 * when there is none, used when it is good, and never handed to V8 when it is damaged, made for another
 * file, or from another script; a cache V8 rejects is replaced; failures to write only cost speed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { readCodeCache, writeCodeCache } from '../bin/code-cache.cjs';
import { ROOT, tempDirs } from './helpers.ts';

const tempDir = tempDirs('tk-code-cache-');

/** A bundle exporting `runProcess`, which prints a value computed by enough code to be worth caching. */
function makeBundle(): { dir: string; bundle: string; runner: string } {
  const dir = tempDir();
  const bundle = join(dir, 'tk.cjs');
  const functions = Array.from(
    { length: 200 },
    (_, i) => `function f${i}(x) { return (x * ${i + 1}) % 1009; }`,
  );
  writeFileSync(
    bundle,
    `${functions.join('\n')}\nexports.runProcess = async () => { let s = 0;` +
      ` for (let i = 0; i < 200; i++) s += eval('f' + i)(i); process.stdout.write(String(s) + ' ' + __filename + '\\n'); return 3; };\n`,
  );
  const runner = join(dir, 'run.mjs');
  writeFileSync(
    runner,
    [
      `import { loadBundle } from ${JSON.stringify(pathToFileURL(join(ROOT, 'apps/tk/bin/code-cache.cjs')).href)};`,
      `const { exports, cache } = loadBundle(${JSON.stringify(bundle)}, 'ab'.repeat(32), process.argv[2] ?? '', process.argv[3] !== 'off');`,
      "process.stderr.write(cache + '\\n');",
      'process.exitCode = await exports.runProcess();',
      '',
    ].join('\n'),
  );
  return { dir, bundle, runner };
}

function run(
  runner: string,
  task = 'apko build',
  mode = 'on',
): { cache: string; stdout: string; status: number | null } {
  const r = spawnSync(process.execPath, [runner, task, mode], { encoding: 'utf8' });
  return { cache: r.stderr.trim(), stdout: r.stdout, status: r.status };
}

const cacheFiles = (dir: string): string[] => {
  try {
    return readdirSync(join(dir, 'code-cache')).sort();
  } catch {
    return [];
  }
};

describe('loadBundle', () => {
  it('makes a cache on the first run, uses it on the next, and runs the same either way', () => {
    const { dir, bundle, runner } = makeBundle();
    const first = run(runner);
    expect(first).toMatchObject({ cache: 'miss', status: 3 });
    expect(first.stdout).toContain(bundle);
    expect(cacheFiles(dir)).toEqual([`${process.version}-${process.arch}-${'ab'.repeat(16)}-apko.build.bin`]);
    const second = run(runner);
    expect(second).toEqual({ ...first, cache: 'hit' });
    expect(run(runner, 'apko build', 'off')).toEqual({ ...first, cache: 'off' });
  });

  it('keeps one cache per task, and one shared file for words that are not command names', () => {
    const { dir, runner } = makeBundle();
    const tasks = ['apko build', 'melange build', '', 'Foo/../../x'];
    expect(tasks.map((task) => run(runner, task).cache)).toEqual(['miss', 'miss', 'miss', 'hit']);
    expect(cacheFiles(dir).map((f) => f.split('-').pop())).toEqual([
      'apko.build.bin',
      'melange.build.bin',
      'other.bin',
    ]);
    expect(run(runner, 'melange build').cache).toBe('hit');
  });

  it('does not use a cache made for another version of the bundle file (size or mtime)', () => {
    const { bundle, runner } = makeBundle();
    run(runner);
    const later = new Date(Date.now() + 10_000);
    utimesSync(bundle, later, later);
    expect(run(runner).cache).toBe('miss');
    expect(run(runner).cache).toBe('hit');
  });

  it('replaces a well-formed cache that V8 rejects (another script’s code)', () => {
    const { dir, bundle, runner } = makeBundle();
    run(runner);
    const [name] = cacheFiles(dir);
    const path = join(dir, 'code-cache', name!);
    const { size, mtimeMs } = statSync(bundle);
    expect(writeCodeCache(path, { size, mtimeMs }, new Script('1 + 1').createCachedData())).toBe(true);
    expect(run(runner)).toMatchObject({ cache: 'rejected', status: 3 });
    expect(run(runner).cache).toBe('hit');
  });

  it('never hands a damaged cache to V8: a flipped payload byte, a cut file, a bad header', () => {
    const { dir, runner } = makeBundle();
    run(runner);
    const path = join(dir, 'code-cache', cacheFiles(dir)[0]!);
    const good = readFileSync(path);
    const damaged = [
      Buffer.concat([
        good.subarray(0, good.length - 100),
        Buffer.from([good[good.length - 100]! ^ 1]),
        good.subarray(good.length - 99),
      ]),
      good.subarray(0, good.length - 1),
      good.subarray(0, 20),
      Buffer.from('tk-code-cache 1\n{"size":1'),
      Buffer.concat([Buffer.from('tk-code-cache 2\n'), good.subarray(16)]),
      Buffer.concat([Buffer.from('tk-code-cache 1\n'), Buffer.alloc(70_000, 0x20), Buffer.from('\n')]),
      Buffer.from('tk-code-cache 1\nnull\n'),
      Buffer.alloc(0),
    ];
    for (const bytes of damaged) {
      writeFileSync(path, bytes);
      expect(run(runner)).toMatchObject({ cache: 'miss', status: 3 });
      expect(run(runner).cache).toBe('hit');
    }
  });

  it('runs without a cache when it cannot write one, and writes no more than 64 files into the folder', () => {
    const { dir, runner } = makeBundle();
    writeFileSync(join(dir, 'code-cache'), 'not a folder');
    expect(run(runner)).toMatchObject({ cache: 'miss', status: 3 });
    expect(run(runner)).toMatchObject({ cache: 'miss', status: 3 });
    rmSync(join(dir, 'code-cache'));
    mkdirSync(join(dir, 'code-cache'));
    for (let i = 0; i < 64; i++) writeFileSync(join(dir, 'code-cache', `x${i}`), '');
    expect(run(runner).cache).toBe('miss');
    expect(cacheFiles(dir)).toHaveLength(64);
  });
});

describe('readCodeCache', () => {
  it('returns nothing for a missing file', () => {
    expect(readCodeCache(join(tmpdir(), 'tk-no-such-cache.bin'), { size: 1, mtimeMs: 1 })).toBeUndefined();
  });
});

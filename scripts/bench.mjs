#!/usr/bin/env node
// `pnpm bench`: tk's performance figures (run `pnpm build` first). Prints a table; the README quotes it.
// Benchmarks measure; they never fail a build. Each figure is the median of several runs.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync as zlibGunzip, gzipSync as zlibGzip } from 'node:zlib';
import pako from '../packages/gzip/node_modules/pako/dist/pako.esm.mjs';
import { buildApk, emptyPkgInfo } from '../packages/apk/dist/index.js';
import { closeGzipWorkers, gzip } from '../packages/gzip/dist/index.js';
import { createKeyring, parsePrivateKey, parsePublicKey } from '../packages/keys/dist/index.js';
import { readIndexArchive, verifyIndexArchive } from '../packages/repo/dist/index.js';

const root = join(import.meta.dirname, '..');
const fixtures = join(root, 'test-fixtures/real');
const only = process.argv[2];

// The figures are tk's as users run it: from the bundle. A bundle older than the compiled tree makes the
// launcher run dist/main.js (about 0.1-0.3 s slower per command), which would be measured silently.
{
  const trace = spawnSync(process.execPath, [join(root, 'apps/tk/bin/tk.cjs'), '--version'], {
    env: { ...process.env, TK_LAUNCHER_TRACE: '1', TK_NO_BUNDLE: '' },
    encoding: 'utf8',
  });
  if (!trace.stderr.includes('running the bundle')) {
    console.error('bench: the bundle is missing or older than the compiled tree: run `pnpm run build` first');
    process.exit(2);
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(runs, fn) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

const results = [];
function report(name, value, unit, note = '') {
  results.push({ name, value, unit, note });
  console.log(`${name.padEnd(58)} ${String(value).padStart(10)} ${unit.padEnd(6)} ${note}`);
}

/** A deterministic tree of real files: the first `limit` bytes of regular files under the given dirs, in sorted order. */
function realTree(dirs, limit) {
  const files = [];
  let total = 0;
  const walk = (dir, rel) => {
    for (const name of readdirSync(dir).sort()) {
      if (total >= limit) return;
      const path = join(dir, name);
      let st;
      try {
        st = statSync(path, { throwIfNoEntry: false });
      } catch {
        continue;
      }
      if (st === undefined) continue;
      if (st.isDirectory()) walk(path, `${rel}/${name}`);
      else if (st.isFile() && st.size > 0 && st.size < 4 << 20) {
        let data;
        try {
          data = readFileSync(path);
        } catch {
          continue;
        }
        files.push({
          path: `${rel}/${name}`.slice(1),
          type: 'file',
          mode: st.mode & 0o7777,
          data: new Uint8Array(data),
        });
        total += data.length;
      }
    }
  };
  for (const dir of dirs) walk(dir, dir);
  return { files, total };
}

if (only === undefined || only === 'index') {
  const bytes = new Uint8Array(readFileSync(join(fixtures, 'alpine/v3.17-main-aarch64-APKINDEX.tar.gz')));
  const keyring = createKeyring();
  const keyName = 'alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub';
  keyring.add(keyName, parsePublicKey(readFileSync(join(fixtures, 'keys', keyName), 'utf8')));
  let count = 0;
  const ms = await time(15, () => {
    const index = readIndexArchive(bytes);
    if (verifyIndexArchive(bytes, index, keyring).status !== 'OK') throw new Error('index did not verify');
    count = index.entries.length;
  });
  report(`parse + verify Alpine v3.17 APKINDEX (${count} entries)`, ms.toFixed(1), 'ms');
}

if (only === undefined || only === 'package') {
  const { files, total } = realTree(['/usr/lib/x86_64-linux-gnu', '/usr/bin', '/usr/lib'], 64 << 20);
  const mb = total / 1e6;
  const key = parsePrivateKey(readFileSync(join(fixtures, 'apko-testrepo/melange.rsa'), 'utf8'));
  const contents = files.map((f) => f.data);
  const input = {
    pkginfo: { ...emptyPkgInfo('bench', '1.0-r0'), arch: 'x86_64' },
    files,
    sourceDateEpoch: 0,
    signer: { key, keyName: 'melange.rsa.pub' },
  };
  await buildApk(input); // warm the worker pool
  const apkMs = await time(3, () => buildApk(input));
  const pakoMs = await time(3, () => pako.gzip(Buffer.concat(contents), { level: 6 }));
  const parallelMs = await time(3, () => gzip(contents));
  const wasmZlibMs = await time(3, () => gzip(contents, { threads: 1 }));
  const libdeflateMs = await time(3, () => gzip(contents, { engine: 'libdeflate', threads: 1 }));
  const libdeflateParallelMs = await time(3, () => gzip(contents, { engine: 'libdeflate', threads: 2 }));
  const zlibMs = await time(3, () => zlibGzip(Buffer.concat(contents), { level: 6 }));
  const tarFile = join(tmpdir(), `tk-bench-gzip-${process.pid}`);
  writeFileSync(tarFile, Buffer.concat(contents));
  const gnuGzipMs = await time(3, () => execFileSync('gzip', ['-6', '-c', tarFile], { maxBuffer: 1 << 30 }));
  rmSync(tarFile, { force: true });
  const rate = (ms) => (mb / (ms / 1000)).toFixed(1);
  report(`package ${files.length} real files (${mb.toFixed(1)} MB) into a signed apk`, rate(apkMs), 'MB/s');
  report('  floor: GNU gzip -6, native, one thread', rate(gnuGzipMs), 'MB/s');
  report('  tk gzip, zlib (WebAssembly), one thread; what packages use', rate(wasmZlibMs), 'MB/s');
  report('  tk gzip, zlib, pigz-style blocks on all cores', rate(parallelMs), 'MB/s');
  report('  tk gzip, libdeflate (WebAssembly), one thread; what layers use', rate(libdeflateMs), 'MB/s');
  report('  tk gzip, libdeflate, one member per block on two workers', rate(libdeflateParallelMs), 'MB/s');
  report(
    '  ratio: zlib one thread / GNU gzip -6',
    (wasmZlibMs / gnuGzipMs).toFixed(2),
    'x',
    'time; 1 = native speed',
  );
  report('  ratio: libdeflate one thread / GNU gzip -6', (libdeflateMs / gnuGzipMs).toFixed(2), 'x', 'time');
  report(
    '  pako level 6, one thread (before the WebAssembly engines; same bytes as zlib)',
    rate(pakoMs),
    'MB/s',
  );
  report('  node:zlib level 6, one thread (not used: not reproducible)', rate(zlibMs), 'MB/s');
  report(
    '  ratio: apk writer / pako, one thread',
    (pakoMs / apkMs).toFixed(2),
    'x',
    '>1 means faster than one-thread pako',
  );
  report(
    '  ratio: apk writer / tk parallel gzip',
    (parallelMs / apkMs).toFixed(2),
    'x',
    'share of the compressor limit reached',
  );
  await closeGzipWorkers();
}

if (only === undefined || only === 'solver') {
  for (const [mode, label] of [
    ['alpine', 'Alpine v3.17 index (5004 entries)'],
    ['synthetic', 'synthetic Wolfi-shaped index (100,000 entries)'],
  ]) {
    const runs = [];
    for (let i = 0; i < 5; i++) {
      runs.push(
        JSON.parse(
          execFileSync(process.execPath, [join(root, 'scripts/bench-solver-child.mjs'), mode], {
            encoding: 'utf8',
          }).trim(),
        ),
      );
    }
    const p = median(runs.map((r) => r.parseMs));
    const s = median(runs.map((r) => r.solveMs));
    report(
      `parse + resolve against the ${label}`,
      (p + s).toFixed(0),
      'ms',
      `parse ${p.toFixed(0)} ms + resolve ${s.toFixed(0)} ms, ${runs[0].packages} packages`,
    );
    report('  peak memory (max RSS)', median(runs.map((r) => r.maxRssMiB)).toFixed(0), 'MiB');
  }
}

if (only === undefined || only === 'apko') {
  const config = join(root, 'examples/apko/hello.yaml');
  if (!existsSync(join(root, '.cache/bootstrap/repo/x86_64/APKINDEX.tar.gz'))) {
    console.log('apko: skipped measuring: the bootstrap repository is missing (run ./scripts/setup.sh)');
  } else {
    const cache = mkdtempSync(join(tmpdir(), 'tk-bench-cache-'));
    for (const [label, archs] of [
      ['single-arch (x86_64)', 'x86_64'],
      ['multi-arch (x86_64, aarch64)', 'x86_64,aarch64'],
    ]) {
      const runs = [];
      for (let i = 0; i < 3; i++) {
        const out = execFileSync(
          process.execPath,
          [join(root, 'scripts/bench-apko-child.mjs'), config, archs, cache],
          { encoding: 'utf8' },
        );
        runs.push(JSON.parse(out.trim().split('\n').pop()));
      }
      const m = median(runs.map((r) => r.ms));
      const c = median(runs.map((r) => r.compressMs));
      const mb = runs[0].uncompressed / 1e6;
      report(`build examples/apko/hello.yaml ${label}`, m.toFixed(0), 'ms', `${mb.toFixed(1)} MB of layers`);
      report('  peak memory (max RSS)', median(runs.map((r) => r.maxRssMiB)).toFixed(0), 'MiB');
      report(
        '  share spent compressing layers (the limit)',
        ((100 * c) / m).toFixed(0),
        '%',
        `${c.toFixed(0)} ms of gzip`,
      );
    }
  }
}

if (only === undefined || only === 'startup') {
  // Fresh processes, interleaved so background load hits every command alike; the ratio to `node -e 0`
  // (measured in the same run) is the figure to compare across machines.
  const tk = join(root, 'apps/tk/bin/tk.cjs');
  const apk = join(fixtures, 'apko-testrepo/x86_64/replayout-1.0.0-r0.apk');
  const commands = [
    ['node -e 0', ['-e', '0']],
    ['tk --help', [tk, '--help']],
    [
      'tk apk verify of one package',
      [tk, 'apk', 'verify', '--keyring', join(fixtures, 'apko-testrepo/melange.rsa.pub'), apk],
    ],
  ];
  const samples = commands.map(() => []);
  for (let i = 0; i < 9; i++) {
    commands.forEach(([, args], j) => {
      const start = performance.now();
      execFileSync(process.execPath, args, { stdio: 'ignore' });
      samples[j].push(performance.now() - start);
    });
  }
  const base = median(samples[0]);
  commands.forEach(([name], j) => {
    const ms = median(samples[j]);
    report(
      `start-up: ${name}`,
      ms.toFixed(0),
      'ms',
      j === 0 ? 'the floor' : `${(ms / base).toFixed(2)}x node -e 0`,
    );
  });
}

if (only === undefined || only === 'floors') {
  // Issue #12: each figure next to the native floor measured in the same run, all in fresh processes,
  // interleaved (one round runs every command once) so background load hits them alike; medians of 5.
  const tk = join(root, 'apps/tk/bin/tk.cjs');
  const config = join(root, 'examples/apko/hello.yaml');
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const apkBin = existsSync('/usr/local/bin/apk') ? '/usr/local/bin/apk' : undefined;
  const work = mkdtempSync(join(tmpdir(), 'tk-bench-floors-'));
  /** One fresh process: wall time from here, peak RSS from `/usr/bin/time` (NaN without it). */
  const run = (cmd, args, keepStdout = false) => {
    const rssFile = join(work, 'rss');
    const [file, argv] = timeBin ? [timeBin, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
    const start = performance.now();
    const r = spawnSync(file, argv, {
      cwd: root,
      stdio: ['ignore', keepStdout ? 'pipe' : 'ignore', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const ms = performance.now() - start;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    const rssMiB = timeBin ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024 : NaN;
    return { ms, rssMiB, stdout: r.stdout };
  };
  const rounds = [];
  const measure = (name, cmd, args, before) => rounds.push({ name, cmd, args, before, samples: [] });
  const node = ['-e', '0'];
  measure('node', process.execPath, node);

  const haveBootstrap = existsSync(join(root, '.cache/bootstrap/repo/x86_64/APKINDEX.tar.gz'));
  const builds = [
    ['amd64', 'amd64'],
    ['amd64+arm64', 'amd64,arm64'],
  ];
  const layerBytes = {};
  if (!haveBootstrap) {
    console.log(
      'floors: skipped the image builds: the bootstrap repository is missing (run ./scripts/setup.sh)',
    );
  } else {
    for (const [label, archs] of builds) {
      const cache = join(work, `cache-${label}`);
      const out = join(work, `${label}.tar`);
      const args = [tk, 'apko', 'build', config, 'hello:latest', out, '--arch', archs, '--cache-dir', cache];
      // Unmeasured: warms the OS file cache and any download cache, and gives the layers for the floor.
      run(process.execPath, args);
      const layers = [];
      for (const m of JSON.parse(execFileSync('tar', ['-xOf', out, 'manifest.json'], { encoding: 'utf8' }))) {
        for (const name of m.Layers) {
          const tar = zlibGunzip(execFileSync('tar', ['-xOf', out, name], { maxBuffer: 1 << 30 }));
          const path = join(work, `${label}-${layers.length}.tar`);
          writeFileSync(path, tar);
          layers.push(path);
          layerBytes[label] = (layerBytes[label] ?? 0) + tar.length;
        }
      }
      measure(`gzip ${label}`, '/usr/bin/gzip', ['-6', '-c', ...layers]);
      measure(`cold ${label}`, process.execPath, args, () =>
        rmSync(join(cache, 'layers'), { recursive: true, force: true }),
      );
      measure(`warm ${label}`, process.execPath, args);
    }
  }

  // The Alpine world of issue #12 against the real, signed v3.17 aarch64 index (5004 entries), offline.
  const world = ['python3', 'git', 'openssh'];
  const repo = join(work, 'alpine');
  const keys = join(work, 'keys');
  const keyName = 'alpine-devel@lists.alpinelinux.org-616ae350.rsa.pub';
  mkdirSync(join(repo, 'aarch64'), { recursive: true });
  mkdirSync(keys);
  copyFileSync(
    join(fixtures, 'alpine/v3.17-main-aarch64-APKINDEX.tar.gz'),
    join(repo, 'aarch64/APKINDEX.tar.gz'),
  );
  copyFileSync(join(fixtures, 'keys', keyName), join(keys, keyName));
  const worldConfig = join(work, 'alpine-world.yaml');
  writeFileSync(
    worldConfig,
    `contents:\n  repositories:\n    - ${repo}\n  keyring:\n    - ${join(keys, keyName)}\n` +
      `  packages:\n${world.map((p) => `    - ${p}\n`).join('')}archs:\n  - aarch64\n`,
  );
  const showArgs = [
    tk,
    'apko',
    'show-packages',
    worldConfig,
    '--arch',
    'arm64',
    '--offline',
    '--cache-dir',
    join(work, 'cache-show'),
  ];
  const tkSet = run(process.execPath, showArgs, true)
    .stdout.trim()
    .split('\n')
    .map((l) => l.split(' ')[0])
    .sort();
  measure('show', process.execPath, showArgs);
  let apkNote = 'apk-tools not found, no ratio';
  if (apkBin !== undefined) {
    const apkRoot = join(work, 'apk-root');
    mkdirSync(apkRoot);
    const common = [
      '--root',
      apkRoot,
      '--arch',
      'aarch64',
      '--repository',
      repo,
      '--keys-dir',
      keys,
      '--no-network',
      '--no-cache',
    ];
    run(apkBin, [...common, 'add', '--initdb']);
    const simulate = [...common, 'add', '--simulate', ...world];
    const apkSet = [...run(apkBin, simulate, true).stdout.matchAll(/Installing (\S+) /g)]
      .map((m) => m[1])
      .sort();
    const version = execFileSync(apkBin, ['--version'], { encoding: 'utf8' }).split(',')[0];
    apkNote =
      apkSet.join() === tkSet.join()
        ? `${version}, the same ${apkSet.length} packages`
        : `${version} DIFFERS: apk-tools ${apkSet.length} packages, tk ${tkSet.length}`;
    measure('apk', apkBin, simulate);
  }

  // Nine rounds: the machine is often shared, and a median of nine is steadier than one of five.
  for (let i = 0; i < 9; i++) {
    for (const r of rounds) {
      r.before?.();
      r.samples.push(run(r.cmd, r.args));
    }
  }
  const fig = (name) => {
    const r = rounds.find((x) => x.name === name);
    return r && { ms: median(r.samples.map((s) => s.ms)), rss: median(r.samples.map((s) => s.rssMiB)) };
  };
  const mib = (v) => (Number.isNaN(v) ? 'n/a' : v.toFixed(0));
  const nodeFig = fig('node');
  report('floor: node -e 0', nodeFig.ms.toFixed(0), 'ms', `peak RSS ${mib(nodeFig.rss)} MiB`);
  if (haveBootstrap) {
    for (const [label] of builds) {
      const gz = fig(`gzip ${label}`);
      const cold = fig(`cold ${label}`);
      const warm = fig(`warm ${label}`);
      const floor = gz.ms + nodeFig.ms;
      const mb = (layerBytes[label] / 1e6).toFixed(1);
      report(
        `floor: gzip -6 -c of the ${label} layer tar${label.includes('+') ? 's' : ''} (${mb} MB)`,
        gz.ms.toFixed(0),
        'ms',
        'layer taken from the image and gunzipped; one thread',
      );
      report(
        `tk apko build hello ${label}, cold (layer compressed)`,
        cold.ms.toFixed(0),
        'ms',
        `peak RSS ${mib(cold.rss)} MiB`,
      );
      report(
        '  ratio: cold / (gzip + node -e 0)',
        (cold.ms / floor).toFixed(2),
        'x',
        `floor ${floor.toFixed(0)} ms; RSS ${(cold.rss / nodeFig.rss).toFixed(1)}x node -e 0's`,
      );
      report(
        `tk apko build hello ${label}, warm (layer cache hit)`,
        warm.ms.toFixed(0),
        'ms',
        `peak RSS ${mib(warm.rss)} MiB`,
      );
      report(
        '  ratio: warm / node -e 0',
        (warm.ms / nodeFig.ms).toFixed(2),
        'x',
        `RSS ${(warm.rss / nodeFig.rss).toFixed(1)}x node -e 0's`,
      );
    }
  }
  const show = fig('show');
  report(
    `tk apko show-packages ${world.join('+')} (Alpine index)`,
    show.ms.toFixed(0),
    'ms',
    `${tkSet.length} packages, peak RSS ${mib(show.rss)} MiB`,
  );
  const apk = fig('apk');
  if (apk === undefined) {
    console.log(`  ${apkNote}`);
  } else {
    report(
      'floor: apk add --simulate, same world and index',
      apk.ms.toFixed(0),
      'ms',
      `${apkNote}, peak RSS ${mib(apk.rss)} MiB`,
    );
    report(
      '  ratio: show-packages / apk-tools',
      (show.ms / apk.ms).toFixed(2),
      'x',
      `RSS ${(show.rss / apk.rss).toFixed(1)}x`,
    );
  }
  rmSync(work, { recursive: true, force: true });
}

if (only === undefined || only === 'melange') {
  const { benchMelange } = await import('./bench-melange.mjs');
  await benchMelange(report);
}

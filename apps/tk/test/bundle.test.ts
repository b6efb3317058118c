/**
 * The bundled tk (scripts/bundle.mjs) and its launcher (apps/tk/bin/tk.cjs): the bundle runs the same code
 * as dist/main.js, byte for byte in what it writes, with and without its code cache, and the launcher runs
 * it only while it is current.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { WRAPPER_START } from '../bin/code-cache.cjs';
import { bundleIsCurrent } from '../bin/current.cjs';
import { BOOTSTRAP_REPO, ROOT, tempDirs } from './helpers.ts';

const tempDir = tempDirs('tk-bundle-');

const DIST_MAIN = join(ROOT, 'apps/tk/dist/main.js');
const ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: tmpdir(), SOURCE_DATE_EPOCH: '0' };

function run(entry: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [entry, ...args], {
    cwd: ROOT,
    env: { ...ENV, ...env },
    encoding: 'utf8',
    stdio: 'pipe',
  });
}

/** A launcher for a bundle made elsewhere, as apps/tk/bin/tk.cjs runs apps/tk/bundle. */
function writeRunner(bundle: string): string {
  const runner = join(bundle, 'run.mjs');
  writeFileSync(
    runner,
    [
      "import { readFileSync } from 'node:fs';",
      `import { loadBundle } from ${JSON.stringify(pathToFileURL(join(ROOT, 'apps/tk/bin/code-cache.cjs')).href)};`,
      "const manifest = JSON.parse(readFileSync(new URL('inputs.json', import.meta.url), 'utf8'));",
      'const { exports, cache } = loadBundle(',
      "  new URL(manifest.entry, import.meta.url).pathname, manifest.sha256, process.argv.slice(2, 4).join(' '),",
      "  process.env.TK_NO_CODE_CACHE !== '1', manifest.sides);",
      'process.stderr.write(`code cache: ${cache}\\n`);',
      'process.exitCode = await exports.runProcess();',
      '',
    ].join('\n'),
  );
  return runner;
}

describe('the bundle', () => {
  let bundle = '';
  let runner = '';
  beforeAll(() => {
    bundle = tempDir();
    execFileSync(process.execPath, [join(ROOT, 'scripts/bundle.mjs'), '--outdir', bundle], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    runner = writeRunner(bundle);
  }, 60_000);

  it('lists its inputs with sizes and mtimes, and they are current', () => {
    const manifest = JSON.parse(readFileSync(join(bundle, 'inputs.json'), 'utf8')) as {
      entry: string;
      sha256: string;
      inputs: [string, number, number][];
    };
    expect(manifest.entry).toBe('tk.cjs');
    expect(manifest.sha256).toBe(
      createHash('sha256')
        .update(readFileSync(join(bundle, 'tk.cjs')))
        .digest('hex'),
    );
    const paths = manifest.inputs.map(([path]) => path);
    expect(paths).toContain('apps/tk/dist/process.js');
    expect(paths).toContain('packages/gzip/worker/deflate-block.mjs');
    expect(paths.some((p) => p.includes('node_modules/') && p.includes('commander'))).toBe(true);
    expect(bundleIsCurrent(pathToFileURL(join(bundle, 'inputs.json')), pathToFileURL(`${ROOT}/`))).toBe(true);
  });

  it('guards its inputs with a few files that change whenever they do', () => {
    const manifest = JSON.parse(readFileSync(join(bundle, 'inputs.json'), 'utf8')) as {
      guards: [string, number, number][];
      inputs: [string, number, number][];
    };
    const guards = manifest.guards.map(([path]) => path);
    // Each compiled project's build info (tsc -b rewrites it with the project's output), pnpm's install
    // record, and the inputs neither covers (the deflate worker).
    for (const project of ['apps/tk', 'apps/apko', 'apps/melange', 'packages/core', 'packages/solver'])
      expect(guards).toContain(`${project}/tsconfig.tsbuildinfo`);
    expect(guards).toContain('node_modules/.modules.yaml');
    expect(guards).toContain('packages/gzip/worker/deflate-block.mjs');
    for (const [path] of manifest.inputs) {
      const project = /^(.*?)\/dist\//.exec(path)?.[1];
      const guard = path.startsWith('node_modules/')
        ? 'node_modules/.modules.yaml'
        : project === undefined
          ? path
          : `${project}/tsconfig.tsbuildinfo`;
      expect(guards, path).toContain(guard);
    }
    expect(guards.length).toBeLessThan(manifest.inputs.length / 10);
  });

  it('builds the hello image byte for byte as dist/main.js does, compiled from source and from its code cache', () => {
    const out = tempDir();
    const args = (tar: string, extra: string[]) => [
      'apko',
      'build',
      'examples/apko/hello.yaml',
      'hello:latest',
      join(out, tar),
      '--arch',
      'amd64,arm64',
      '--no-layer-cache',
      '--sbom-path',
      join(out, tar.replace('.tar', '-sbom')),
      ...extra,
    ];
    expect(BOOTSTRAP_REPO).toBeTruthy();
    const cacheRun = (tar: string) => {
      const r = spawnSync(process.execPath, [runner, ...args(tar, [])], {
        cwd: ROOT,
        env: ENV,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      return r.stderr.split('\n')[0];
    };
    expect(cacheRun('miss.tar')).toBe('code cache: miss');
    expect(cacheRun('hit.tar')).toBe('code cache: hit');
    run(runner, args('source.tar', []), { TK_NO_CODE_CACHE: '1' });
    run(DIST_MAIN, args('dist.tar', []));
    const dist = readFileSync(join(out, 'dist.tar'));
    for (const tar of ['miss.tar', 'hit.tar', 'source.tar'])
      expect(readFileSync(join(out, tar)).equals(dist), tar).toBe(true);
  }, 60_000);

  it('finds the deflate workers and WebAssembly next to their original files (a 60 MB image: two workers)', () => {
    const out = tempDir();
    const config = join(out, 'gcc.yaml');
    writeFileSync(
      config,
      [
        'contents:',
        `  repositories: [${BOOTSTRAP_REPO}]`,
        `  keyring: [${join(ROOT, 'test-fixtures/bootstrap/keys/tk-bootstrap.rsa.pub')}]`,
        '  packages: [tk-baselayout, busybox, gcc]',
        'archs: [x86_64]',
        '',
      ].join('\n'),
    );
    for (const [entry, tar] of [
      [runner, 'bundle.tar'],
      [DIST_MAIN, 'dist.tar'],
    ] as const)
      run(entry, ['apko', 'build', config, 'gcc:latest', join(out, tar), '--no-layer-cache', '--no-sbom']);
    expect(statSync(join(out, 'dist.tar')).size).toBeGreaterThan(16 << 20);
    expect(readFileSync(join(out, 'bundle.tar')).equals(readFileSync(join(out, 'dist.tar')))).toBe(true);
  }, 60_000);

  it('loads undici from where it is installed when a command goes to the network', () => {
    // esbuild would give a bundled, dynamically imported undici no named exports (`undici.Agent is not a
    // constructor`): the bundle imports the installed copy. Port 9 (discard) is closed on loopback here.
    const r = spawnSync(
      process.execPath,
      [runner, 'apko', 'publish', 'examples/apko/hello.yaml', '127.0.0.1:9/hello:latest', '--arch', 'amd64'],
      { cwd: ROOT, env: ENV, encoding: 'utf8' },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('error [REGISTRY_UNAVAILABLE]');
    expect(r.stderr).toContain('ECONNREFUSED');
    const manifest = readFileSync(join(bundle, 'inputs.json'), 'utf8');
    expect(manifest).toMatch(/node_modules\/[^"]*undici\/index\.js/);
  }, 60_000);

  it('keeps zod in a bundle of its own, loaded (with its code cache) only by commands that need it', () => {
    const manifest = JSON.parse(readFileSync(join(bundle, 'inputs.json'), 'utf8')) as {
      sides: Record<string, string>;
    };
    const zodSha = createHash('sha256')
      .update(readFileSync(join(bundle, 'zod.cjs')))
      .digest('hex');
    expect(manifest.sides).toEqual({ './zod.cjs': zodSha });
    // Both files hold their CommonJS wrapper, so the launcher compiles them as read (no second copy).
    for (const file of ['tk.cjs', 'zod.cjs']) {
      const text = readFileSync(join(bundle, file), 'latin1');
      expect(text.startsWith(WRAPPER_START) && text.trimEnd().endsWith('})'), file).toBe(true);
    }
    expect(readFileSync(join(bundle, 'tk.cjs'), 'utf8')).not.toContain('$constructor("ZodString"');
    expect(readFileSync(join(bundle, 'zod.cjs'), 'utf8')).toContain('$constructor("ZodString"');
    const zodCaches = () =>
      readdirSync(join(bundle, 'code-cache')).filter((name) => name.includes(zodSha.slice(0, 32)));
    // A valid apko configuration: read and checked without zod.
    run(runner, ['apko', 'show-config', 'examples/apko/hello.yaml', '--arch', 'amd64']);
    expect(zodCaches()).toEqual([]);
    // A melange recipe: zod loads, through its own code cache.
    run(runner, ['melange', 'compile', 'examples/hello/melange.yaml', '--arch', 'x86_64']);
    expect(zodCaches()).toEqual([expect.stringMatching(/-melange\.compile\.bin$/)]);
    // An invalid apko configuration: zod loads for the messages.
    const bad = join(tempDir(), 'bad.yaml');
    writeFileSync(bad, 'contents:\n  packages: [hello]\nentrypiont: {}\n');
    const r = spawnSync(process.execPath, [runner, 'apko', 'show-config', bad], {
      cwd: ROOT,
      env: ENV,
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('entrypiont');
    expect(zodCaches()).toHaveLength(2);
  }, 30_000);

  it('finds melange’s pipelines next to their original files', () => {
    const args = ['melange', 'compile', 'examples/hello/melange.yaml', '--arch', 'x86_64'];
    const fromBundle = run(runner, args);
    expect(fromBundle).toBe(run(DIST_MAIN, args));
    expect(fromBundle).toContain('./configure');
  }, 30_000);
});

describe('bundleIsCurrent', () => {
  const root = tempDir();
  const file = join(root, 'a.js');
  writeFileSync(file, 'export {};\n');
  const manifestPath = join(root, 'inputs.json');
  const check = () => bundleIsCurrent(pathToFileURL(manifestPath), pathToFileURL(`${root}/`));
  const record = () => {
    const stat = statSync(file);
    writeFileSync(manifestPath, JSON.stringify({ inputs: [['a.js', stat.size, stat.mtimeMs]] }));
  };

  it('is true while every input keeps its size and mtime', () => {
    record();
    expect(check()).toBe(true);
  });

  it('is false once an input changes, even to the same size', () => {
    record();
    const later = new Date(statSync(file).mtimeMs + 5000);
    utimesSync(file, later, later);
    expect(check()).toBe(false);
    record();
    writeFileSync(file, 'export {}; \n');
    expect(check()).toBe(false);
  });

  it('checks only the guards when the manifest has them', () => {
    const guard = join(root, 'tsconfig.tsbuildinfo');
    writeFileSync(guard, '{}');
    const stat = (path: string) => statSync(path);
    const write = () =>
      writeFileSync(
        manifestPath,
        JSON.stringify({
          guards: [['tsconfig.tsbuildinfo', stat(guard).size, stat(guard).mtimeMs]],
          inputs: [['a.js', stat(file).size, stat(file).mtimeMs]],
        }),
      );
    write();
    expect(check()).toBe(true);
    // tsc -b rewrites the build info along with the output: the bundle is stale.
    writeFileSync(guard, '{"version":"x"}');
    expect(check()).toBe(false);
    write();
    rmSync(guard);
    expect(check()).toBe(false);
    writeFileSync(manifestPath, JSON.stringify({ guards: [], inputs: [['a.js', 1, 1]] }));
    expect(check()).toBe(false);
    writeFileSync(manifestPath, JSON.stringify({ guards: [['/etc/passwd', 1, 1]], inputs: [] }));
    expect(check()).toBe(false);
  });

  it('is false for a missing, unreadable, empty or malformed manifest, and for inputs gone or not files', () => {
    rmSync(manifestPath, { force: true });
    expect(check()).toBe(false);
    for (const text of [
      '',
      '{',
      'null',
      '[]',
      '{"inputs":[]}',
      '{"inputs":"a.js"}',
      '{"inputs":[[1,2,3]]}',
      '{"inputs":[null]}',
    ])
      expect((writeFileSync(manifestPath, text), check()), text).toBe(false);
    writeFileSync(manifestPath, JSON.stringify({ inputs: [['gone.js', 1, 1]] }));
    expect(check()).toBe(false);
    writeFileSync(manifestPath, JSON.stringify({ inputs: [['.', 4096, statSync(root).mtimeMs]] }));
    expect(check()).toBe(false);
  });
});

describe('the launcher', () => {
  const launcher = join(ROOT, 'apps/tk/bin/tk.cjs');
  const trace = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, [launcher, '--version'], {
      cwd: ROOT,
      env: { ...ENV, TK_LAUNCHER_TRACE: '1', ...env },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    return r.stderr.trim();
  };

  it('runs apps/tk/bundle only while it is current, dist/main.js otherwise or when told to', () => {
    const current = bundleIsCurrent(
      pathToFileURL(join(ROOT, 'apps/tk/bundle/inputs.json')),
      pathToFileURL(`${ROOT}/`),
    );
    expect(trace({})).toMatch(
      current
        ? /^tk: running the bundle \(code cache: (hit|miss|rejected)\)$/
        : /^tk: running dist\/main\.js$/,
    );
    if (current) expect(trace({ TK_NO_CODE_CACHE: '1' })).toBe('tk: running the bundle (code cache: off)');
    expect(trace({ TK_NO_BUNDLE: '1' })).toBe('tk: running dist/main.js');
  });
});

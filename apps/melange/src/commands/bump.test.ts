import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { bumpRecipe, type BumpOptions } from './bump.ts';

const ROOT = join(import.meta.dirname, '../../../..');
const RECIPES = join(ROOT, 'test-fixtures/recipes/melange');
const EXPECTED = join(import.meta.dirname, 'testdata/bump');

/** The local server: `tarball <path>\n` for every path, 404 for /missing/*, a huge body for /huge/*. */
let server: Server;
let base: string;
const requests: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    if (path.startsWith('/missing/')) {
      res.writeHead(404).end('not found');
      return;
    }
    if (path.startsWith('/huge/')) {
      res.writeHead(200, { 'content-length': String(1 << 20) }).end(Buffer.alloc(1 << 20));
      return;
    }
    res.writeHead(200).end(`tarball ${path}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let work: string;
beforeEach((ctx) => {
  work = mkdtempSync(join(tmpdir(), 'tk-bump-'));
  requests.length = 0;
  ctx.onTestFinished(() => rmSync(work, { recursive: true, force: true }));
});

/** Copy a fixture recipe into the work folder, its download host replaced by the local server. */
function recipe(fixture: string, host?: string): string {
  let text = readFileSync(join(RECIPES, fixture), 'utf8');
  if (host !== undefined) text = text.split(host).join(base);
  const path = join(work, fixture.split('/').pop()!);
  writeFileSync(path, text);
  return path;
}

function expected(name: string): string {
  return readFileSync(join(EXPECTED, name), 'utf8').split('http://127.0.0.1:PORT').join(base);
}

function options(configPath: string, version: string, extra: Partial<BumpOptions> = {}): BumpOptions {
  return { configPath, version, tempDir: work, retries: 0, ...extra };
}

async function failure(promise: Promise<unknown>): Promise<MelangeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MelangeError);
  return error as MelangeError;
}

describe('bumpRecipe on real recipes (compared with hand-written expected files)', () => {
  it('glpk 5.0 → 5.1: version quoted, epoch reset (its comment kept), sha256 of the new tarball', async () => {
    const path = recipe('wolfi/glpk.yaml', 'https://ftpmirror.gnu.org');
    const result = await bumpRecipe(options(path, '5.1'));
    expect(readFileSync(path, 'utf8')).toBe(expected('glpk-5.1.yaml'));
    expect(result).toMatchObject({
      from: { version: '5.0', epoch: 6 },
      to: { version: '5.1', epoch: 0 },
      changed: true,
    });
    expect(result.sources).toEqual([
      {
        where: 'pipeline[0]',
        uri: `${base}/gnu/glpk/glpk-5.1.tar.gz`,
        sha256: '47076dbbb78b93795734fd1449063a7d416a528281cb0c8795ef6eaf06b372c2',
        fromCache: false,
      },
    ]);
    expect(requests).toEqual(['/gnu/glpk/glpk-5.1.tar.gz']);
  });

  it('rpcbind 1.2.9 → 1.3.0: the version appears twice in the URI', async () => {
    const path = recipe('wolfi/rpcbind.yaml', 'https://downloads.sourceforge.net');
    await bumpRecipe(options(path, '1.3.0'));
    expect(readFileSync(path, 'utf8')).toBe(expected('rpcbind-1.3.0.yaml'));
  });

  it('zstd 1.5.7 → 1.5.8 with --expected-commit: the git-checkout commit is set, nothing is downloaded', async () => {
    const path = recipe('wolfi/zstd.yaml');
    const result = await bumpRecipe(
      options(path, '1.5.8', { expectedCommit: '0123456789abcdef0123456789abcdef01234567' }),
    );
    expect(readFileSync(path, 'utf8')).toBe(expected('zstd-1.5.8.yaml'));
    expect(result.commits).toEqual([
      { where: 'pipeline[0]', commit: '0123456789abcdef0123456789abcdef01234567' },
    ]);
    expect(requests).toEqual([]);
  });

  it('expat, same version (a re-tagged upstream): epoch + 1, commit set', async () => {
    const path = recipe('wolfi/expat.yaml');
    const result = await bumpRecipe(
      options(path, '2.8.3', { expectedCommit: '89abcdef0123456789abcdef0123456789abcdef' }),
    );
    expect(readFileSync(path, 'utf8')).toBe(expected('expat-2.8.3-retag.yaml'));
    expect(result.to).toEqual({ version: '2.8.3', epoch: 1 });
  });

  it('two fetches of one URI with sha512: downloaded once, both updated', async () => {
    const path = recipe('golden-sbom/7zip-two-fetches.yaml', 'https://7-zip.org');
    const result = await bumpRecipe(options(path, '2408'));
    expect(readFileSync(path, 'utf8')).toBe(expected('7zip-two-fetches-2408.yaml'));
    expect(requests).toEqual(['/a/7z2408-src.tar.xz']);
    expect(result.sources.map((s) => s.where)).toEqual(['pipeline[0]', 'pipeline[1]']);
  });
});

describe('the source cache (--cache-dir)', () => {
  it('keeps downloads as sha256:<hex>, and takes an unchanged URI from there without the network', async () => {
    const cache = join(work, 'cache');
    const path = recipe('wolfi/glpk.yaml', 'https://ftpmirror.gnu.org');
    await bumpRecipe(options(path, '5.1', { cacheDir: cache }));
    const name = 'sha256:47076dbbb78b93795734fd1449063a7d416a528281cb0c8795ef6eaf06b372c2';
    expect(readFileSync(join(cache, name), 'utf8')).toBe('tarball /gnu/glpk/glpk-5.1.tar.gz\n');
    requests.length = 0;
    // Same version again: epoch + 1, the checksum comes from the cache.
    const again = await bumpRecipe(options(path, '5.1', { cacheDir: cache }));
    expect(requests).toEqual([]);
    expect(again.to).toEqual({ version: '5.1', epoch: 1 });
    expect(again.sources[0]).toMatchObject({ fromCache: true, sha256: name.slice(7) });
    expect(readFileSync(path, 'utf8')).toBe(expected('glpk-5.1.yaml').replace('epoch: 0 #', 'epoch: 1 #'));
  });

  it('a cache file whose content does not match its name is not trusted', async () => {
    const cache = join(work, 'cache');
    mkdirSync(cache);
    const path = recipe('wolfi/glpk.yaml', 'https://ftpmirror.gnu.org');
    writeFileSync(
      join(cache, 'sha256:4a1013eebb50f728fc601bdd833b0b2870333c3b3e5a816eeba921d95bec6f15'),
      'tampered',
    );
    const result = await bumpRecipe(options(path, '5.0', { cacheDir: cache }));
    expect(requests).toEqual(['/gnu/glpk/glpk-5.0.tar.gz']);
    expect(result.sources[0]?.sha256).toBe(
      createHash('sha256').update('tarball /gnu/glpk/glpk-5.0.tar.gz\n').digest('hex'),
    );
  });

  it('sha512 steps are kept under both names', async () => {
    const cache = join(work, 'cache');
    await bumpRecipe(
      options(recipe('golden-sbom/7zip-two-fetches.yaml', 'https://7-zip.org'), '2408', { cacheDir: cache }),
    );
    expect(
      existsSync(join(cache, 'sha256:016ae9f877c0ce8448620d42af99efec685aa31cb5a6940c062bc61f71cd6e71')),
    ).toBe(true);
    expect(
      existsSync(
        join(
          cache,
          'sha512:388c73ceefc2cfbbbcb4a97b8af4472d35c7f5838937ec2c54fc8d4cbf13280a879aeb9e21699e43be3077daeb056162b3c2f143be02955afaf9bb65c1591f77',
        ),
      ),
    ).toBe(true);
  });
});

describe('edits melange makes, on small recipes', () => {
  it('adds a missing epoch after version, at its indentation', async () => {
    const path = join(work, 'r.yaml');
    writeFileSync(
      path,
      'package:\n    name: x\n    version: 1.0 # upstream\n    description: d\n    copyright:\n      - license: MIT\npipeline:\n  - runs: true\n',
    );
    await bumpRecipe(options(path, '1.1'));
    expect(readFileSync(path, 'utf8')).toBe(
      'package:\n    name: x\n    version: "1.1" # upstream\n    epoch: 0\n    description: d\n    copyright:\n      - license: MIT\npipeline:\n  - runs: true\n',
    );
  });

  it('with several git-checkout steps, only those whose tag follows the version get the commit', async () => {
    // melange pkg/renovate/bump/testdata/multiple_checkouts.yaml
    const path = join(work, 'cheese.yaml');
    const input = `package:
  name: cheese
  version: 6.8
  epoch: 2
  description: "a cheesy library"

pipeline:
  - uses: git-checkout
    with:
      repository: cheese/crisps
      expected-commit: foo
      tag: v\${{package.version}}
  - uses: git-checkout
    with:
      repository: cheese/cheese
      expected-commit: bar
      tag: crackers
`;
    writeFileSync(path, input);
    const commit = 'dbd7bc96fd6cd383b8e895dc4a928d808541bb17';
    await bumpRecipe(options(path, '6.8', { expectedCommit: commit }));
    expect(readFileSync(path, 'utf8')).toBe(
      input
        .replace('version: 6.8', 'version: "6.8"')
        .replace('epoch: 2', 'epoch: 3')
        .replace('expected-commit: foo', `expected-commit: ${commit}`),
    );
  });

  it('warns when the version changes but no --expected-commit is given', async () => {
    const logger = createRecordingLogger();
    await bumpRecipe(options(recipe('wolfi/zstd.yaml'), '1.5.8', { logger }));
    expect(logger.messages.filter((m) => m.code === 'MELANGE_BUMP_STALE_COMMIT')).toHaveLength(1);
  });

  it('--dry-run computes the text and leaves the file alone', async () => {
    const path = recipe('wolfi/zstd.yaml');
    const before = readFileSync(path, 'utf8');
    const result = await bumpRecipe(options(path, '1.5.8', { dryRun: true }));
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(result.text).toContain('version: "1.5.8"');
  });

  it('keeps the file mode and writes through a symlink', async () => {
    const path = recipe('wolfi/zstd.yaml');
    chmodSync(path, 0o600);
    const linkPath = join(work, 'link.yaml');
    symlinkSync(path, linkPath);
    await bumpRecipe(options(linkPath, '1.5.8'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toContain('version: "1.5.8"');
  });
});

describe('refusals leave the file untouched', () => {
  it.each(['1.0-r1', '', '1.0 beta', '${{package.version}}', 'v1.0'])('version %j', async (version) => {
    const path = recipe('wolfi/zstd.yaml');
    const error = await failure(bumpRecipe(options(path, version)));
    expect(error.code).toBe('MELANGE_BUMP_BAD_INPUT');
  });

  it('an expected commit that is not a full hash', async () => {
    const error = await failure(
      bumpRecipe(options(recipe('wolfi/zstd.yaml'), '1.5.8', { expectedCommit: 'foo' })),
    );
    expect(error.code).toBe('MELANGE_BUMP_BAD_INPUT');
  });

  it('a download that fails (404) or is too large', async () => {
    const path = recipe('wolfi/glpk.yaml', 'https://ftpmirror.gnu.org');
    const before = readFileSync(path, 'utf8');
    writeFileSync(path, before.replace('/gnu/glpk/', '/missing/'));
    const missing = await failure(bumpRecipe(options(path, '5.1')));
    expect(missing.code).toBe('MELANGE_SOURCE_DOWNLOAD');
    writeFileSync(path, before.replace('/gnu/glpk/', '/huge/'));
    const huge = await failure(bumpRecipe(options(path, '5.1', { maxBytes: 1000 })));
    expect(huge.code).toBe('MELANGE_SOURCE_TOO_LARGE');
    expect(readFileSync(path, 'utf8')).toBe(before.replace('/gnu/glpk/', '/huge/'));
    expect(existsSync(join(work, 'cache'))).toBe(false);
  });

  it('an alias or block scalar where a value is edited', async () => {
    const path = join(work, 'r.yaml');
    const tail = '  epoch: 0\n  copyright:\n    - license: MIT\npipeline:\n  - runs: true\n';
    for (const version of ['version: *v\n', 'version: |-\n    1.0\n']) {
      const text = `vars:\n  v: &v "1.0"\npackage:\n  name: x\n  ${version}${tail}`;
      writeFileSync(path, text);
      expect((await failure(bumpRecipe(options(path, '1.1')))).code).toBe('MELANGE_BUMP_UNSUPPORTED');
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });
});

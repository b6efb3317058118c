import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MelangeError } from '../errors.ts';
import type { PipelineDefinition } from './types.ts';
import {
  SYSTEM_PIPELINE_DIR,
  builtinPipelineDir,
  cachePipelineLoader,
  createPipelineLoader,
  pipelineSearchPath,
  validatePipelineName,
} from './pipelines.ts';

async function rejection(p: Promise<unknown>): Promise<MelangeError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof MelangeError) return error;
    throw error;
  }
  throw new Error('expected a MelangeError');
}

function definition(label: string): string {
  return `name: ${label}\npipeline:\n  - runs: echo ${label}\n`;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tk-pipelines-'));
  for (const [dir, files] of Object.entries({
    first: { 'a.yaml': 'first-a' },
    second: { 'a.yaml': 'second-a', 'b.yaml': 'second-b', 'sub/c.yaml': 'second-c' },
    system: { 'b.yaml': 'system-b', 'd.yaml': 'system-d' },
    builtin: { 'd.yaml': 'builtin-d', 'e.yaml': 'builtin-e' },
  })) {
    for (const [file, label] of Object.entries(files)) {
      await mkdir(join(root, dir, file, '..'), { recursive: true });
      await writeFile(join(root, dir, file), definition(label));
    }
  }
  await mkdir(join(root, 'first', 'dir.yaml'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function loader() {
  return createPipelineLoader({
    pipelineDirs: [join(root, 'first'), join(root, 'second')],
    systemDir: join(root, 'system'),
    builtinDir: join(root, 'builtin'),
  });
}

describe('validatePipelineName', () => {
  it.each(['fetch', 'autoconf/make', 'go/build/v2', 'test/tw/ldd-check', 'a.b'])('accepts %j', (name) => {
    expect(() => validatePipelineName(name)).not.toThrow();
  });

  it.each(['', '/etc/passwd', '../x', 'a/../../b', 'a/..', '..', 'a\\b', 'a\0b', 'x'.repeat(300)])(
    'rejects %j with a code',
    (name) => {
      try {
        validatePipelineName(name, 'pipeline[0].uses');
        expect.unreachable();
      } catch (error) {
        expect((error as MelangeError).code).toBe('MELANGE_BAD_PIPELINE_NAME');
        expect((error as MelangeError).message).toContain('pipeline[0].uses');
      }
    },
  );
});

describe('createPipelineLoader', () => {
  it('searches --pipeline-dir folders in order, then the system folder, then the built-ins', async () => {
    const load = loader();
    expect((await load('a')).name).toBe('first-a');
    expect((await load('b')).name).toBe('second-b');
    expect((await load('sub/c')).name).toBe('second-c');
    expect((await load('d')).name).toBe('system-d');
    expect((await load('e')).name).toBe('builtin-e');
  });

  it('skips a directory where a file is expected', async () => {
    await writeFile(join(root, 'second', 'dir.yaml'), definition('second-dir'));
    expect((await loader()('dir')).name).toBe('second-dir');
  });

  it('reports a missing pipeline with every place it looked', async () => {
    const err = await rejection(loader()('nope/x'));
    expect(err.code).toBe('MELANGE_PIPELINE_NOT_FOUND');
    for (const dir of ['first', 'second', 'system', 'builtin'])
      expect(err.message).toContain(join(root, dir, 'nope/x.yaml'));
    expect(err.hint).toContain('--pipeline-dir');
  });

  it('refuses names that would leave the pipeline folders', async () => {
    expect((await rejection(loader()('../first/a'))).code).toBe('MELANGE_BAD_PIPELINE_NAME');
    expect((await rejection(loader()(join(root, 'first', 'a')))).code).toBe('MELANGE_BAD_PIPELINE_NAME');
  });

  it('reads and parses each definition once per loader, through injectable hooks', async () => {
    const reads: string[] = [];
    const load = createPipelineLoader({
      pipelineDirs: ['/p'],
      systemDir: null,
      builtinDir: '/b',
      readText: async (path) => {
        reads.push(path);
        return path === '/b/x.yaml' ? 'x' : undefined;
      },
      parse: (text, file): PipelineDefinition => ({
        name: `${text}@${file}`,
        needs: { packages: [] },
        inputs: {},
        pipeline: [],
      }),
    });
    expect((await load('x')).name).toBe('x@/b/x.yaml');
    expect((await load('x')).name).toBe('x@/b/x.yaml');
    expect(reads).toEqual(['/p/x.yaml', '/b/x.yaml']);
  });

  it('does not cache failures', async () => {
    let calls = 0;
    const load = cachePipelineLoader(async (name) => {
      calls++;
      if (calls === 1) throw new MelangeError('MELANGE_PIPELINE_NOT_FOUND', name);
      return { needs: { packages: [] }, inputs: {}, pipeline: [] };
    });
    expect((await rejection(load('a'))).code).toBe('MELANGE_PIPELINE_NOT_FOUND');
    await expect(load('a')).resolves.toEqual({ needs: { packages: [] }, inputs: {}, pipeline: [] });
    expect(calls).toBe(2);
  });

  it('puts the system folder before the built-ins by default', () => {
    const path = pipelineSearchPath({ pipelineDirs: ['/x'] });
    expect(path).toEqual(['/x', SYSTEM_PIPELINE_DIR, builtinPipelineDir()]);
  });
});

describe("tk's built-in pipelines", () => {
  it('live in apps/melange/pipelines, next to src/', () => {
    expect(relative(join(import.meta.dirname, '..', '..'), builtinPipelineDir())).toBe('pipelines');
  });

  it('all parse as definitions', async () => {
    const dir = builtinPipelineDir();
    const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toEqual(
      expect.arrayContaining(['fetch.yaml', 'git-checkout.yaml', 'autoconf/make.yaml', 'split/dev.yaml']),
    );
    const load = createPipelineLoader({ systemDir: null });
    for (const file of files) {
      const def = await load(file.slice(0, -'.yaml'.length));
      expect(def.pipeline.length, file).toBeGreaterThan(0);
    }
  });
});

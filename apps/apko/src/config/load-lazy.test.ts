import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from './errors.ts';
import { loadImageConfig } from './load.ts';

// Counts imports of the zod check: a configuration that validates must not load it.
const state = vi.hoisted(() => ({ zodLoaded: false }));
vi.mock('./zod-check.ts', async (importOriginal) => {
  state.zodLoaded = true;
  return importOriginal();
});

const files = (map: Record<string, string>) => ({
  readFile: (path: string): Promise<Uint8Array> =>
    Object.hasOwn(map, path)
      ? Promise.resolve(new TextEncoder().encode(map[path]))
      : Promise.reject(Object.assign(new Error(`no ${path}`), { code: 'ENOENT' })),
});

const INVALID: Record<string, string> = {
  'unknown key': 'contents:\n  packages: [a]\nentrypiont:\n  command: x\n',
  'wrong type': 'contents:\n  packages: a\n',
  'uid out of range': 'accounts:\n  users:\n    - { username: u, uid: 4294967296 }\n',
  'NUL in a string': 'cmd: "a\\0b"\n',
  'unknown arch': 'archs: [pdp11]\n',
  'bad annotation key': 'annotations: { "Bad Key": x }\n',
  'missing required key': 'paths:\n  - { path: /x }\n',
  'semantic problem too': 'contents:\n  packages: ["a b"]\nwork-dir: [x]\n',
  'not a mapping': '- a\n- b\n',
};

async function loadError(text: string): Promise<ConfigError> {
  const error = await loadImageConfig('/c/apko.yaml', files({ '/c/apko.yaml': text })).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe('loading a configuration without zod', () => {
  it('never loads zod for configurations that validate, includes too', async () => {
    const { config } = await loadImageConfig(
      '/c/apko.yaml',
      files({
        '/c/apko.yaml': 'include: base.yaml\ncontents:\n  packages: [hello]\narchs: [x86_64]\n',
        '/c/base.yaml':
          'contents:\n  repositories: [./packages]\n  packages: [busybox]\naccounts:\n  users: [{ username: a, uid: 10 }]\n',
      }),
    );
    expect(config.contents.packages).toEqual(['busybox', 'hello']);
    expect(config.accounts.users[0]).toEqual({ username: 'a', uid: 10, homedir: '/home/a' });
    expect(state.zodLoaded).toBe(false);
  });

  it('loads zod for a configuration that does not validate, and reports what parseImageConfig reports', async () => {
    const first = await loadError(INVALID['unknown key']!);
    expect(state.zodLoaded).toBe(true);
    expect(first.message).toContain('entrypiont');
    const { parseImageConfig } = await import('./parse.ts');
    for (const [name, text] of Object.entries(INVALID)) {
      const loaded = await loadError(text);
      let parsed: unknown;
      try {
        parseImageConfig(text, { source: '/c/apko.yaml' });
      } catch (error) {
        parsed = error;
      }
      expect(parsed, name).toBeInstanceOf(ConfigError);
      expect([loaded.code, loaded.data?.issues], name).toEqual([
        (parsed as ConfigError).code,
        (parsed as ConfigError).data?.issues,
      ]);
    }
  });

  it('reports zod’s messages for a problem in an included file', async () => {
    const error = await loadImageConfig(
      '/c/apko.yaml',
      files({
        '/c/apko.yaml': 'include: base.yaml\ncontents:\n  packages: [hello]\n',
        '/c/base.yaml': 'accounts:\n  users: [{ username: a, uid: -1 }]\n',
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/must be between 0 and 4294967295/);
  });
});

import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDockerKeychain,
  credentialFilePaths,
  credentialHelperGet,
  decodeBasicAuth,
  dockerConfigPath,
  lookupCredential,
  parseAuthConfig,
  saveCredential,
  staticKeychain,
} from './credentials.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

let dir: string;
let binDir: string;
/** PATH with the fake helpers first, and /bin for the shell they run with. */
let env: Record<string, string>;

/**
 * Fake docker-credential helpers:
 * - `fake`: knows ghcr.io (user/pass), token.example (identity token), logs `store` input to $HELPER_LOG;
 * - `broken`: exits 3 with a message;
 * - `garbage`: prints non-JSON;
 * - `slow`: sleeps past the timeout.
 */
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tk-creds-'));
  binDir = join(dir, 'bin');
  await mkdir(binDir);
  const scripts: Record<string, string> = {
    fake: `#!/bin/sh
read -r server
if [ "$1" = store ]; then echo "$server" >> "$HELPER_LOG"; exit 0; fi
case "$server" in
  ghcr.io) echo '{"ServerURL":"ghcr.io","Username":"octo","Secret":"gh-pass"}' ;;
  token.example) echo '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh-1"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"hubuser","Secret":"hubpass"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
    broken: '#!/bin/sh\necho "keyring locked" >&2\nexit 3\n',
    garbage: '#!/bin/sh\necho "not json"\n',
    slow: '#!/bin/sh\nsleep 5\n',
    chatty: '#!/bin/sh\nhead -c 3000000 /dev/zero\n',
  };
  for (const [name, text] of Object.entries(scripts)) {
    const path = join(binDir, `docker-credential-${name}`);
    await writeFile(path, text);
    await chmod(path, 0o755);
  }
  env = { PATH: `${binDir}:/usr/bin:/bin`, HELPER_LOG: join(dir, 'helper.log') };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseAuthConfig', () => {
  it('decodes auth, username/password, identity and registry tokens, helpers', () => {
    const file = parseAuthConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('me:pa:ss') },
          'ghcr.io': { username: 'u', password: 'p' },
          'id.example': { identitytoken: 'idt' },
          'reg.example': { registrytoken: 'rt', email: 'x@y' },
          'empty.example': {},
        },
        credHelpers: { 'gcr.io': 'gcloud' },
        credsStore: 'desktop',
        experimental: 'enabled',
      }),
      'config.json',
    );
    expect(file.auths.get('https://index.docker.io/v1/')).toEqual({ username: 'me', password: 'pa:ss' });
    expect(file.auths.get('ghcr.io')).toEqual({ username: 'u', password: 'p' });
    expect(file.auths.get('id.example')).toEqual({ identityToken: 'idt' });
    expect(file.auths.get('reg.example')).toEqual({ registryToken: 'rt' });
    expect(file.credHelpers.get('gcr.io')).toBe('gcloud');
    expect(file.credsStore).toBe('desktop');
  });

  it('accepts empty and minimal files', () => {
    expect(parseAuthConfig('', 'x').auths.size).toBe(0);
    expect(parseAuthConfig('{"auths": null}', 'x').auths.size).toBe(0);
  });

  it.each([
    ['not json', '{'],
    ['an array', '[]'],
    ['auths not an object', '{"auths": []}'],
    ['an entry not an object', '{"auths": {"a": "b"}}'],
    ['a number password', '{"auths": {"a": {"password": 3}}}'],
    ['auth not base64', '{"auths": {"a": {"auth": "!!!"}}}'],
    ['auth without colon', `{"auths": {"a": {"auth": "${b64('nocolon')}"}}}`],
    ['a helper name with a path', '{"credHelpers": {"a": "../../bin/sh"}}'],
    ['a helper name with spaces', '{"credsStore": "a b"}'],
    ['credsStore not a string', '{"credsStore": 1}'],
  ])('rejects %s', (_what, text) => {
    expect(() => parseAuthConfig(text, '/x/config.json')).toThrow(
      expect.objectContaining({ code: 'REGISTRY_BAD_AUTH_CONFIG' }),
    );
  });

  it('is not confused by __proto__ keys', () => {
    const file = parseAuthConfig(`{"auths": {"__proto__": {"auth": "${b64('a:b')}"}}}`, 'x');
    expect(file.auths.get('__proto__')).toEqual({ username: 'a', password: 'b' });
    expect(({} as Record<string, unknown>).username).toBeUndefined();
  });

  it('decodeBasicAuth', () => {
    expect(decodeBasicAuth(b64('a:'))).toEqual({ username: 'a', password: '' });
    expect(decodeBasicAuth(`${b64('user:p')}\n`)).toEqual({ username: 'user', password: 'p' });
    expect(decodeBasicAuth('a')).toBeUndefined();
  });
});

describe('lookupCredential', () => {
  const file = parseAuthConfig(
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hub:1') },
        'http://127.0.0.1:5000': { auth: b64('local:2') },
        'quay.io': { auth: b64('quay:3') },
        'quay.io/org': { auth: b64('org:4') },
        'quay.io/org/special': { auth: b64('special:5') },
        'GHCR.IO/': { auth: b64('gh:6') },
      },
    }),
    'x',
  );
  it.each([
    ['index.docker.io', 'library/hello', 'hub'],
    ['docker.io', undefined, 'hub'],
    ['127.0.0.1:5000', 'x', 'local'],
    ['quay.io', 'other/app', 'quay'],
    ['quay.io', 'org/app', 'org'],
    ['quay.io', 'org/special', 'special'],
    ['ghcr.io', 'a/b', 'gh'],
  ])('%s %s → %s', async (registry, repository, user) => {
    expect((await lookupCredential(file, registry, repository))?.username).toBe(user);
  });

  it('finds nothing for other registries or ports', async () => {
    expect(await lookupCredential(file, '127.0.0.1:5001', 'x')).toBeUndefined();
    expect(await lookupCredential(file, 'example.com', 'x')).toBeUndefined();
  });
});

describe('credential files and keychains', () => {
  it('locates the Docker config and podman auth files from env and homedir only', () => {
    expect(dockerConfigPath({ env: { DOCKER_CONFIG: '/d' }, homedir: '/h' })).toBe('/d/config.json');
    expect(dockerConfigPath({ homedir: '/h' })).toBe('/h/.docker/config.json');
    expect(dockerConfigPath({})).toBeUndefined();
    expect(
      credentialFilePaths({
        env: { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/u' },
        homedir: '/h',
      }),
    ).toEqual([
      '/h/.docker/config.json',
      '/a.json',
      '/run/u/containers/auth.json',
      '/h/.config/containers/auth.json',
    ]);
    expect(credentialFilePaths({ env: { XDG_CONFIG_HOME: '/c' } })).toEqual(['/c/containers/auth.json']);
  });

  it('uses the first file with an entry: Docker config, then podman files', async () => {
    const base = join(dir, 'order');
    await mkdir(join(base, 'docker'), { recursive: true });
    await mkdir(join(base, 'run', 'containers'), { recursive: true });
    await writeFile(
      join(base, 'docker', 'config.json'),
      JSON.stringify({ auths: { 'a.example': { auth: b64('docker:1') } } }),
    );
    await writeFile(
      join(base, 'auth.json'),
      JSON.stringify({
        auths: { 'a.example': { auth: b64('podman:1') }, 'b.example': { auth: b64('podman:2') } },
      }),
    );
    await writeFile(
      join(base, 'run', 'containers', 'auth.json'),
      JSON.stringify({ auths: { 'c.example': { auth: b64('runtime:3') } } }),
    );
    const keychain = createDockerKeychain({
      env: {
        DOCKER_CONFIG: join(base, 'docker'),
        REGISTRY_AUTH_FILE: join(base, 'auth.json'),
        XDG_RUNTIME_DIR: join(base, 'run'),
      },
    });
    expect(await keychain.resolve('a.example')).toEqual({ username: 'docker', password: '1' });
    expect(await keychain.resolve('b.example')).toEqual({ username: 'podman', password: '2' });
    expect(await keychain.resolve('c.example')).toEqual({ username: 'runtime', password: '3' });
    expect(await keychain.resolve('d.example')).toBeUndefined();
    // A missing file is no error; an explicit configPath is the only file read.
    expect(
      await createDockerKeychain({ homedir: join(base, 'nobody') }).resolve('a.example'),
    ).toBeUndefined();
    expect(await createDockerKeychain({ configPath: join(base, 'auth.json') }).resolve('a.example')).toEqual({
      username: 'podman',
      password: '1',
    });
  });

  it('reports malformed and oversized files', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"auths": ');
    await expect(createDockerKeychain({ configPath: bad }).resolve('x')).rejects.toMatchObject({
      code: 'REGISTRY_BAD_AUTH_CONFIG',
    });
    const big = join(dir, 'big.json');
    await writeFile(big, Buffer.alloc(5 * 1024 * 1024, 0x20));
    await expect(createDockerKeychain({ configPath: big }).resolve('x')).rejects.toMatchObject({
      code: 'REGISTRY_BAD_AUTH_CONFIG',
    });
    await expect(createDockerKeychain({ configPath: dir }).resolve('x')).rejects.toMatchObject({
      code: 'REGISTRY_BAD_AUTH_CONFIG',
    });
  });

  it('staticKeychain normalises Docker Hub names', async () => {
    const keychain = staticKeychain({
      'docker.io': { username: 'a', password: 'b' },
      '127.0.0.1:5000': { registryToken: 't' },
    });
    expect(await keychain.resolve('index.docker.io')).toEqual({ username: 'a', password: 'b' });
    expect(await keychain.resolve('127.0.0.1:5000')).toEqual({ registryToken: 't' });
    expect(await keychain.resolve('127.0.0.1:5001')).toBeUndefined();
  });
});

describe('credential helpers', () => {
  it('asks credHelpers for their hosts and credsStore for the rest, only when configured', async () => {
    const path = join(dir, 'helpers.json');
    await writeFile(
      path,
      JSON.stringify({
        auths: { 'plain.example': { auth: b64('file:pw') }, 'ghcr.io': { auth: b64('stale:pw') } },
        credHelpers: { 'ghcr.io': 'fake', 'token.example': 'fake' },
      }),
    );
    const keychain = createDockerKeychain({ configPath: path, env });
    expect(await keychain.resolve('ghcr.io')).toEqual({ username: 'octo', password: 'gh-pass' });
    expect(await keychain.resolve('token.example')).toEqual({ identityToken: 'refresh-1' });
    expect(await keychain.resolve('plain.example')).toEqual({ username: 'file', password: 'pw' });

    const store = join(dir, 'store.json');
    await writeFile(
      store,
      JSON.stringify({ credsStore: 'fake', auths: { 'other.example': { auth: b64('f:p') } } }),
    );
    const viaStore = createDockerKeychain({ configPath: store, env });
    expect(await viaStore.resolve('docker.io')).toEqual({ username: 'hubuser', password: 'hubpass' });
    // "credentials not found" falls back to the file's entry, then to anonymous.
    expect(await viaStore.resolve('other.example')).toEqual({ username: 'f', password: 'p' });
    expect(await viaStore.resolve('none.example')).toBeUndefined();
  });

  it.each([
    ['missing', /not found on PATH/],
    ['broken', /exited with status 3: keyring locked/],
    ['garbage', /not JSON/],
    ['chatty', /more than 1048576 bytes/],
  ])('reports a %s helper clearly', async (name, message) => {
    await expect(credentialHelperGet(name, 'ghcr.io', { env })).rejects.toMatchObject({
      code: 'REGISTRY_CREDENTIAL_HELPER',
      message: expect.stringMatching(message) as unknown,
      hint: expect.stringMatching(new RegExp(`docker-credential-${name}`)) as unknown,
    });
  });

  it('kills a helper that hangs', async () => {
    await expect(credentialHelperGet('slow', 'ghcr.io', { env, helperTimeoutMs: 200 })).rejects.toMatchObject(
      {
        code: 'REGISTRY_CREDENTIAL_HELPER',
      },
    );
  });

  it('refuses helper names that are paths', async () => {
    await expect(credentialHelperGet('../../bin/sh', 'x', { env })).rejects.toMatchObject({
      code: 'REGISTRY_CREDENTIAL_HELPER',
    });
  });
});

describe('saveCredential', () => {
  it('creates the file with mode 0600 and its folder 0700', async () => {
    const path = join(dir, 'save1', '.docker', 'config.json');
    const result = await saveCredential(path, '127.0.0.1:5000', { username: 'u', password: 'p:w' });
    expect(result).toEqual({ stored: 'file', key: '127.0.0.1:5000', path });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'save1', '.docker'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({
      auths: { '127.0.0.1:5000': { auth: b64('u:p:w') } },
    });
  });

  it('keeps other content, replaces other spellings of the registry, uses the Docker Hub key', async () => {
    const path = join(dir, 'save2.json');
    await writeFile(
      path,
      JSON.stringify({
        auths: { 'http://127.0.0.1:5000/': { auth: b64('old:old') }, 'keep.example': { auth: b64('k:k') } },
        experimental: 'enabled',
        proxies: { default: { httpProxy: 'x' } },
      }),
    );
    await saveCredential(path, '127.0.0.1:5000', { username: 'new', password: 'n' });
    await saveCredential(path, 'index.docker.io', { username: 'hub', password: 'h' });
    const written = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    expect(written).toEqual({
      auths: {
        'keep.example': { auth: b64('k:k') },
        '127.0.0.1:5000': { auth: b64('new:n') },
        'https://index.docker.io/v1/': { auth: b64('hub:h') },
      },
      experimental: 'enabled',
      proxies: { default: { httpProxy: 'x' } },
    });
    expect(await createDockerKeychain({ configPath: path }).resolve('127.0.0.1:5000')).toEqual({
      username: 'new',
      password: 'n',
    });
  });

  it('writes through a symlinked config to its target', async () => {
    const target = join(dir, 'real-config.json');
    await writeFile(target, '{}');
    const link = join(dir, 'link-config.json');
    await symlink(target, link);
    await saveCredential(link, 'ghcr.io', { username: 'a', password: 'b' });
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(JSON.parse(await readFile(target, 'utf8'))).toEqual({
      auths: { 'ghcr.io': { auth: b64('a:b') } },
    });
  });

  it('hands credentials to the configured helper instead of the file', async () => {
    const path = join(dir, 'save-helper.json');
    const original = JSON.stringify({ credHelpers: { 'ghcr.io': 'fake' } });
    await writeFile(path, original);
    const result = await saveCredential(path, 'ghcr.io', { username: 'octo', password: 'new' }, { env });
    expect(result).toMatchObject({ stored: 'helper', helper: 'fake', key: 'ghcr.io' });
    expect(await readFile(path, 'utf8')).toBe(original);
    expect(JSON.parse((await readFile(env.HELPER_LOG!, 'utf8')).trim())).toEqual({
      ServerURL: 'ghcr.io',
      Username: 'octo',
      Secret: 'new',
    });
  });

  it('refuses to rewrite a malformed config', async () => {
    const path = join(dir, 'save-bad.json');
    await writeFile(path, '{"auths": [');
    await expect(saveCredential(path, 'ghcr.io', { username: 'a', password: 'b' })).rejects.toMatchObject({
      code: 'REGISTRY_BAD_AUTH_CONFIG',
    });
    expect(await readFile(path, 'utf8')).toBe('{"auths": [');
  });
});

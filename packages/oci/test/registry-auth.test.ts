/**
 * Basic authentication against a real docker-registry with an htpasswd (bcrypt) file, credentials from a
 * Docker config.json in a temporary folder, and `login`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecordingLogger } from '@tk/core';
import {
  createDockerKeychain,
  getManifest,
  login,
  pushImageIndex,
  staticKeychain,
} from '../src/registry/index.ts';
import { buildTestImage } from './support-registry/image.ts';
import { startRegistry, type RunningRegistry } from './support-registry/registry-server.ts';

const run = promisify(execFile);
const USER = 'tkuser';
const PASS = 'correct horse battery';

function configWith(host: string, user: string, password: string): string {
  return JSON.stringify({
    auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } },
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

describe('push with htpasswd credentials', () => {
  let registry: RunningRegistry;
  let dir: string;

  beforeAll(async () => {
    registry = await startRegistry({ user: { name: USER, password: PASS } });
    dir = await mkdtemp(join(tmpdir(), 'tk-auth-'));
  });
  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pushes with credentials from $DOCKER_CONFIG/config.json', async () => {
    const dockerDir = join(dir, 'docker-ok');
    await mkdir(dockerDir, { recursive: true });
    await writeFile(join(dockerDir, 'config.json'), configWith(registry.host, USER, PASS));
    const keychain = createDockerKeychain({
      env: { DOCKER_CONFIG: dockerDir },
      homedir: join(dir, 'nohome'),
    });
    const image = buildTestImage('auth-ok');
    const result = await pushImageIndex(`${registry.host}/tk/private:1`, image, { keychain });
    expect(result.digest).toBe(image.index.digest);
    const { stdout } = await run('skopeo', [
      'inspect',
      '--tls-verify=false',
      '--creds',
      `${USER}:${PASS}`,
      '--raw',
      `docker://${registry.host}/tk/private:1`,
    ]);
    expect(stdout).toBe(Buffer.from(image.index.bytes).toString('utf8'));
  });

  it('fails with REGISTRY_UNAUTHORIZED on a wrong password and pushes nothing', async () => {
    const dockerDir = join(dir, 'docker-bad');
    await mkdir(dockerDir, { recursive: true });
    await writeFile(join(dockerDir, 'config.json'), configWith(registry.host, USER, 'wrong'));
    const keychain = createDockerKeychain({ env: { DOCKER_CONFIG: dockerDir } });
    const image = buildTestImage('auth-bad');
    const logger = createRecordingLogger();
    const error = await pushImageIndex(`${registry.host}/tk/denied:1`, image, { keychain, logger }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'REGISTRY_UNAUTHORIZED' });
    expect((error as { hint: string }).hint).toMatch(/tk apko login/);
    expect((error as { data: { status: number } }).data.status).toBe(401);
    expect(logger.messages.filter((m) => m.message.startsWith('pushed'))).toEqual([]);
    expect(logger.events.some((e) => e.done === true)).toBe(false);
    // Nothing reached the registry's storage for that repository.
    expect(await exists(join(registry.storage, 'docker/registry/v2/repositories/tk/denied'))).toBe(false);
    for (const img of image.images) {
      for (const b of [img.config, ...img.layers, img.manifest]) {
        const hex = b.digest.slice('sha256:'.length);
        expect(
          await exists(join(registry.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex)),
        ).toBe(false);
      }
    }
    await expect(
      getManifest(`${registry.host}/tk/denied:1`, {
        keychain: staticKeychain({ [registry.host]: { username: USER, password: PASS } }),
      }),
    ).rejects.toMatchObject({ code: 'REGISTRY_NOT_FOUND' });
  });

  it('fails with REGISTRY_UNAUTHORIZED when no credentials are found', async () => {
    const keychain = createDockerKeychain({ env: {}, homedir: join(dir, 'empty-home') });
    await expect(
      pushImageIndex(`${registry.host}/tk/anon:1`, buildTestImage('auth-anon'), { keychain }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_UNAUTHORIZED',
    });
  });

  it('login checks the credentials, writes config.json (0600), and push then works', async () => {
    const home = join(dir, 'home');
    const configPath = join(home, '.docker', 'config.json');
    await expect(login(registry.host, USER, 'wrong', { homedir: home })).rejects.toMatchObject({
      code: 'REGISTRY_UNAUTHORIZED',
    });
    expect(await exists(configPath)).toBe(false);

    const result = await login(registry.host, USER, PASS, { homedir: home });
    expect(result).toMatchObject({ registry: registry.host, key: registry.host, configPath, stored: 'file' });
    expect((await stat(configPath)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, '.docker'))).mode & 0o777).toBe(0o700);
    const written = JSON.parse(await readFile(configPath, 'utf8')) as {
      auths: Record<string, { auth: string }>;
    };
    expect(Buffer.from(written.auths[registry.host]!.auth, 'base64').toString()).toBe(`${USER}:${PASS}`);

    const keychain = createDockerKeychain({ homedir: home });
    const image = buildTestImage('auth-login');
    const pushed = await pushImageIndex(`${registry.host}/tk/after-login:1`, image, { keychain });
    expect(pushed.digest).toBe(image.index.digest);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '@tk/tk';
import {
  startRegistry,
  type RunningRegistry,
} from '../../../packages/oci/test/support-registry/registry-server.ts';
import { startProxy } from '../../../packages/oci/test/support-registry/proxy.ts';
import { GOLDEN_ANNOTATIONS, tarballFiles, buildTestrepo, testrepoWorkdir } from './apko-support.ts';

async function tkEnv(cwd: string, env: Record<string, string>, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    cwd,
    env,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => 'secret\n',
  });
  return { code, stdout, stderr };
}

const skopeoRaw = (ref: string, ...extra: string[]): Buffer =>
  execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', ...extra, `docker://${ref}`]);
const sha256 = (bytes: Buffer): string =>
  `sha256:${execFileSync('sha256sum', { input: bytes }).toString().split(' ')[0]}`;

describe('tk apko publish to a CNCF distribution registry on 127.0.0.1', () => {
  let open: RunningRegistry;
  let locked: RunningRegistry;
  beforeAll(async () => {
    open = await startRegistry();
    locked = await startRegistry({ user: { name: 'alice', password: 'secret' } });
  });
  afterAll(async () => {
    await open?.stop();
    await locked?.stop();
  });

  it('pushes the same index the tarball holds, to every tag; skopeo sees the same digests', async () => {
    const dir = testrepoWorkdir();
    const env = { HOME: dir };
    const r = await tkEnv(
      dir,
      env,
      'apko',
      'publish',
      'apko.yaml',
      `${open.host}/golden:latest`,
      `${open.host}/golden:v1`,
      ...GOLDEN_ANNOTATIONS,
      '--cache-dir',
      join(dir, 'cache'),
      '--image-refs',
      'refs.txt',
    );
    expect(r.code, r.stderr).toBe(0);
    const digest = r.stdout.trim().split('@')[1];
    await buildTestrepo(dir);
    const index = tarballFiles(join(dir, 'out.tar')).get('index.json')!;
    expect(sha256(Buffer.from(index))).toBe(digest);
    expect(sha256(skopeoRaw(`${open.host}/golden:latest`))).toBe(digest);
    expect(sha256(skopeoRaw(`${open.host}/golden:v1`))).toBe(digest);
    const arm = JSON.parse(
      execFileSync(
        'skopeo',
        ['inspect', '--tls-verify=false', '--override-arch', 'arm64', `docker://${open.host}/golden:latest`],
        { encoding: 'utf8' },
      ),
    ) as { Architecture: string; Digest: string };
    expect(arm.Architecture).toBe('arm64');
    const refs = readFileSync(join(dir, 'refs.txt'), 'utf8').trim().split('\n');
    expect(refs).toHaveLength(3);
    expect(refs).toContain(`${open.host}/golden@${arm.Digest}`);
  });

  it('uses htpasswd credentials from a docker config, and reports a wrong password clearly', async () => {
    const dir = testrepoWorkdir();
    mkdirSync(join(dir, 'docker'));
    const auth = (password: string) =>
      JSON.stringify({
        auths: { [locked.host]: { auth: Buffer.from(`alice:${password}`).toString('base64') } },
      });
    writeFileSync(join(dir, 'docker/config.json'), auth('wrong'));
    const env = { HOME: dir, DOCKER_CONFIG: join(dir, 'docker') };
    const bad = await tkEnv(
      dir,
      env,
      'apko',
      'publish',
      'apko.yaml',
      `${locked.host}/golden:latest`,
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error \[REGISTRY_UNAUTHORIZED\]/);
    expect(bad.stdout).toBe('');
    writeFileSync(join(dir, 'docker/config.json'), auth('secret'));
    const good = await tkEnv(
      dir,
      env,
      'apko',
      'publish',
      'apko.yaml',
      `${locked.host}/golden:latest`,
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(good.code, good.stderr).toBe(0);
  });

  it('tk apko login stores working credentials (--password-stdin)', async () => {
    const dir = testrepoWorkdir();
    const env = { HOME: dir };
    const r = await tkEnv(dir, env, 'apko', 'login', locked.host, '-u', 'alice', '--password-stdin');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, '.docker/config.json'), 'utf8'))).toMatchObject({
      auths: { [locked.host]: { auth: Buffer.from('alice:secret').toString('base64') } },
    });
    const push = await tkEnv(
      dir,
      env,
      'apko',
      'publish',
      'apko.yaml',
      `${locked.host}/after-login:1`,
      '--cache-dir',
      join(dir, 'cache'),
    );
    expect(push.code, push.stderr).toBe(0);
  });

  it('survives a proxy that drops connections and answers 500 at times; same digest as a direct push', async () => {
    const proxy = await startProxy({ host: '127.0.0.1', port: open.port }, (req) =>
      req.n % 4 === 0 ? 'error500' : req.n % 7 === 0 ? 'drop' : 'pass',
    );
    try {
      const dir = testrepoWorkdir();
      const r = await tkEnv(
        dir,
        { HOME: dir },
        'apko',
        'publish',
        'apko.yaml',
        `127.0.0.1:${proxy.port}/faulty:latest`,
        ...GOLDEN_ANNOTATIONS,
        '--cache-dir',
        join(dir, 'cache'),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.log.some((e) => e.fault !== 'pass')).toBe(true);
      expect(sha256(skopeoRaw(`${open.host}/faulty:latest`))).toBe(r.stdout.trim().split('@')[1]);
      expect(sha256(skopeoRaw(`${open.host}/golden:latest`))).toBe(r.stdout.trim().split('@')[1]);
    } finally {
      await proxy.stop();
    }
  });
});

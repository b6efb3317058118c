/**
 * Registry credentials as Docker, podman, crane and apko keep them.
 *
 * Files (all the same JSON shape, https://github.com/docker/cli/blob/master/cli/config/configfile/file.go,
 * containers-auth.json(5)):
 *
 *     { "auths": { "<key>": { "auth": base64("user:pass"), "username"?, "password"?, "identitytoken"?,
 *                             "registrytoken"? } },
 *       "credHelpers": { "<host>": "<name>" }, "credsStore": "<name>" }
 *
 * Keys are a host (`ghcr.io`, `127.0.0.1:5000`), a URL (`https://index.docker.io/v1/` for Docker Hub,
 * `http://host:5000`) or, in podman's files, `host/namespace[/repo]` (the most specific match wins).
 *
 * Searched in order (the first file with an entry for the registry wins): `$DOCKER_CONFIG/config.json`
 * (or `~/.docker/config.json` when `DOCKER_CONFIG` is unset), `$REGISTRY_AUTH_FILE`,
 * `$XDG_RUNTIME_DIR/containers/auth.json`, `$XDG_CONFIG_HOME/containers/auth.json` (or
 * `~/.config/containers/auth.json`). In a file, `credHelpers[host]` then `credsStore` name a
 * `docker-credential-<name>` program that is asked first (`get`, the server URL on stdin, JSON
 * `{ServerURL, Username, Secret}` on stdout; `Username: "<token>"` means `Secret` is an identity token).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '@tk/core';
import { RegistryError } from './errors.ts';
import { DOCKER_HUB_AUTH_KEY, DOCKER_HUB_REGISTRY } from './reference.ts';

/** Credentials for one registry. */
export interface RegistryCredential {
  /** User name for Basic auth and token requests. */
  readonly username?: string;
  /** Password or personal access token. */
  readonly password?: string;
  /** An OAuth2 refresh token (`identitytoken`), exchanged at the token service. */
  readonly identityToken?: string;
  /** A bearer token sent to the registry as is (`registrytoken`). */
  readonly registryToken?: string;
}

/** Finds credentials for a registry (and optionally a repository in it). */
export interface Keychain {
  /**
   * @param registry - registry host with optional port (`ghcr.io`, `127.0.0.1:5000`, `index.docker.io`)
   * @param repository - repository path, for files keyed by `host/namespace`
   * @returns the credentials, or undefined for anonymous access
   */
  resolve(registry: string, repository?: string): Promise<RegistryCredential | undefined>;
}

/** Where credential files are looked for: the caller passes the environment, never read implicitly. */
export interface CredentialLocationOptions {
  /** Environment variables: DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, XDG_CONFIG_HOME, PATH (for helpers). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The user's home directory (for `~/.docker` and `~/.config`). */
  readonly homedir?: string;
}

/** One `auths` entry, decoded. */
export interface AuthEntry {
  readonly username?: string;
  readonly password?: string;
  readonly identityToken?: string;
  readonly registryToken?: string;
}

/** A parsed credentials file. */
export interface AuthConfigFile {
  /** The file it came from. */
  readonly path: string;
  /** `auths`, by key as written. */
  readonly auths: ReadonlyMap<string, AuthEntry>;
  /** `credHelpers`: key as written → helper name. */
  readonly credHelpers: ReadonlyMap<string, string>;
  /** `credsStore`: the default helper name. */
  readonly credsStore: string | undefined;
}

/** Largest credentials file read. */
const MAX_AUTH_FILE_BYTES = 4 * 1024 * 1024;
/** Largest helper output read. */
const MAX_HELPER_OUTPUT = 1024 * 1024;
const HELPER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const DEFAULT_HELPER_TIMEOUT_MS = 30_000;
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The Docker config file `tk apko login` writes: `$DOCKER_CONFIG/config.json`, else
 * `<homedir>/.docker/config.json`.
 *
 * @param options - env and homedir
 * @returns the path, or undefined when neither DOCKER_CONFIG nor homedir is known
 */
export function dockerConfigPath(options: CredentialLocationOptions): string | undefined {
  const dir = options.env?.DOCKER_CONFIG;
  if (dir !== undefined && dir !== '') return join(dir, 'config.json');
  if (options.homedir !== undefined && options.homedir !== '')
    return join(options.homedir, '.docker', 'config.json');
  return undefined;
}

/**
 * Every credentials file searched, in order (see the module comment).
 *
 * @param options - env and homedir
 * @returns paths (some may not exist)
 */
export function credentialFilePaths(options: CredentialLocationOptions): string[] {
  const env = options.env ?? {};
  const paths: string[] = [];
  const docker = dockerConfigPath(options);
  if (docker !== undefined) paths.push(docker);
  if (env.REGISTRY_AUTH_FILE) paths.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  if (env.XDG_CONFIG_HOME) paths.push(join(env.XDG_CONFIG_HOME, 'containers', 'auth.json'));
  else if (options.homedir) paths.push(join(options.homedir, '.config', 'containers', 'auth.json'));
  return [...new Set(paths)];
}

/**
 * Parse a Docker `config.json` or podman `auth.json`.
 *
 * @param text - the file content
 * @param path - the file name, for messages
 * @returns the credential parts of the file (other keys are ignored)
 * @throws {RegistryError} REGISTRY_BAD_AUTH_CONFIG when it is not JSON or a field has the wrong type
 */
export function parseAuthConfig(text: string, path: string): AuthConfigFile {
  const bad = (why: string): RegistryError =>
    new RegistryError('REGISTRY_BAD_AUTH_CONFIG', `credentials file ${path}: ${why}`, {
      hint: `fix or remove ${path}, or log in again with tk apko login`,
      data: { path },
    });
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch (error) {
    throw bad(`not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(value)) throw bad('the top level is not a JSON object');
  const auths = new Map<string, AuthEntry>();
  const rawAuths = value.auths;
  if (rawAuths !== undefined && rawAuths !== null) {
    if (!isObject(rawAuths)) throw bad('"auths" is not an object');
    for (const [key, raw] of Object.entries(rawAuths)) {
      if (!isObject(raw)) throw bad(`auths[${JSON.stringify(key)}] is not an object`);
      const field = (name: string): string | undefined => {
        const v = raw[name];
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'string') throw bad(`auths[${JSON.stringify(key)}].${name} is not a string`);
        return v === '' ? undefined : v;
      };
      let username = field('username');
      let password = field('password');
      const auth = field('auth');
      if (auth !== undefined) {
        const decoded = decodeBasicAuth(auth);
        if (decoded === undefined) {
          throw bad(`auths[${JSON.stringify(key)}].auth is not base64 of "user:password"`);
        }
        ({ username, password } = decoded);
      }
      const identityToken = field('identitytoken');
      const registryToken = field('registrytoken');
      auths.set(key, {
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(identityToken !== undefined ? { identityToken } : {}),
        ...(registryToken !== undefined ? { registryToken } : {}),
      });
    }
  }
  const credHelpers = new Map<string, string>();
  const rawHelpers = value.credHelpers;
  if (rawHelpers !== undefined && rawHelpers !== null) {
    if (!isObject(rawHelpers)) throw bad('"credHelpers" is not an object');
    for (const [key, name] of Object.entries(rawHelpers)) {
      if (typeof name !== 'string' || !HELPER_NAME_RE.test(name)) {
        throw bad(
          `credHelpers[${JSON.stringify(key)}] is not a helper name (letters, digits, '.', '_', '-')`,
        );
      }
      credHelpers.set(key, name);
    }
  }
  let credsStore: string | undefined;
  const rawStore = value.credsStore;
  if (rawStore !== undefined && rawStore !== null && rawStore !== '') {
    if (typeof rawStore !== 'string' || !HELPER_NAME_RE.test(rawStore)) {
      throw bad("\"credsStore\" is not a helper name (letters, digits, '.', '_', '-')");
    }
    credsStore = rawStore;
  }
  return { path, auths, credHelpers, credsStore };
}

/**
 * Read and parse a credentials file.
 *
 * @param path - the file
 * @returns the parsed file, or undefined when it does not exist
 * @throws {RegistryError} REGISTRY_BAD_AUTH_CONFIG when it cannot be read, is too large or malformed
 */
export async function readAuthConfig(path: string): Promise<AuthConfigFile | undefined> {
  const text = await readLimitedText(path);
  return text === undefined ? undefined : parseAuthConfig(text, path);
}

async function readLimitedText(path: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new RegistryError(
      'REGISTRY_BAD_AUTH_CONFIG',
      `cannot read credentials file ${path}: ${code ?? String(error)}`,
      {
        hint: `check the permissions of ${path}`,
        cause: error,
        data: { path },
      },
    );
  }
  if (bytes.byteLength > MAX_AUTH_FILE_BYTES) {
    throw new RegistryError(
      'REGISTRY_BAD_AUTH_CONFIG',
      `credentials file ${path} is ${bytes.byteLength} bytes, more than the ${MAX_AUTH_FILE_BYTES} accepted`,
      { hint: `check ${path}`, data: { path } },
    );
  }
  return bytes.toString('utf8');
}

/**
 * The normal form of an `auths`/`credHelpers` key: no scheme, no trailing `/`, no `/v1` or `/v2`
 * suffix, host lowercased, Docker Hub aliases as `index.docker.io`.
 */
function normaliseKey(key: string): string {
  let k = key.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
  k = k.replace(/\/v[12]$/, '');
  const slash = k.indexOf('/');
  let host = (slash >= 0 ? k.slice(0, slash) : k).toLowerCase();
  const path = slash >= 0 ? k.slice(slash) : '';
  if (DOCKER_HUB_ALIASES.has(host)) host = DOCKER_HUB_REGISTRY;
  return host + path;
}

/** Names to look up, most specific first: `host/a/b`, `host/a`, `host`. */
function lookupNames(registry: string, repository: string | undefined): string[] {
  const host = normaliseKey(registry);
  const names: string[] = [];
  if (repository !== undefined && repository !== '') {
    const parts = repository.split('/');
    for (let n = parts.length; n >= 1; n--) names.push(`${host}/${parts.slice(0, n).join('/')}`);
  }
  names.push(host);
  return names;
}

function findByKey<T>(map: ReadonlyMap<string, T>, names: readonly string[]): T | undefined {
  if (map.size === 0) return undefined;
  const normalised = [...map.entries()].map(([key, value]) => ({ key: normaliseKey(key), value }));
  for (const name of names) {
    const exact = map.get(name);
    if (exact !== undefined) return exact;
    const match = normalised.find((entry) => entry.key === name);
    if (match !== undefined) return match.value;
  }
  return undefined;
}

/** The server URL a credential helper and `auths` know a registry by. */
export function credentialKey(registry: string): string {
  return normaliseKey(registry) === DOCKER_HUB_REGISTRY ? DOCKER_HUB_AUTH_KEY : registry;
}

/**
 * Look a registry up in one parsed file: its credential helper when one is configured (credHelpers,
 * then credsStore), else its `auths` entry.
 *
 * @param file - a parsed credentials file
 * @param registry - registry host with optional port
 * @param repository - repository path (podman keys may name namespaces)
 * @param options - env (PATH for the helper) and helper timeout
 * @returns the credentials, or undefined when the file has none for this registry
 * @throws {RegistryError} REGISTRY_CREDENTIAL_HELPER when a configured helper fails
 */
export async function lookupCredential(
  file: AuthConfigFile,
  registry: string,
  repository: string | undefined,
  options: CredentialLocationOptions & { helperTimeoutMs?: number } = {},
): Promise<RegistryCredential | undefined> {
  const helper = findByKey(file.credHelpers, [normaliseKey(registry)]) ?? file.credsStore;
  if (helper !== undefined) {
    const fromHelper = await credentialHelperGet(helper, credentialKey(registry), options);
    if (fromHelper !== undefined) return fromHelper;
  }
  const entry = findByKey(file.auths, lookupNames(registry, repository));
  if (entry === undefined) return undefined;
  if (
    entry.username === undefined &&
    entry.password === undefined &&
    entry.identityToken === undefined &&
    entry.registryToken === undefined
  ) {
    return undefined;
  }
  return entry;
}

/**
 * A keychain over Docker's and podman's credential files (see the module comment for the order).
 * Files are read once, on first use.
 *
 * @param options - env and homedir to find the files, or `configPath` to use exactly one file;
 *   `helperTimeoutMs` bounds each credential-helper run (default 30 s)
 * @returns the keychain
 * @example
 * const keychain = createDockerKeychain({ env: process.env, homedir: os.homedir() });
 */
export function createDockerKeychain(
  options: CredentialLocationOptions & { configPath?: string; helperTimeoutMs?: number } = {},
): Keychain {
  let files: Promise<AuthConfigFile[]> | undefined;
  const load = async (): Promise<AuthConfigFile[]> => {
    const paths = options.configPath !== undefined ? [options.configPath] : credentialFilePaths(options);
    const out: AuthConfigFile[] = [];
    for (const path of paths) {
      const file = await readAuthConfig(path);
      if (file !== undefined) out.push(file);
    }
    return out;
  };
  return {
    async resolve(registry, repository) {
      files ??= load();
      for (const file of await files) {
        const found = await lookupCredential(file, registry, repository, options);
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}

/**
 * A keychain with fixed credentials per registry (for `--username/--password` style flags and tests).
 *
 * @param entries - registry host (as in references) → credentials
 * @returns the keychain
 */
export function staticKeychain(entries: Readonly<Record<string, RegistryCredential>>): Keychain {
  const map = new Map(Object.entries(entries).map(([key, value]) => [normaliseKey(key), value] as const));
  return { resolve: async (registry) => map.get(normaliseKey(registry)) };
}

/** Decode `base64("user:password")`; undefined when it is not that. */
export function decodeBasicAuth(auth: string): { username: string; password: string } | undefined {
  const compact = auth.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return undefined;
  const text = Buffer.from(compact, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The output of a credential helper run. */
interface HelperRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function helperError(name: string, why: string, cause?: unknown): RegistryError {
  return new RegistryError(
    'REGISTRY_CREDENTIAL_HELPER',
    `credential helper docker-credential-${name} ${why}`,
    {
      hint: `install docker-credential-${name} on PATH, or remove it from credHelpers/credsStore in your Docker config`,
      ...(cause !== undefined ? { cause } : {}),
      data: { helper: name },
    },
  );
}

async function runHelper(
  name: string,
  action: 'get' | 'store',
  input: string,
  options: CredentialLocationOptions & { helperTimeoutMs?: number },
): Promise<HelperRun> {
  if (!HELPER_NAME_RE.test(name)) throw helperError(name, 'has an invalid name');
  const program = `docker-credential-${name}`;
  return new Promise<HelperRun>((resolve, reject) => {
    let child;
    try {
      child = spawn(program, [action], {
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(options.env !== undefined ? { env: options.env as NodeJS.ProcessEnv } : {}),
      });
    } catch (error) {
      reject(helperError(name, `could not be started: ${(error as Error).message}`, error));
      return;
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    let failed = false;
    const timeoutMs = options.helperTimeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
    // Our own timer: a helper's children may hold its output open after it is killed.
    const timer = setTimeout(() => {
      if (failed) return;
      failed = true;
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      reject(helperError(name, `did not finish within ${timeoutMs} ms and was killed`));
    }, timeoutMs);
    timer.unref();
    const collect = (sink: Buffer[]) => (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_HELPER_OUTPUT) {
        if (!failed) {
          failed = true;
          clearTimeout(timer);
          child.kill('SIGKILL');
          reject(helperError(name, `printed more than ${MAX_HELPER_OUTPUT} bytes`));
        }
        return;
      }
      sink.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    child.stdin.on('error', () => {
      // The helper may exit without reading stdin; its exit status tells what happened.
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (failed) return;
      failed = true;
      reject(
        helperError(
          name,
          error.code === 'ENOENT'
            ? `was not found on PATH (it is configured in the Docker config)`
            : `failed: ${error.message}`,
          error,
        ),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failed) return;
      if (signal !== null) {
        failed = true;
        reject(helperError(name, `was killed by ${signal}`));
        return;
      }
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.end(input);
  });
}

function excerpt(text: string): string {
  const t = text.trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}

/**
 * Ask `docker-credential-<name> get` for a server's credentials.
 *
 * @param name - helper name (`pass`, `secretservice`, `ecr-login`, …)
 * @param serverUrl - the server as the helper knows it (`https://index.docker.io/v1/` for Docker Hub)
 * @param options - env (PATH) and timeout
 * @returns the credentials, or undefined when the helper has none ("credentials not found")
 * @throws {RegistryError} REGISTRY_CREDENTIAL_HELPER when the helper is missing, fails or prints something unusable
 */
export async function credentialHelperGet(
  name: string,
  serverUrl: string,
  options: CredentialLocationOptions & { helperTimeoutMs?: number } = {},
): Promise<RegistryCredential | undefined> {
  const run = await runHelper(name, 'get', serverUrl, options);
  if (run.code !== 0) {
    if (/credentials not found/i.test(run.stdout) || /credentials not found/i.test(run.stderr))
      return undefined;
    throw helperError(
      name,
      `get ${serverUrl} exited with status ${run.code}: ${excerpt(run.stdout + run.stderr)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    throw helperError(name, `get ${serverUrl} printed something that is not JSON`);
  }
  if (
    !isObject(parsed) ||
    typeof parsed.Secret !== 'string' ||
    (parsed.Username !== undefined && typeof parsed.Username !== 'string')
  ) {
    throw helperError(name, `get ${serverUrl} printed JSON without string "Username" and "Secret" fields`);
  }
  const username = typeof parsed.Username === 'string' ? parsed.Username : '';
  if (parsed.Secret === '') return undefined;
  if (username === '<token>') return { identityToken: parsed.Secret };
  return { username, password: parsed.Secret };
}

/**
 * Store credentials with `docker-credential-<name> store`.
 *
 * @param name - helper name
 * @param serverUrl - the server as the helper knows it
 * @param credential - user name and password
 * @param options - env (PATH) and timeout
 * @throws {RegistryError} REGISTRY_CREDENTIAL_HELPER when the helper is missing or fails
 */
export async function credentialHelperStore(
  name: string,
  serverUrl: string,
  credential: { username: string; password: string },
  options: CredentialLocationOptions & { helperTimeoutMs?: number } = {},
): Promise<void> {
  const input = JSON.stringify({
    ServerURL: serverUrl,
    Username: credential.username,
    Secret: credential.password,
  });
  const run = await runHelper(name, 'store', input, options);
  if (run.code !== 0) {
    throw helperError(
      name,
      `store ${serverUrl} exited with status ${run.code}: ${excerpt(run.stdout + run.stderr)}`,
    );
  }
}

/**
 * Save credentials for a registry the way `docker login`/`crane auth login` do: through the helper the
 * file configures for that registry (credHelpers, then credsStore), else as `auths[<key>] = {"auth":
 * base64("user:pass")}` in the file, which is rewritten atomically with mode 0600 (other content kept;
 * a symlinked file is written through to its target).
 *
 * @param path - the Docker config file (created with its directory, mode 0700, when missing)
 * @param registry - registry host with optional port
 * @param credential - user name and password
 * @param options - env (PATH for helpers) and helper timeout
 * @returns where the credentials went: the file, or the helper's name
 * @throws {RegistryError} REGISTRY_BAD_AUTH_CONFIG when the existing file is malformed; REGISTRY_CREDENTIAL_HELPER when a helper fails
 */
export async function saveCredential(
  path: string,
  registry: string,
  credential: { username: string; password: string },
  options: CredentialLocationOptions & { helperTimeoutMs?: number } = {},
): Promise<{ stored: 'file' | 'helper'; key: string; path: string; helper?: string }> {
  let target = path;
  try {
    target = await realpath(path);
  } catch {
    // Missing: written where asked.
  }
  const text = await readLimitedText(target);
  const parsed = parseAuthConfig(text ?? '', target);
  const key = credentialKey(registry);
  const helper = findByKey(parsed.credHelpers, [normaliseKey(registry)]) ?? parsed.credsStore;
  if (helper !== undefined) {
    await credentialHelperStore(helper, key, credential, options);
    return { stored: 'helper', key, path: target, helper };
  }
  // parseAuthConfig validated the shape; JSON.parse keeps key order, so unrelated content round-trips.
  const document = (text === undefined || text.trim() === '' ? {} : JSON.parse(text)) as Record<
    string,
    unknown
  >;
  const auths: Record<string, unknown> = isObject(document.auths) ? document.auths : {};
  // Drop other spellings of the same registry so the new entry is the one found.
  for (const existing of Object.keys(auths)) {
    if (existing !== key && normaliseKey(existing) === normaliseKey(key)) delete auths[existing];
  }
  auths[key] = {
    auth: Buffer.from(`${credential.username}:${credential.password}`, 'utf8').toString('base64'),
  };
  document.auths = auths;
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  await writeFileAtomic(target, `${JSON.stringify(document, null, '\t')}\n`, { mode: 0o600 });
  return { stored: 'file', key, path: target };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

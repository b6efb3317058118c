/**
 * `tk apko login` (crane's `auth login`): check the credentials against the registry, then save them
 * where Docker, podman, crane and tk find them.
 */
import { ClientContext, type RegistryClientOptions } from './client.ts';
import {
  dockerConfigPath,
  saveCredential,
  staticKeychain,
  type CredentialLocationOptions,
} from './credentials.ts';
import { RegistryError } from './errors.ts';
import { parseRegistry } from './reference.ts';

/** Options of {@link login}. */
export interface LoginOptions
  extends Omit<RegistryClientOptions, 'keychain' | 'concurrency'>,
    CredentialLocationOptions {
  /** The Docker config file to update; default `$DOCKER_CONFIG/config.json` or `<homedir>/.docker/config.json`. */
  readonly configPath?: string;
  /** Skip asking the registry whether the credentials work (default false). */
  readonly skipCheck?: boolean;
  /** Timeout of a credential helper run, in ms (default 30 000). */
  readonly helperTimeoutMs?: number;
}

/** What {@link login} did. */
export interface LoginResult {
  /** The registry as normalised (`docker.io` → `index.docker.io`). */
  readonly registry: string;
  /** The key the credentials were stored under (`https://index.docker.io/v1/` for Docker Hub, else the host). */
  readonly key: string;
  /** The config file consulted or written. */
  readonly configPath: string;
  /** `file` when written into the config, `helper` when handed to a docker-credential helper. */
  readonly stored: 'file' | 'helper';
  /** The helper's name, when one was used. */
  readonly helper?: string;
}

/**
 * Log in to a registry: `GET /v2/` with the credentials (through the Basic or Bearer flow the registry
 * asks for) must succeed, then the credentials are saved: through the credential helper the config
 * names for the registry (credHelpers, credsStore), else as `auths[<key>].auth` in the Docker config,
 * written atomically with mode 0600.
 *
 * @param registry - `ghcr.io`, `127.0.0.1:5000`, `docker.io`, `https://index.docker.io/v1/`
 * @param username - the user name
 * @param password - the password or token
 * @param options - config path (or env/homedir to find it), TLS/insecure, retries
 * @returns where the credentials were stored
 * @throws {RegistryError} REGISTRY_UNAUTHORIZED when the registry refuses them; REGISTRY_BAD_REFERENCE for a bad registry name;
 *   REGISTRY_BAD_AUTH_CONFIG when the existing config is malformed or no config path is known;
 *   REGISTRY_CREDENTIAL_HELPER when a helper fails
 * @example
 * await login('127.0.0.1:5000', 'user', 'pass', { configPath: '/home/me/.docker/config.json' });
 */
export async function login(
  registry: string,
  username: string,
  password: string,
  options: LoginOptions = {},
): Promise<LoginResult> {
  const host = parseRegistry(registry);
  if (username === '' || username.includes(':') || /[\r\n]/.test(username)) {
    throw new RegistryError(
      'REGISTRY_UNAUTHORIZED',
      `user name ${JSON.stringify(username)} is empty or contains ':' or a line break`,
      {
        hint: 'pass the user name with -u/--username',
      },
    );
  }
  const configPath = options.configPath ?? dockerConfigPath(options);
  if (configPath === undefined) {
    throw new RegistryError(
      'REGISTRY_BAD_AUTH_CONFIG',
      'cannot tell where the Docker config is: neither DOCKER_CONFIG nor a home directory is known',
      {
        hint: 'set DOCKER_CONFIG or HOME',
      },
    );
  }
  if (options.skipCheck !== true) {
    const context = new ClientContext({
      ...options,
      keychain: staticKeychain({ [host]: { username, password } }),
    });
    try {
      await context.session(host).checkAuth();
    } finally {
      await context.close();
    }
  }
  const saved = await saveCredential(configPath, host, { username, password }, options);
  return {
    registry: host,
    key: saved.key,
    configPath: saved.path,
    stored: saved.stored,
    ...(saved.helper !== undefined ? { helper: saved.helper } : {}),
  };
}

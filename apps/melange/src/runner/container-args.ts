/**
 * The podman and docker command lines of the container runner (melange `pkg/container/docker`, reference
 * §5.3), built from a checked spec and request. Pure, so that tests read them without a container engine.
 *
 * One long-lived container per pod: `run -d -i` with a shell that blocks on its open stdin (no `sleep` needed
 * in the guest), the build user as the container's user (so that capabilities the recipe adds reach that
 * user as ambient ones, as in bubblewrap), `--network none` unless the build asks for the network, the
 * workspace and cache bind-mounted, the exact capability set, a fixed host name, and `--platform` for the
 * guest's arch. Each step is an `exec` whose environment is given variable by variable (in a private
 * env-file, so that no value shows in the host's process list).
 *
 * Exact environment: the engine adds variables of its own to an exec (podman: HOME from /etc/passwd, a PATH
 * when none is given; docker also HOSTNAME). A step runs as `/bin/sh -c WRAPPER /bin/sh SCRIPT WORKDIR`: the
 * wrapper prints a start marker (so a step that never started is told apart from one that exited 126 or
 * 127), changes to WORKDIR (or stays in / when it does not exist yet, as bubblewrap does), unsets what the
 * engine added and the request did not ask for, and `exec`s `/bin/sh -c SCRIPT`: the script runs unchanged,
 * as `$0 = /bin/sh`, with its own line numbers.
 *
 * Flavours: podman takes `--runtime` before the subcommand and has `--unsetenv-all` and `--no-hosts`;
 * docker takes `--runtime` on `run`, and `rm --force` kills at once (podman needs `--time 0`).
 */
import { posix } from 'node:path';
import type { Mount, RunRequest } from './types.ts';
import { CACHE_PATH, WORKSPACE_PATH } from './args.ts';

/** The container command-line tools the runner drives. */
export type ContainerCli = 'podman' | 'docker';

/** A spec after checking (see container.ts). */
export interface ContainerSpec {
  /** The container's name. */
  name: string;
  /** The image reference to run. */
  image: string;
  /** `linux/amd64`, `linux/arm64`, `linux/arm/v7`. */
  platform: string;
  /** `uid:gid` of the build user (`0:0` for root). */
  user: string;
  network: boolean;
  /** The complete capability set (kernel names); empty means none. */
  capabilities: readonly string[];
  workspaceDir: string;
  /** Mounted only when set (the folder exists). */
  cacheDir?: string;
  extraMounts: readonly Mount[];
  hostname: string;
  /** The OCI runtime (`runc`), when not the engine's default. */
  runtime?: string;
  /** `--ulimit` values (`nofile=1024:1024`). */
  ulimits: readonly string[];
}

/** The line the step wrapper prints first on stdout. */
export const STEP_MARKER = 'tk-melange-step-started';

/** Label on every container the runner starts (`podman ps --filter label=dev.tk.melange`). */
export const CONTAINER_LABEL = 'dev.tk.melange=true';

/** What the container's first process runs: it blocks on its (open) stdin for the container's whole life. */
export const KEEPALIVE = ['/bin/sh', '-c', 'while :; do read -r _ || sleep 3600 || exit 1; done'] as const;

/**
 * Variables an engine may put into an exec's environment on its own; the wrapper unsets each one the request
 * does not set. OLDPWD is the wrapper's own `cd`.
 */
export const ENGINE_VARIABLES: readonly string[] = [
  'HOME',
  'HOSTNAME',
  'OLDPWD',
  'PATH',
  'TERM',
  'container',
];

/**
 * Arguments that go before every subcommand.
 *
 * @param cli - the tool
 * @param runtime - the OCI runtime, if one is chosen
 * @returns the global arguments
 */
export function globalArgs(cli: ContainerCli, runtime: string | undefined): string[] {
  return cli === 'podman' && runtime !== undefined ? ['--runtime', runtime] : [];
}

function mountArg(source: string, dest: string, readonly: boolean): string {
  return `type=bind,source=${source},destination=${dest}${readonly ? ',readonly' : ''}`;
}

/**
 * The `run` arguments that start a pod's container.
 *
 * @param cli - the tool
 * @param spec - the checked spec
 * @returns arguments after the global ones (`run`, options, image, keep-alive command)
 */
export function runArgs(cli: ContainerCli, spec: ContainerSpec): string[] {
  const args = ['run', '--detach', '--interactive', '--name', spec.name, '--label', CONTAINER_LABEL];
  args.push('--pull', 'never', '--platform', spec.platform, '--user', spec.user);
  args.push('--hostname', spec.hostname, '--network', spec.network ? 'host' : 'none');
  if (cli === 'podman') args.push('--unsetenv-all', '--no-hosts');
  if (cli === 'docker' && spec.runtime !== undefined) args.push('--runtime', spec.runtime);
  args.push('--security-opt', 'label=disable', '--cap-drop', 'ALL');
  for (const cap of spec.capabilities) args.push('--cap-add', cap);
  for (const limit of spec.ulimits) args.push('--ulimit', limit);
  args.push('--mount', mountArg(spec.workspaceDir, WORKSPACE_PATH, false));
  if (spec.cacheDir !== undefined) args.push('--mount', mountArg(spec.cacheDir, CACHE_PATH, false));
  for (const m of spec.extraMounts) args.push('--mount', mountArg(m.source, m.dest, m.readonly));
  args.push('--workdir', '/', spec.image, ...KEEPALIVE);
  return args;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The wrapper script of a step (see the module comment).
 *
 * @param env - the request's environment (its names are not unset)
 * @param marker - whether to print the start marker (not on a terminal)
 * @returns the script for `/bin/sh -c`
 */
export function stepWrapper(env: Readonly<Record<string, string>>, marker: boolean): string {
  const unset = ENGINE_VARIABLES.filter((name) => !Object.hasOwn(env, name));
  const parts: string[] = [];
  if (marker) parts.push(`echo ${STEP_MARKER}`);
  parts.push('cd "$2" 2>/dev/null || cd /');
  if (unset.length > 0) parts.push(`unset ${unset.map(shellQuote).join(' ')}`);
  parts.push('exec /bin/sh -c "$1"');
  return parts.join('; ');
}

/** Names and values an env-file line carries unchanged (podman and docker trim a line's start, split lines at \r\n). */
const ENV_FILE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ENV_FILE_VALUE = /^[^\n\r]*$/;

/** The command line of one step, and the env-file it names. */
export interface ExecCommand {
  args: string[];
  /** `NAME=value` lines to write to the env-file, when there is one. */
  envFile?: string;
}

/**
 * The `exec` of one step. With an env-file path, the environment goes through that file (the caller writes
 * it, readable by the invoking user only), so that values (secrets) never appear in the host's process list;
 * a variable a line cannot carry (a value with a newline, an odd name) goes as `--env NAME=value`, as does
 * every variable when there is no env-file. (A pipe cannot carry it: Node's stdio pipes are sockets, which
 * `/dev/stdin` cannot open.)
 *
 * @param name - the container
 * @param user - `uid:gid`
 * @param req - the (checked) request
 * @param envFilePath - where the caller writes the env-file, if it uses one
 * @returns arguments after the global ones, and the env-file text
 */
export function execArgs(name: string, user: string, req: RunRequest, envFilePath?: string): ExecCommand {
  const tty = req.tty === true;
  const useFile = envFilePath !== undefined;
  const args = ['exec'];
  if (tty) args.push('--interactive', '--tty');
  args.push('--user', user, '--workdir', '/');
  const lines: string[] = [];
  for (const key of Object.keys(req.env).sort()) {
    const value = req.env[key] ?? '';
    if (useFile && ENV_FILE_NAME.test(key) && ENV_FILE_VALUE.test(value)) lines.push(`${key}=${value}\n`);
    else args.push('--env', `${key}=${value}`);
  }
  if (useFile) args.push('--env-file', envFilePath);
  args.push(name, '/bin/sh', '-c', stepWrapper(req.env, !tty), '/bin/sh', req.script);
  const workdir = posix.normalize(req.workdir);
  args.push(workdir.length > 1 && workdir.endsWith('/') ? workdir.slice(0, -1) : workdir);
  return useFile ? { args, envFile: lines.join('') } : { args };
}

/**
 * The `exec` that kills every process of the container but its first one (the steps run one at a time, so
 * that is the running step with everything it started). It runs as the build user, who may signal its own
 * processes without CAP_KILL.
 *
 * @param name - the container
 * @param user - `uid:gid` of the build user
 * @returns arguments after the global ones
 */
export function killArgs(name: string, user: string): string[] {
  return ['exec', '--user', user, name, '/bin/sh', '-c', 'kill -9 -1 2>/dev/null; exit 0'];
}

/**
 * The `rm` that removes a container at once (SIGKILL, no grace period).
 *
 * @param cli - the tool
 * @param name - the container
 * @returns arguments after the global ones
 */
export function removeArgs(cli: ContainerCli, name: string): string[] {
  return cli === 'podman' ? ['rm', '--force', '--time', '0', name] : ['rm', '--force', name];
}

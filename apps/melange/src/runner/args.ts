/**
 * The bwrap command line of one step (melange `pkg/container/bubblewrap_runner.go`, reference §5.2), built
 * from a checked spec and request. Pure, so that tests can read it without running bwrap.
 *
 * Mount order matters: the guest goes at `/` first, then the kernel filesystems, then the workspace, the
 * cache, resolv.conf and extra mounts on top of it. Namespaces: pid, ipc, uts and cgroup always; network
 * unless the build asks for it; user for every user but real root. The environment is cleared and set
 * from the request only, and bwrap itself is spawned with an empty environment, so nothing of the host's
 * leaks into a step.
 */
import type { Mount, RunRequest } from './types.ts';

/** The guest path of the workspace. */
export const WORKSPACE_PATH = '/home/build';
/** The guest path of the source cache. */
export const CACHE_PATH = '/var/cache/melange';
/** The file descriptor bwrap reports the child's status on (`--json-status-fd`). */
export const STATUS_FD = 3;

/** How the sandbox's user is set up. */
export type UserMode =
  /** `--unshare-user --uid N --gid N`: the user maps to the invoking user outside. */
  | { kind: 'mapped'; uid: number; gid: number }
  /** No user namespace: real root in the sandbox (only when tk runs as root). */
  | { kind: 'host-root' };

/** A spec after checking: folders exist, capabilities resolved, optional mounts decided. */
export interface CheckedSpec {
  guestDir: string;
  workspaceDir: string;
  /** Set only when the folder exists. */
  cacheDir?: string;
  user: UserMode;
  network: boolean;
  /** The complete capability set, or undefined to leave bwrap's default (none for a mapped non-root user). */
  capabilities?: readonly string[];
  /** Host resolv.conf to bind read-only (network builds, when the host has one). */
  resolvConf?: string;
  extraMounts: readonly Mount[];
  hostname: string;
}

/**
 * The bwrap arguments of one step.
 *
 * @param spec - the checked pod spec
 * @param req - the step (already checked)
 * @param chdir - the guest directory to start in (the request's workdir when it exists)
 * @returns arguments for bwrap (without the bwrap path itself)
 */
export function bwrapArgs(spec: CheckedSpec, req: RunRequest, chdir: string): string[] {
  const args: string[] = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (!spec.network) args.push('--unshare-net');
  if (spec.user.kind === 'mapped') {
    args.push('--unshare-user', '--uid', String(spec.user.uid), '--gid', String(spec.user.gid));
  }
  if (spec.capabilities !== undefined) {
    args.push('--cap-drop', 'ALL');
    for (const cap of spec.capabilities) args.push('--cap-add', cap);
  }
  args.push('--hostname', spec.hostname);
  args.push('--bind', spec.guestDir, '/');
  args.push('--dev', '/dev', '--proc', '/proc', '--ro-bind', '/sys', '/sys');
  args.push('--bind', spec.workspaceDir, WORKSPACE_PATH);
  if (spec.cacheDir !== undefined) args.push('--bind', spec.cacheDir, CACHE_PATH);
  if (spec.resolvConf !== undefined) args.push('--ro-bind', spec.resolvConf, '/etc/resolv.conf');
  for (const m of spec.extraMounts) args.push(m.readonly ? '--ro-bind' : '--bind', m.source, m.dest);
  args.push('--chdir', chdir, '--die-with-parent');
  if (req.tty !== true) args.push('--new-session');
  args.push('--json-status-fd', String(STATUS_FD));
  args.push('--clearenv');
  for (const name of Object.keys(req.env).sort()) args.push('--setenv', name, req.env[name] ?? '');
  args.push('--', '/bin/sh', '-c', req.script);
  return args;
}

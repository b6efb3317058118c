/**
 * The sandbox interface of `tk melange build` and `tk melange test` (melange `pkg/container/runner.go`,
 * reference §5). A {@link Runner} checks that it can work on this machine and starts a {@link Pod} for one
 * guest root and workspace; the pod runs each pipeline step as one `/bin/sh -c` process. bubblewrap is the
 * first implementation (`bubblewrap.ts`); a docker/podman runner (a long-lived container, `exec` per step)
 * and a qemu runner (a microVM driven over ssh) fit the same shape: everything a step needs is in the
 * spec and the request, nothing comes from the host's environment.
 */

/** A host folder made visible in the sandbox. */
export interface Mount {
  /** Absolute host path. */
  source: string;
  /** Absolute guest path. */
  dest: string;
  readonly: boolean;
}

/** Capabilities to add to or drop from the runner's default set (`CAP_NET_ADMIN` or `net_admin`). */
export interface CapabilityChanges {
  add: string[];
  drop: string[];
}

/** What a pod is started with. */
export interface RunnerSpec {
  /** The guest root filesystem on the host (from `assembleGuest`), mounted read-write at `/`. */
  guestDir: string;
  /** The build workspace on the host, mounted at `/home/build`. */
  workspaceDir: string;
  /** The source cache on the host, mounted at `/var/cache/melange` when the folder exists. */
  cacheDir?: string;
  /** The user the steps run as: a uid/gid of the guest (the `build` user is 1000), or real root. */
  user: { uid: number; gid: number } | 'root';
  /** Share the host's network (and its `/etc/resolv.conf`); when false the sandbox has only `lo`. */
  network: boolean;
  /** Changes to the capability set (melange `capabilities.add` / `drop`). */
  capabilities?: CapabilityChanges;
  /** The guest's apk arch (`x86_64`, `aarch64`): a foreign arch needs qemu-user through binfmt_misc. */
  arch: string;
  /** Further folders to mount. */
  extraMounts?: Mount[];
}

/** One step to run. */
export interface RunRequest {
  /** The script, passed to `/bin/sh -c` as one argument. */
  script: string;
  /** The COMPLETE environment of the step: nothing from the host leaks in. */
  env: Record<string, string>;
  /** Absolute guest path to start in (it must exist in the guest or the workspace). */
  workdir: string;
  /**
   * Output as it comes, one call per line (the text keeps its `\n`; a last line without one comes
   * when the process ends; a line longer than 64 KiB is passed on in pieces).
   */
  onOutput?: (text: string, stream: 'stdout' | 'stderr') => void;
  /** Cancels the step: the sandbox is killed and `run` rejects with MELANGE_STEP_ABORTED. */
  signal?: AbortSignal;
  /** Kill the step after this many milliseconds (`run` rejects with MELANGE_STEP_TIMEOUT). */
  timeoutMs?: number;
  /** Connect the step to the caller's terminal (for `--interactive`): no output callbacks, no new session. */
  tty?: boolean;
}

/** How a step ended. */
export interface RunResult {
  /** The exit status of `/bin/sh` (128 + N when it was killed by signal N inside the sandbox). */
  exitCode: number;
  /** The signal that killed the sandbox itself, if one did (`SIGKILL`). */
  signal?: string;
  /** Wall-clock time of the step. */
  durationMs: number;
}

/** A started sandbox for one guest and workspace. */
export interface Pod {
  /** Run one step. Rejects only when the sandbox cannot run it (a failing step resolves with its exit code). */
  run(req: RunRequest): Promise<RunResult>;
  /** Release the pod (kills steps still running). Idempotent. */
  close(): Promise<void>;
}

/** A way to run steps in a guest. */
export interface Runner {
  /** `bubblewrap`, later `docker`, `qemu`. */
  readonly name: string;
  /**
   * Check that this machine can run sandboxes, and (with `arch`) guests of that arch.
   *
   * @throws {MelangeError} MELANGE_RUNNER_UNUSABLE, MELANGE_RUNNER_NO_EMULATION, with a hint
   */
  checkUsable(options?: { arch?: string }): Promise<void>;
  /** Start a pod; checks the spec (folders, capabilities, foreign-arch emulation). */
  start(spec: RunnerSpec): Promise<Pod>;
}

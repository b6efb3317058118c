/**
 * Choosing a runner by its `--runner` name (melange `pkg/cli/build.go` `getRunner`, reference §5):
 *
 * - `bubblewrap`: the default on Linux;
 * - `qemu`: bubblewrap whose foreign-arch guests run through qemu-user and binfmt_misc (tk has no microVM
 *   runner; melange's `qemu` boots one);
 * - `docker`, `podman`: the container runner driving that command-line tool.
 *
 * melange removed its `lima` runner (b45a8130, 2024-07) and its `kubernetes` runner (480ea2fd, 2024-05);
 * asking for them, or for a name tk does not know, is a MELANGE_UNKNOWN_RUNNER that lists the choices.
 */
import type { Logger } from '@tk/core';
import { MelangeError } from '../errors.ts';
import { createBubblewrapRunner, type SpawnFunction } from './bubblewrap.ts';
import { createContainerRunner } from './container.ts';
import type { Runner } from './types.ts';

/** The runner names tk accepts. */
export const RUNNER_NAMES: readonly string[] = ['bubblewrap', 'qemu', 'docker', 'podman'];

/** Runners melange had and removed, with what to say about them. */
const REMOVED: Readonly<Record<string, string>> = {
  lima: 'melange removed its lima runner in 2024 (b45a8130); on macOS, run tk inside a Linux VM, or use --runner docker or --runner podman against a Linux engine',
  kubernetes:
    'melange removed its kubernetes runner in 2024 (480ea2fd); run tk in a pod with --runner bubblewrap',
};

/** What {@link runnerFor} passes on to the runner it creates. */
export interface RunnerChoiceOptions {
  /** Whether tk runs as root. */
  isRoot: boolean;
  /** The invoking user (owner of the workspace outside; the container runner gives files back to it). */
  hostUser?: { uid: number; gid: number };
  /** Folders searched for the runner's tool (the CLI passes its PATH). */
  searchPath?: string;
  /** The host's arch (Node or apk name). */
  hostArch?: string;
  /** Where binfmt_misc is mounted. */
  binfmtDir?: string;
  /** docker and podman only: the tool's environment, OCI runtime, `--ulimit` values, keeping the image. */
  container?: {
    binary?: string;
    cliEnv?: Readonly<Record<string, string>>;
    runtime?: string;
    ulimits?: readonly string[];
    keepImage?: boolean;
  };
  /** Spawns processes (tests inject one). */
  spawn?: SpawnFunction;
  logger?: Logger;
}

/**
 * The runner a `--runner` name stands for.
 *
 * @param name - `bubblewrap`, `qemu`, `docker` or `podman` (case-insensitive)
 * @param options - what the runner needs from the caller
 * @returns the runner (not yet checked: call `checkUsable`)
 * @throws {MelangeError} MELANGE_UNKNOWN_RUNNER for `lima`, `kubernetes` or an unknown name
 * @example
 * const runner = runnerFor(flags.runner, { isRoot: process.getuid?.() === 0, searchPath: process.env.PATH });
 */
export function runnerFor(name: string, options: RunnerChoiceOptions): Runner {
  const key = name.trim().toLowerCase();
  const shared = {
    ...(options.searchPath === undefined ? {} : { searchPath: options.searchPath }),
    ...(options.hostArch === undefined ? {} : { hostArch: options.hostArch }),
    ...(options.binfmtDir === undefined ? {} : { binfmtDir: options.binfmtDir }),
    ...(options.spawn === undefined ? {} : { spawn: options.spawn }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  switch (key) {
    case 'bubblewrap':
    case 'qemu':
      return createBubblewrapRunner({ isRoot: options.isRoot, ...shared });
    case 'docker':
    case 'podman': {
      const c = options.container ?? {};
      return createContainerRunner({
        cli: key,
        isRoot: options.isRoot,
        ...(options.hostUser === undefined ? {} : { hostUser: options.hostUser }),
        ...(c.binary === undefined ? {} : { binary: c.binary }),
        ...(c.cliEnv === undefined ? {} : { cliEnv: c.cliEnv }),
        ...(c.runtime === undefined ? {} : { runtime: c.runtime }),
        ...(c.ulimits === undefined ? {} : { ulimits: c.ulimits }),
        ...(c.keepImage === undefined ? {} : { keepImage: c.keepImage }),
        ...shared,
      });
    }
    default: {
      const removed = Object.hasOwn(REMOVED, key) ? REMOVED[key] : undefined;
      throw new MelangeError(
        'MELANGE_UNKNOWN_RUNNER',
        removed === undefined
          ? `--runner ${JSON.stringify(name)}: tk has no such runner (it has ${RUNNER_NAMES.join(', ')})`
          : `--runner ${key}: tk has no ${key} runner`,
        {
          hint:
            removed ??
            'use --runner bubblewrap (the default on Linux), qemu (bubblewrap with qemu-user for foreign arches), docker or podman',
          data: { runner: name, runners: RUNNER_NAMES },
        },
      );
    }
  }
}

export { createBubblewrapRunner } from './bubblewrap.ts';
export type { BubblewrapRunnerOptions, SpawnFunction } from './bubblewrap.ts';
export { createContainerRunner, GUEST_IMAGE_REPOSITORY } from './container.ts';
export type { ContainerCli, ContainerRunnerOptions } from './container.ts';
export type { CapabilityChanges, Mount, Pod, RunRequest, RunResult, Runner, RunnerSpec } from './types.ts';

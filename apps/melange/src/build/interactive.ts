/**
 * `--interactive` (melange.md §4.2): when a step fails, a shell opens on the caller's terminal in the same
 * sandbox (guest, workspace, user, environment) at the step's working directory, with the failed script in
 * the shell's history (busybox ash reads `$HOME/.ash_history`, so it is written before the shell starts).
 * `exit 0` continues the build as if the step had passed; any other exit aborts with the step's error.
 */
import { silentLogger, type Logger } from '@tk/core';
import type { CompiledStep } from '../recipe/types.ts';
import type { Pod } from '../runner/types.ts';
import { shellQuote, type StepFailureHook } from './steps.ts';

/** The home folder (and history file's folder) when the step's environment has no HOME. */
export const DEFAULT_HOME = '/home/build';

/** The shell's prompt: `tk-debug <dir> $ `. */
export const INTERACTIVE_PROMPT = 'tk-debug \\w \\$ ';

/** The variable the history text reaches the writing step in (never the shell's environment). */
const HISTORY_VAR = 'TK_FAILED_SCRIPT';

/** The history entries of a failed step: its script's non-empty lines, in order. */
export function historyLines(step: CompiledStep): string[] {
  return (step.runs ?? '').split('\n').filter((line) => line.trim() !== '');
}

/** The script that writes the history file (the text comes in {@link HISTORY_VAR}). */
export function historyScript(home: string): string {
  const dir = shellQuote(home);
  return [
    `[ -d ${dir} ] || mkdir -p ${dir}`,
    `printf '%s\\n' "$${HISTORY_VAR}" > ${shellQuote(`${home}/.ash_history`)}`,
  ].join('\n');
}

/** The script of the shell: enter the working directory (created by the step's wrapper) and start ash. */
export function shellScript(workdir: string): string {
  return `cd ${shellQuote(workdir)} 2>/dev/null || cd /\nexec /bin/sh -i`;
}

/** Options of {@link interactiveFailureHook}. */
export interface InteractiveOptions {
  /** Messages around the shell ("step X failed, …"). */
  logger?: Logger;
  /** Prefix of the messages (the arch, the package under test). */
  label?: string;
}

/**
 * The `onFailure` hook of `--interactive` for one pod.
 *
 * @param pod - the sandbox of the failed step
 * @param options - logger and message prefix
 * @returns a hook that opens a shell and continues on `exit 0`
 */
export function interactiveFailureHook(pod: Pod, options: InteractiveOptions = {}): StepFailureHook {
  const logger = options.logger ?? silentLogger;
  const prefix = options.label === undefined ? '' : `${options.label}: `;
  return async (step, workdir, env, error) => {
    const home = env['HOME'] ?? DEFAULT_HOME;
    const written = await pod.run({
      script: historyScript(home),
      env: { ...env, HOME: home, [HISTORY_VAR]: historyLines(step).join('\n') },
      workdir: '/',
    });
    if (written.exitCode !== 0)
      logger.warn(`${prefix}could not write ${home}/.ash_history (exit ${written.exitCode})`);
    logger.warn(
      `${prefix}${error.message.split(/;? last lines of its output:|\n/)[0] ?? ''}; opening a shell in the sandbox at ${workdir} ` +
        '(the failed script is in the shell history): `exit 0` continues as if the step had passed, any other exit aborts',
    );
    const shell = await pod.run({
      script: shellScript(workdir),
      env: { ...env, HOME: home, PS1: INTERACTIVE_PROMPT },
      workdir,
      tty: true,
    });
    if (shell.exitCode === 0) {
      logger.warn(`${prefix}the shell exited with 0: continuing as if the step had passed`);
      return 'continue';
    }
    logger.info(`${prefix}the shell exited with ${shell.exitCode}: aborting`);
    return 'abort';
  };
}

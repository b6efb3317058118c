/**
 * Running compiled pipeline steps in a sandbox (melange.md §4.2): each `runs` is one `/bin/sh -c` process
 * (no shell state carries over between steps, only files), wrapped with `set -e`, `pipefail` where the shell
 * has it, `set -x` with `--debug`, the working directory created and entered (quoted), and `exit 0`.
 * Children run after their parent's own `runs`, with the parent's environment and directory. A failing step
 * throws MELANGE_STEP_FAILED naming the step, the package and the last lines of its output.
 */
import type { CompiledStep } from '../recipe/types.ts';
import { MelangeError } from '../errors.ts';
import type { Pod } from '../runner/types.ts';

/** melange's PATH inside the sandbox. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin';

/** How many output lines a failure message quotes. */
const TAIL_LINES = 25;

/** Quote a string for a POSIX shell (single quotes). */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script one step runs: melange's wrapper around the fragment.
 *
 * @param runs - the step's shell fragment
 * @param workdir - the guest working directory
 * @param debug - trace commands (`set -x`)
 * @returns the text passed to `/bin/sh -c`
 */
export function wrapScript(runs: string, workdir: string, debug: boolean): string {
  const dir = shellQuote(workdir);
  return [
    'set -e',
    // busybox ash and bash know pipefail; a shell that does not simply goes on without it.
    '(set -o pipefail) 2>/dev/null && set -o pipefail',
    debug ? 'set -x' : '',
    `[ -d ${dir} ] || mkdir -p ${dir}`,
    `cd ${dir}`,
    runs,
    'exit 0',
    '',
  ]
    .filter((line, i) => line !== '' || i > 4)
    .join('\n');
}

/** Where the steps run and what they inherit. */
export interface StepContext {
  pod: Pod;
  /** The sandbox-wide environment (recipe environment, SOURCE_DATE_EPOCH, PATH). */
  env: Record<string, string>;
  /** The package whose pipeline this is (for messages). */
  packageName: string;
  debug: boolean;
  /** Each output line of every step. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called before each step runs, with its label. */
  onStep?: (label: string) => void;
  signal?: AbortSignal;
  /** The `uses` of the nearest enclosing step, to label the steps of a pipeline definition. */
  within?: string;
  /** Hides secret values in output lines and failure messages. */
  redact?: (text: string) => string;
  /**
   * Called when a step's script fails (`--interactive`), with the step, its working directory, its complete
   * environment and the MELANGE_STEP_FAILED error: `continue` goes on as if the step had passed (its
   * children run), `abort` throws the error.
   */
  onFailure?: StepFailureHook;
}

/** What {@link StepContext.onFailure} is. */
export type StepFailureHook = (
  step: CompiledStep,
  workdir: string,
  env: Record<string, string>,
  error: MelangeError,
) => Promise<'continue' | 'abort'>;

/**
 * A human label for a step: its name, else `uses: X` (its own, or of the definition it belongs to), else
 * the first line of its script.
 */
export function stepLabel(step: CompiledStep, within?: string): string {
  if (step.name !== undefined && step.name !== '')
    return within === undefined ? step.name : `${within}: ${step.name}`;
  if (step.uses !== undefined) return `uses: ${step.uses}`;
  if (within !== undefined) return `uses: ${within}`;
  const first = (step.runs ?? '').split('\n').find((l) => l.trim() !== '') ?? '';
  return first.length > 60 ? `${first.slice(0, 57)}…` : first || '(empty step)';
}

/**
 * Run steps in order; skipped steps (`enabled: false`) are skipped with their children.
 *
 * @param steps - compiled steps
 * @param ctx - the pod, environment, package
 * @param path - a label path for messages (`pipeline[2]`)
 * @returns how many steps ran (directly, in this list)
 * @throws {MelangeError} MELANGE_STEP_FAILED, MELANGE_ASSERTION_FAILED
 */
export async function runSteps(
  steps: readonly CompiledStep[],
  ctx: StepContext,
  path = 'pipeline',
): Promise<number> {
  let ran = 0;
  for (const [i, step] of steps.entries()) {
    if (!step.enabled) continue;
    ran++;
    await runStep(step, ctx, `${path}[${i}]`);
  }
  return ran;
}

async function runStep(step: CompiledStep, ctx: StepContext, where: string): Promise<void> {
  const label = stepLabel(step, ctx.within);
  const env = { PATH: SANDBOX_PATH, ...ctx.env, ...step.environment };
  if (step.runs !== undefined && step.runs.trim() !== '') {
    ctx.onStep?.(label);
    const tail: string[] = [];
    const partial = { stdout: '', stderr: '' };
    const emit = (text: string, stream: 'stdout' | 'stderr'): void => {
      const lines = (partial[stream] + text).split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const raw of lines) {
        const line = ctx.redact === undefined ? raw : ctx.redact(raw);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        ctx.onOutput?.(line, stream);
      }
    };
    const result = await ctx.pod.run({
      script: wrapScript(step.runs, step.workingDirectory, ctx.debug),
      env,
      workdir: step.workingDirectory,
      onOutput: emit,
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      if (partial[stream] !== '') emit('\n', stream);
    }
    if (result.exitCode !== 0) {
      const how =
        result.signal !== undefined ? `was killed by ${result.signal}` : `exited with ${result.exitCode}`;
      const error = new MelangeError(
        'MELANGE_STEP_FAILED',
        `step "${label}" (${where}) of package ${ctx.packageName} ${how}` +
          (tail.length > 0 ? `; last lines of its output:\n${tail.map((l) => `  | ${l}`).join('\n')}` : ''),
        {
          hint: 'fix the step or its inputs; --debug traces every command, --keep-workspace keeps the workspace to look at',
          data: { step: label, where, package: ctx.packageName, exitCode: result.exitCode, tail },
        },
      );
      const decision =
        ctx.onFailure === undefined || ctx.signal?.aborted === true
          ? 'abort'
          : await ctx.onFailure(step, step.workingDirectory, env, error);
      if (decision !== 'continue') throw error;
    }
  }
  const within = step.uses ?? ctx.within;
  const childCtx: StepContext = {
    ...ctx,
    env: { ...ctx.env, ...step.environment },
    ...(within === undefined ? {} : { within }),
  };
  const ranChildren = await runSteps(step.pipeline, childCtx, `${where}.pipeline`);
  const required = step.assertions?.['required-steps'];
  if (required !== undefined && ranChildren !== required) {
    throw new MelangeError(
      'MELANGE_ASSERTION_FAILED',
      `step "${label}" (${where}) of package ${ctx.packageName} requires exactly ${required} of its steps to run, but ${ranChildren} ran`,
      { hint: 'check the `if:` conditions of its steps', data: { where, required, ran: ranChildren } },
    );
  }
}

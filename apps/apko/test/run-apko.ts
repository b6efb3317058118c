/** Running `tk apko …` in-process from tests. */
import { renderError, type CliContext } from '@tk/cli';
import { createRecordingLogger } from '@tk/core';
import { apkoCommand } from '../src/cli/apko.ts';

/** What one in-process `tk apko …` did: the exit code the binary would give, and what it printed. */
export interface ApkoRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `tk apko ARGS…` in-process, as the binary would (errors rendered, exit code returned).
 *
 * @param cwd - the working directory relative paths start from
 * @param env - the environment the command sees
 * @param args - the arguments after `apko`
 * @returns the exit code and the output
 */
export async function runApko(cwd: string, env: Record<string, string>, ...args: string[]): Promise<ApkoRun> {
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = {
    cwd,
    env,
    stdout: { write: (s: string) => void (stdout += s) },
    stderr: { write: (s: string) => void (stderr += s) },
    isTTY: false,
    logLevel: 'warn',
    logger: createRecordingLogger(),
  };
  let code = 0;
  try {
    await apkoCommand(ctx).exitOverride().parseAsync(args, { from: 'user' });
  } catch (error) {
    code = renderError(error, ctx.stderr);
  }
  return { code, stdout, stderr };
}

/**
 * Helpers the runners share: spec validation errors, executable lookup on a search path, id checks.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MelangeError } from '../errors.ts';

export function badSpec(message: string, hint: string, data?: Record<string, unknown>): never {
  throw new MelangeError('MELANGE_RUNNER_BAD_SPEC', message, {
    hint,
    ...(data === undefined ? {} : { data }),
  });
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function findExecutable(name: string, searchPath: string): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [name]
    : searchPath
        .split(':')
        .filter((d) => d !== '')
        .map((d) => join(d, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function checkId(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xfffffffe) {
    badSpec(`${what} ${value} is not a valid id`, 'use a uid/gid between 0 and 4294967294');
  }
  return value;
}

/**
 * Why a step that ran did not end normally: killed at its timeout, cancelled, or its output callback threw.
 *
 * @param ended - how the runner stopped the step, if it did
 * @param callbackError - what the `onOutput` callback threw, if anything
 * @param req - the step's timeout and abort signal
 * @param durationMs - how long it ran
 * @returns the error to reject with, or undefined when the step ended by itself
 */
export function stepEndError(
  ended: 'timeout' | 'abort' | undefined,
  callbackError: unknown,
  req: { timeoutMs?: number; signal?: AbortSignal },
  durationMs: number,
): Error | undefined {
  if (ended === 'timeout') {
    return new MelangeError(
      'MELANGE_STEP_TIMEOUT',
      `the step ran longer than its ${Math.round((req.timeoutMs ?? 0) / 1000)} s timeout and was killed`,
      {
        hint: 'raise the timeout, or find what the step waits for (a prompt on stdin, the network)',
        data: { timeoutMs: req.timeoutMs, durationMs },
      },
    );
  }
  if (ended === 'abort') {
    return new MelangeError('MELANGE_STEP_ABORTED', 'the step was cancelled and killed', {
      cause: req.signal?.reason,
      data: { durationMs },
    });
  }
  if (callbackError !== undefined) {
    return callbackError instanceof Error
      ? callbackError
      : new Error('the onOutput callback threw a value that is not an Error', { cause: callbackError });
  }
  return undefined;
}

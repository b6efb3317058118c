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

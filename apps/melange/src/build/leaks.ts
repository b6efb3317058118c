/**
 * The last guard for build secrets: before packaging, every regular file the build put into
 * `melange-out/` is searched for the values of `--secret` and `--env-file` variables. A package that would
 * carry one is refused (MELANGE_SECRET_LEAK) rather than written.
 */
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MelangeError } from '../errors.ts';

/** Values shorter than this are not searched for (they would match by chance). */
export const MIN_LEAK_LENGTH = 8;
const CHUNK = 1 << 20;

async function fileContains(path: string, needles: readonly Buffer[]): Promise<Buffer | undefined> {
  const longest = Math.max(...needles.map((n) => n.length));
  const handle = await open(path, 'r');
  try {
    let carry = Buffer.alloc(0);
    const buffer = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) return undefined;
      const window = Buffer.concat([carry, buffer.subarray(0, bytesRead)]);
      const found = needles.find((n) => window.includes(n));
      if (found !== undefined) return found;
      carry = window.subarray(Math.max(0, window.length - longest + 1));
    }
  } finally {
    await handle.close();
  }
}

/**
 * Refuse output trees that contain a secret value.
 *
 * @param outputRoot - the workspace's `melange-out` folder
 * @param values - secret values (short ones are skipped)
 * @throws {MelangeError} MELANGE_SECRET_LEAK naming the file (never the value)
 */
export async function refuseLeaks(outputRoot: string, values: readonly string[]): Promise<void> {
  const needles = [...new Set(values.filter((v) => v.length >= MIN_LEAK_LENGTH))].map((v) => Buffer.from(v));
  if (needles.length === 0) return;
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(dir, entry.name);
      const name = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path, name);
      else if (
        entry.isFile() &&
        (await lstat(path)).size > 0 &&
        (await fileContains(path, needles)) !== undefined
      ) {
        throw new MelangeError(
          'MELANGE_SECRET_LEAK',
          `melange-out/${name} contains the value of a --secret or --env-file variable; no package was written`,
          {
            hint: 'do not write build secrets into the install tree (check the step that created this file)',
            data: { file: `melange-out/${name}` },
          },
        );
      }
    }
  };
  await walk(outputRoot, '');
}

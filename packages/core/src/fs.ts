/**
 * Filesystem helpers with the guarantees tk promises: outputs appear whole or not at all.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

/** Linux's IOV_MAX: the most buffers one writev takes. */
const WRITEV_MAX_CHUNKS = 1024;

/** Write every byte of `chunks` in order; writev may write less than asked, as write may. */
async function writeAll(handle: FileHandle, chunks: readonly Uint8Array[]): Promise<void> {
  let pending = chunks.filter((c) => c.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending);
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) {
      bytesWritten -= pending[0]!.length;
      pending = pending.slice(1);
    }
    if (bytesWritten > 0) pending = [pending[0]!.subarray(bytesWritten), ...pending.slice(1)];
  }
}

/**
 * Write a file atomically: to a temporary name in the same directory, flushed, then renamed over the
 * target. A crash leaves either the old file or the new one, never half of one.
 *
 * @param path - the target
 * @param data - the content (chunks are written in order)
 * @param options - file mode (default 0644), whether to create the parent directory
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
  options: { mode?: number; mkdir?: boolean } = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.mkdir === true) await mkdir(dir, { recursive: true });
  // The temporary name only has to be unique; it never reaches an output.
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    const chunks =
      typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    // writev: one call (and one trip to the thread pool) per IOV_MAX chunks, not one per chunk.
    for (let i = 0; i < chunks.length; i += WRITEV_MAX_CHUNKS)
      await writeAll(handle, chunks.slice(i, i + WRITEV_MAX_CHUNKS));
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

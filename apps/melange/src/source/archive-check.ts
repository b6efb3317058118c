/**
 * Judging a source archive on the host before the sandbox extracts it with
 * `tar -x --no-same-owner --strip-components=N -C <directory>` (the `fetch` pipeline).
 *
 * Every entry header is read (gzip is decompressed as a stream; memory stays bounded whatever the archive's
 * size) and the archive is refused (MELANGE_SOURCE_UNSAFE, naming the entry) when an entry
 *
 * - has an absolute name or a `..` component (GNU tar would strip or skip these; tk refuses the archive:
 *   no honest source tarball has them);
 * - is a hard link whose target is absolute, has `..`, or goes through a symlink of the archive;
 * - is a symlink whose relative target climbs above the extraction directory, lexically or through another
 *   symlink of the archive;
 * - is written through a symlink created earlier in the archive (`x -> /etc`, then `x/passwd`), or is a
 *   directory where the archive made a symlink (its mode would be applied through the link);
 * - is a device node or a FIFO; claims data on a link or directory header; or is larger than the limits;
 *
 * and when the archive is corrupt: a header checksum mismatch, a truncated tar or gzip stream, bad gzip data.
 *
 * Absolute symlink targets (`COPYING -> /usr/share/automake-1.16/COPYING`, which careless dist tarballs do
 * contain) are accepted: they point into the sandbox's own root, not the host's, and nothing is ever
 * written through them (see the rule above). Names are judged after `--strip-components`, as GNU tar
 * applies it: leading `/` runs are skipped, `.` counts as a component, hard link targets are stripped too,
 * and entries with too few components are not extracted (so not judged, beyond the name checks).
 *
 * xz, bzip2, zstd, lzip and compress archives have no decoder in Node: they are not checked here
 * (`checked: false` with the reason), and GNU tar's own defences apply (it refuses members with `..`,
 * strips leading `/`, and delays creating symlinks that point outside).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { linkStaysInside } from '@tk/tar';
import { MelangeError } from '../errors.ts';
import {
  scanTarHeaders,
  tarChecksumMatches,
  TarScanProblem,
  TAR_BLOCK_SIZE,
  type ScannedEntry,
} from './tar-scan.ts';

/** Options of {@link checkArchive}. */
export interface ArchiveCheckOptions {
  /** The `strip-components` the extraction will use. Default 1 (the fetch pipeline's default). */
  stripComponents?: number;
  /** Most entries. Default 2,000,000. */
  maxEntries?: number;
  /** Largest single entry. Default 16 GiB. */
  maxEntrySize?: number;
  /** Largest tar stream (the decompressed size). Default 64 GiB. */
  maxUnpackedSize?: number;
  /** Largest PAX or GNU long-name extension. Default 1 MiB. */
  maxExtensionSize?: number;
}

/** Compressions tk cannot decode on the host, and what is not an archive at all. */
export type UncheckedFormat = 'xz' | 'bzip2' | 'zstd' | 'lzip' | 'compress' | 'unknown';

/** The verdict on an archive: checked and safe (otherwise {@link checkArchive} throws), or not checked. */
export type ArchiveCheckResult =
  | {
      checked: true;
      format: 'tar' | 'tar+gzip';
      /** Entries read. */
      entries: number;
      /** Bytes of tar stream (the decompressed size). */
      unpackedSize: number;
    }
  | { checked: false; format: UncheckedFormat; reason: string };

const DEFAULTS = {
  maxEntries: 2_000_000,
  maxEntrySize: 16 * 1024 ** 3,
  maxUnpackedSize: 64 * 1024 ** 3,
  maxExtensionSize: 1 << 20,
} as const;

/** Magic numbers at the start of compressed files. */
const MAGIC: readonly { format: UncheckedFormat | 'gzip'; bytes: readonly number[] }[] = [
  { format: 'gzip', bytes: [0x1f, 0x8b] },
  { format: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { format: 'bzip2', bytes: [0x42, 0x5a, 0x68] },
  { format: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { format: 'lzip', bytes: [0x4c, 0x5a, 0x49, 0x50] },
  { format: 'compress', bytes: [0x1f, 0x9d] },
];
const USTAR_MAGIC_OFFSET = 257;

function detect(head: Uint8Array): UncheckedFormat | 'gzip' | 'tar' {
  for (const { format, bytes } of MAGIC) if (bytes.every((b, i) => head[i] === b)) return format;
  if (head.byteLength >= TAR_BLOCK_SIZE) {
    const block = head.subarray(0, TAR_BLOCK_SIZE);
    if (
      Buffer.from(block.subarray(USTAR_MAGIC_OFFSET, USTAR_MAGIC_OFFSET + 5)).toString('latin1') === 'ustar'
    )
      return 'tar';
    if (tarChecksumMatches(block) || block.every((b) => b === 0)) return 'tar'; // v7 header, or an empty archive
  }
  return 'unknown';
}

function unsafe(path: string, problem: string, data: Record<string, unknown>): MelangeError {
  return new MelangeError('MELANGE_SOURCE_UNSAFE', `source archive ${path}: ${problem}`, {
    hint:
      'the archive is corrupt or built to write outside its directory, so it was not extracted; check the source URI and ' +
      'its checksum with upstream (a corrupt cache entry can be deleted so that it is fetched again)',
    data: { path, ...data },
  });
}

/** GNU tar's `--strip-components`: leading `/`s skipped, components split at `/` runs, `.` counted. */
function stripComponents(name: string, n: number): string[] | undefined {
  const parts = name.replace(/^\/+/, '').split(/\/+/);
  if (parts.length <= n) return undefined;
  const rest = parts.slice(n).filter((p) => p !== '' && p !== '.');
  return rest.length === 0 ? undefined : rest;
}

/** Judges entries one by one; keeps the symlinks seen so far. */
class EntryJudge {
  private readonly symlinks = new Set<string>();
  private readonly path: string;
  private readonly strip: number;

  constructor(path: string, strip: number) {
    this.path = path;
    this.strip = strip;
  }

  private refuse(entry: ScannedEntry, problem: string): never {
    throw unsafe(this.path, `entry ${JSON.stringify(entry.name)} (at byte ${entry.offset}) ${problem}`, {
      entry: entry.name,
      offset: entry.offset,
    });
  }

  /** The first proper prefix of `parts` that is a symlink of the archive, if any. */
  private throughSymlink(parts: readonly string[]): string | undefined {
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (this.symlinks.has(prefix)) return prefix;
    }
    return undefined;
  }

  judge(entry: ScannedEntry): void {
    const { name } = entry;
    if (name === '') this.refuse(entry, 'has an empty name');
    if (name.includes('\0')) this.refuse(entry, 'has a NUL byte in its name');
    if (name.startsWith('/')) this.refuse(entry, 'has an absolute name');
    if (name.split('/').includes('..')) this.refuse(entry, 'has a ".." component');
    if (entry.type === 'char' || entry.type === 'block') this.refuse(entry, `is a ${entry.type} device node`);
    if (entry.type === 'fifo') this.refuse(entry, 'is a FIFO');

    const parts = stripComponents(name, this.strip);
    if (parts === undefined) return; // not extracted with this strip-components
    const path = parts.join('/');
    const via = this.throughSymlink(parts);
    if (via !== undefined) this.refuse(entry, `would be written through the symlink ${JSON.stringify(via)}`);
    if (entry.type === 'directory' && this.symlinks.has(path))
      this.refuse(entry, `is a directory where the archive made a symlink ${JSON.stringify(path)}`);

    if (entry.type === 'hardlink') {
      const target = entry.linkname;
      if (target === '' || target.includes('\0')) this.refuse(entry, 'is a hard link without a valid target');
      if (target.startsWith('/'))
        this.refuse(entry, `is a hard link to the absolute path ${JSON.stringify(target)}`);
      if (target.split('/').includes('..'))
        this.refuse(entry, `is a hard link to ${JSON.stringify(target)}, outside the directory`);
      const targetParts = stripComponents(target, this.strip);
      // GNU tar strips link targets too, and skips a link whose target has too few components.
      if (targetParts === undefined) return;
      const targetVia = this.throughSymlink(targetParts);
      if (targetVia !== undefined)
        this.refuse(
          entry,
          `is a hard link to ${JSON.stringify(target)}, through the symlink ${JSON.stringify(targetVia)}`,
        );
    } else if (entry.type === 'symlink') {
      const target = entry.linkname;
      if (target === '' || target.includes('\0')) this.refuse(entry, 'is a symlink without a valid target');
      if (!target.startsWith('/')) {
        if (!linkStaysInside(path, target))
          this.refuse(entry, `is a symlink to ${JSON.stringify(target)}, outside the extraction directory`);
        // Resolving `..` after a symlink of the archive follows that symlink: refuse rather than guess.
        const walked: string[] = parts.slice(0, -1);
        for (const part of target.split('/')) {
          if (part === '' || part === '.') continue;
          if (part === '..') {
            const here = walked.join('/');
            if (this.symlinks.has(here))
              this.refuse(
                entry,
                `is a symlink to ${JSON.stringify(target)}, which climbs out of the symlink ${JSON.stringify(here)}`,
              );
            walked.pop();
          } else walked.push(part);
        }
      }
      this.symlinks.add(path);
    }
  }
}

async function readHead(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const head = new Uint8Array(TAR_BLOCK_SIZE);
    const { bytesRead } = await handle.read(head, 0, TAR_BLOCK_SIZE, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Check a source archive before it is extracted: every entry header is read and judged (see the module
 * comment for the rules). Gzip is decompressed as a stream; the archive is never held in memory.
 *
 * @param path - the archive on the host (a cache entry)
 * @param options - the extraction's strip-components, and limits
 * @returns `{ checked: true, … }` for a safe tar or tar.gz archive; `{ checked: false, reason }` for xz,
 *   bzip2, zstd, lzip, compress and non-archives (GNU tar's own checks then apply)
 * @throws {MelangeError} MELANGE_SOURCE_UNSAFE naming the entry (or the byte offset) at fault
 * @example
 * const verdict = await checkArchive('/cache/sha256:ab12…', { stripComponents: 1 });
 * if (!verdict.checked) logger.info(verdict.reason);
 */
export async function checkArchive(
  path: string,
  options: ArchiveCheckOptions = {},
): Promise<ArchiveCheckResult> {
  const strip = options.stripComponents ?? 1;
  if (!Number.isSafeInteger(strip) || strip < 0)
    throw new MelangeError(
      'MELANGE_SOURCE_BAD_INPUT',
      `strip-components must be a non-negative integer, got ${String(strip)}`,
      {
        hint: 'set strip-components to 0, 1, 2…',
      },
    );
  const format = detect(await readHead(path));
  if (format !== 'tar' && format !== 'gzip') {
    const reason =
      format === 'unknown'
        ? `${path} is not a tar, gzip, xz, bzip2, zstd or lzip archive; tar will refuse it`
        : `${path} is ${format}-compressed, which tk cannot decode on the host: GNU tar's own checks apply (it refuses members with "..", strips leading "/")`;
    return { checked: false, format, reason };
  }

  const limits = {
    maxEntries: options.maxEntries ?? DEFAULTS.maxEntries,
    maxEntrySize: options.maxEntrySize ?? DEFAULTS.maxEntrySize,
    maxStreamSize: options.maxUnpackedSize ?? DEFAULTS.maxUnpackedSize,
    maxExtensionSize: options.maxExtensionSize ?? DEFAULTS.maxExtensionSize,
  };
  const input = createReadStream(path, { highWaterMark: 64 * 1024 });
  const gunzip = format === 'gzip' ? createGunzip() : undefined;
  if (gunzip !== undefined) {
    input.on('error', (error) => gunzip.destroy(error));
    input.pipe(gunzip);
  }
  let unpackedSize = 0;
  async function* counted(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      unpackedSize += chunk.byteLength;
      yield chunk;
    }
  }
  const judge = new EntryJudge(path, strip);
  let entries = 0;
  try {
    for await (const entry of scanTarHeaders(counted(gunzip ?? input), limits)) {
      entries++;
      judge.judge(entry);
    }
  } catch (error) {
    if (error instanceof MelangeError) throw error;
    if (error instanceof TarScanProblem)
      throw unsafe(path, `${error.message} (tar stream byte ${error.offset})`, { offset: error.offset });
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_'))
      throw unsafe(path, `corrupt gzip data (${(error as Error).message})`, { zlib: code });
    throw error;
  } finally {
    input.destroy();
    gunzip?.destroy();
  }
  return { checked: true, format: format === 'gzip' ? 'tar+gzip' : 'tar', entries, unpackedSize };
}

/**
 * The guest cache: pristine guest roots, kept under the apk cache folder and keyed by their content, so
 * that a build whose environment resolves to the same packages skips fetching, unpacking and writing them
 * and only copies a folder.
 *
 * Layout:
 *
 *     <cacheDir>/guests/<key>/root/        the guest, exactly as assembled (never handed to a sandbox)
 *     <cacheDir>/guests/<key>/guest.json   { format, key, arch, packages, world, users, groups, sourceDateEpoch }
 *
 * The key is the sha256 of everything that decides the tree's content: the arch, whether owners were
 * applied (root), each resolved package's name, version and identity checksum (`C:`), the world, the
 * repository lines and keys written into /etc/apk, accounts, paths, certificates and the service bundle.
 * The source date epoch is left out on purpose: it only dates the few entries the assembly itself creates
 * (skeleton folders, account files, applet links), nothing of the guest ends up in a package, and leaving
 * it out lets every build of the same environment share one entry. The guest then carries the epoch of the
 * build that first assembled it (recorded in guest.json).
 *
 * An entry appears by renaming a complete staging folder into place, so a reader never sees half of one;
 * two builds that assemble the same guest at once both succeed and one entry is kept. The folder is
 * created 0700. Its trust is the trust of the cache folder itself: what can write there can change what
 * the next build runs, exactly as with the download cache of unpacked sources; the packages it came from
 * were verified when it was assembled.
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex, utf8, type Logger } from '@tk/core';
import type { GuestPackage } from './types.ts';

/** Bumped whenever the layout of a cached guest or the meaning of the key changes. */
export const GUEST_CACHE_FORMAT = 1;

/** The largest guest.json read. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

const KEY = /^[0-9a-f]{64}$/;

/** What decides a guest's content. Values must be JSON (no undefined inside arrays). */
export interface GuestKeyInput {
  arch: string;
  owners: boolean;
  packages: readonly { name: string; version: string; checksum: string; pin?: string }[];
  world: readonly string[];
  /** Everything else that shapes the tree (repository lines, keys, accounts, paths, …). */
  config: unknown;
}

/** What guest.json holds. */
export interface GuestRecord {
  format: number;
  key: string;
  arch: string;
  packages: GuestPackage[];
  world: string[];
  users: [number, string][];
  groups: [number, string][];
  sourceDateEpoch: number;
}

/** JSON with object keys sorted at every level, `undefined` members dropped: a stable text to hash. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * The cache key of a guest.
 *
 * @param input - what decides the guest's content
 * @returns 64 hex digits
 */
export function guestKey(input: GuestKeyInput): string {
  return sha256Hex(utf8(stableJson({ format: GUEST_CACHE_FORMAT, ...input })));
}

/** The folder of cached guests. */
export function guestCacheRoot(cacheDir: string): string {
  return join(cacheDir, 'guests');
}

function isRecord(value: unknown, key: string): value is GuestRecord {
  if (value === null || typeof value !== 'object') return false;
  const r = value as Record<string, unknown>;
  const pairs = (v: unknown): boolean =>
    Array.isArray(v) &&
    v.every(
      (p) =>
        Array.isArray(p) &&
        p.length === 2 &&
        Number.isSafeInteger(p[0]) &&
        (p[0] as number) >= 0 &&
        typeof p[1] === 'string',
    );
  return (
    r['format'] === GUEST_CACHE_FORMAT &&
    r['key'] === key &&
    typeof r['arch'] === 'string' &&
    Array.isArray(r['packages']) &&
    r['packages'].every(
      (p: unknown) =>
        p !== null &&
        typeof p === 'object' &&
        typeof (p as Record<string, unknown>)['name'] === 'string' &&
        typeof (p as Record<string, unknown>)['version'] === 'string' &&
        typeof (p as Record<string, unknown>)['repository'] === 'string',
    ) &&
    Array.isArray(r['world']) &&
    r['world'].every((w: unknown) => typeof w === 'string') &&
    pairs(r['users']) &&
    pairs(r['groups']) &&
    Number.isSafeInteger(r['sourceDateEpoch'])
  );
}

/**
 * Find a cached guest. An entry whose record is unreadable or does not match its key is removed (with a
 * warning) and reported as a miss.
 *
 * @param cacheDir - the apk cache folder
 * @param key - from {@link guestKey}
 * @param logger - for the warning
 * @returns the root folder and the record, or undefined
 */
export async function readCachedGuest(
  cacheDir: string,
  key: string,
  logger: Logger,
): Promise<{ root: string; record: GuestRecord } | undefined> {
  if (!KEY.test(key)) return undefined;
  const entry = join(guestCacheRoot(cacheDir), key);
  const root = join(entry, 'root');
  let text: string;
  try {
    const st = await stat(join(entry, 'guest.json'));
    if (!st.isFile() || st.size > MAX_RECORD_BYTES) throw new Error('not a small file');
    text = await readFile(join(entry, 'guest.json'), 'utf8');
    if (!(await stat(root)).isDirectory()) throw new Error('no root folder');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT' && !(await exists(entry))) return undefined;
    return discard(entry, `${(error as Error).message}`, logger);
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return discard(entry, 'guest.json is not JSON', logger);
  }
  if (!isRecord(record, key)) return discard(entry, 'guest.json does not describe this guest', logger);
  return { root, record };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function discard(entry: string, why: string, logger: Logger): Promise<undefined> {
  logger.warn(`removing the damaged cached guest ${entry}: ${why}`, 'MELANGE_GUEST_CACHE_DAMAGED');
  await rm(entry, { recursive: true, force: true });
  return undefined;
}

/**
 * Store a guest: `writeRoot` fills a staging folder, which is then renamed into place. When another build
 * stored the same key first, its entry is kept and this one dropped.
 *
 * @param cacheDir - the apk cache folder
 * @param record - the guest's record (its key names the entry)
 * @param writeRoot - writes the root into the (missing) folder it is given
 * @returns the root folder of the entry
 */
export async function storeGuest(
  cacheDir: string,
  record: GuestRecord,
  writeRoot: (root: string) => Promise<void>,
): Promise<string> {
  if (!KEY.test(record.key)) throw new Error(`bad guest key ${record.key}`);
  const base = guestCacheRoot(cacheDir);
  await mkdir(base, { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(join(base, `.${record.key.slice(0, 16)}-`));
  const entry = join(base, record.key);
  try {
    await writeRoot(join(staging, 'root'));
    await writeFile(join(staging, 'guest.json'), `${JSON.stringify(record)}\n`, { mode: 0o600 });
    try {
      await rename(staging, entry);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      // Another build stored the same guest first: keep theirs.
      await rm(staging, { recursive: true, force: true });
    }
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return join(entry, 'root');
}

/**
 * Lending the bind-mounted folders (workspace, cache) to the build user of a container, and taking them back.
 *
 * bubblewrap, run as root, maps the build user (uid 1000 inside) to the invoking user outside: files the
 * invoking user owns look like the build user's inside, and what the build writes is the invoking user's
 * outside. A rootful podman or docker container has no such mapping (uid 1000 inside IS uid 1000 outside),
 * and podman 4.3's `--uidmap` cannot run here (containers/storage's idmapped overlay layers fail with EACCES
 * on this kernel). Measured: a file the build user writes in the bind-mounted workspace is owned by 1000:1000
 * on the host, and the build user cannot write the workspace at all (it is root's, mode 0755).
 *
 * So the container runner does the mapping by hand, on the host, around the pod's life:
 *
 * - before the container starts, every entry owned by the invoking user becomes the build user's;
 * - after the container is removed, every entry owned by the build user becomes the invoking user's again,
 *   except those that were the build user's before the lending (they were not lent).
 *
 * Owners and groups are mapped separately (uid → uid, gid → gid). `chown` clears the setuid and setgid bits of
 * a regular file, so each file that had them gets its mode back right after (melange loses modes and owners
 * in its docker runner: #2103, #1395). Symlinks are changed themselves, never followed; the walk stays on the
 * folder's file system.
 *
 * Two pods of one process that share a folder (a cache, when arches build in parallel) share the lending: the
 * first one lends, the last one to close takes it back. Builds in different processes that share a cache
 * with the container runner can see each other's lending; give them separate caches.
 */
import type { BigIntStats } from 'node:fs';
import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MelangeError } from '../errors.ts';

/** A uid and a gid. */
export interface Ids {
  uid: number;
  gid: number;
}

/** Entries changed at once. */
const CHOWN_CONCURRENCY = 16;
const SETID_BITS = 0o6000n;

interface Lending {
  count: number;
  /** dev:ino of the entries whose uid (`u`) or gid (`g`) already was the build user's before the lending. */
  preexisting: Map<string, 'u' | 'g' | 'ug'>;
  /** Serialises lend and return of this folder. */
  queue: Promise<unknown>;
}

const lendings = new Map<string, Lending>();

function keyOf(dir: string, host: Ids, build: Ids): string {
  return `${dir}\0${host.uid}:${host.gid}\0${build.uid}:${build.gid}`;
}

function chownFailed(path: string, error: unknown): MelangeError {
  const code = (error as { code?: string }).code;
  return new MelangeError(
    'MELANGE_RUNNER_FAILED',
    `cannot change the owner of ${path}${code === undefined ? '' : ` (${code})`} for the container's build user`,
    {
      hint: 'the container runner needs tk to run as root to hand the workspace and cache to the build user; run tk as root, or use --runner bubblewrap',
      cause: error,
      data: { path },
    },
  );
}

/** Every entry under `root` (root included) with its stats, not crossing into other file systems. */
async function* walk(root: string): AsyncGenerator<{ path: string; stats: BigIntStats }> {
  let top: BigIntStats;
  try {
    top = await lstat(root, { bigint: true });
  } catch (error) {
    throw chownFailed(root, error);
  }
  yield { path: root, stats: top };
  if (!top.isDirectory()) return;
  const dirs = [root];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') continue;
      throw chownFailed(dir, error);
    }
    const stats = await Promise.all(
      names.map((n) => lstat(join(dir, n), { bigint: true }).catch(() => undefined)),
    );
    for (let i = 0; i < names.length; i++) {
      const st = stats[i];
      if (st === undefined) continue;
      const path = join(dir, names[i]!);
      yield { path, stats: st };
      if (st.isDirectory() && st.dev === top.dev) dirs.push(path);
    }
  }
}

async function changeOwner(path: string, stats: BigIntStats, uid: number, gid: number): Promise<void> {
  try {
    await lchown(path, uid, gid);
    // chown drops setuid/setgid on regular files (even as root); put the mode back as it was.
    if (stats.isFile() && (stats.mode & SETID_BITS) !== 0n) await chmod(path, Number(stats.mode & 0o7777n));
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return;
    throw chownFailed(path, error);
  }
}

async function remap(
  root: string,
  decide: (path: string, stats: BigIntStats) => { uid: number; gid: number } | undefined,
): Promise<number> {
  let changed = 0;
  const running = new Set<Promise<void>>();
  let failure: Error | undefined;
  for await (const { path, stats } of walk(root)) {
    const to = decide(path, stats);
    if (to === undefined) continue;
    changed++;
    const p = changeOwner(path, stats, to.uid, to.gid).catch((error: unknown) => {
      failure ??= error instanceof Error ? error : new Error(String(error));
    });
    running.add(p);
    void p.finally(() => running.delete(p));
    if (running.size >= CHOWN_CONCURRENCY) await Promise.race(running);
    if (failure !== undefined) break;
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
  return changed;
}

/** The owner an entry gets back: the build user's ids become the host user's, except pre-existing ones. */
function giveBack(
  l: Lending,
  host: Ids,
  build: Ids,
): (path: string, st: BigIntStats) => { uid: number; gid: number } | undefined {
  return (_path, st) => {
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    const mark = l.preexisting.get(`${st.dev}:${st.ino}`) ?? '';
    const to = {
      uid: uid === build.uid && !mark.includes('u') ? host.uid : uid,
      gid: gid === build.gid && !mark.includes('g') ? host.gid : gid,
    };
    return to.uid === uid && to.gid === gid ? undefined : to;
  };
}

/**
 * Lend a folder to the build user: entries of the host user become the build user's.
 *
 * @param dir - the host folder (workspace or cache)
 * @param host - the invoking user (who owns the folder outside)
 * @param build - the container's build user
 * @returns the number of entries changed (0 when another pod of this process already lent it)
 * @throws {MelangeError} MELANGE_RUNNER_FAILED when an owner cannot be changed (tk is not root); what was
 *   lent before the failure is given back first
 */
export async function lendFolder(dir: string, host: Ids, build: Ids): Promise<number> {
  const key = keyOf(dir, host, build);
  let lending = lendings.get(key);
  if (lending === undefined) {
    lending = { count: 0, preexisting: new Map(), queue: Promise.resolve() };
    lendings.set(key, lending);
  }
  const l = lending;
  const step = l.queue.then(async () => {
    l.count++;
    if (l.count > 1) return 0;
    l.preexisting.clear();
    try {
      return await remap(dir, (_path, st) => {
        const uid = Number(st.uid);
        const gid = Number(st.gid);
        const mark = `${uid === build.uid ? 'u' : ''}${gid === build.gid ? 'g' : ''}`;
        if (mark !== '') l.preexisting.set(`${st.dev}:${st.ino}`, mark as 'u' | 'g' | 'ug');
        const to = { uid: uid === host.uid ? build.uid : uid, gid: gid === host.gid ? build.gid : gid };
        return to.uid === uid && to.gid === gid ? undefined : to;
      });
    } catch (error) {
      // Undo what was lent before the failure; the entry that failed keeps its owner.
      l.count--;
      await remap(dir, giveBack(l, host, build)).catch(() => undefined);
      throw error;
    }
  });
  l.queue = step.catch(() => undefined);
  return step;
}

/**
 * Take a lent folder back: entries of the build user become the host user's again (except those that were
 * the build user's before it was lent). Only the last pod of this process that lent the folder does this.
 *
 * @param dir - the folder given to {@link lendFolder}
 * @param host - the invoking user
 * @param build - the build user
 * @returns the number of entries changed
 * @throws {MelangeError} MELANGE_RUNNER_FAILED when an owner cannot be changed
 */
export async function returnFolder(dir: string, host: Ids, build: Ids): Promise<number> {
  const key = keyOf(dir, host, build);
  const l = lendings.get(key);
  if (l === undefined) return 0;
  const step = l.queue.then(async () => {
    if (l.count === 0) return 0;
    l.count--;
    if (l.count > 0) return 0;
    try {
      await lstat(dir);
    } catch {
      return 0;
    }
    return remap(dir, giveBack(l, host, build));
  });
  l.queue = step.catch(() => undefined);
  return step;
}

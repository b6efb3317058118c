/**
 * The lock that serialises updates of one arch's `APKINDEX.tar.gz`: a file `<archDir>/.APKINDEX.lock` that
 * exists while a process holds the lock and says who: `<pid> <hostname> <unix ms>\n`.
 *
 * - Taking it is atomic and never shows a half-written file: the content goes to a private temporary file
 *   first, which is then hard-linked to the lock name (`link` fails with EEXIST when the lock exists, like
 *   `O_CREAT|O_EXCL`). Filesystems without hard links get `open(O_CREAT|O_EXCL)` and a write instead.
 * - A held lock is waited for with exponential backoff (10 ms doubling to 250 ms), up to a bounded time
 *   (default 2 minutes): then `MELANGE_INDEX_LOCK_TIMEOUT`, naming the holder.
 * - A lock whose holder is on this host and no longer runs (`kill(pid, 0)` gives ESRCH) is stale and taken
 *   over. Two waiters may find the same stale lock: the takeover itself runs under a second, short-lived lock
 *   (`.APKINDEX.lock.takeover`), and the stale lock is removed only if it still holds the same content, so a
 *   fresh lock taken meanwhile is never removed. A lock held on another host cannot be checked and is waited for.
 * - Releasing removes the lock only if it is still ours.
 *
 * Library code takes the process identity (pid, hostname, liveness check, clocks) as options. When they are
 * left out, {@link processLockIdentity} supplies this process's: that is the one place the package reads
 * process globals and the clock, on purpose, since a lock is about the running process.
 */
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MelangeError } from '../errors.ts';

/** The lock file's name inside an arch directory. */
export const INDEX_LOCK_NAME = '.APKINDEX.lock';
const TAKEOVER_SUFFIX = '.takeover';
const FIRST_DELAY_MS = 10;
const MAX_DELAY_MS = 250;
/** Default longest wait for the lock. */
export const DEFAULT_LOCK_TIMEOUT_MS = 120_000;

/** Who is taking the lock, and how to tell whether another holder still runs. */
export interface LockIdentity {
  pid: number;
  hostname: string;
  /** Whether a process of this host with that pid runs. */
  isAlive: (pid: number) => boolean;
  /** Wall-clock milliseconds, written into the lock for people reading it. */
  clock: () => number;
  /** A monotonic millisecond counter for the wait's time limit. */
  monotonic: () => number;
}

/** Options of {@link acquireIndexLock}. */
export interface IndexLockOptions extends Partial<LockIdentity> {
  /** Longest wait for a held lock, in milliseconds. Default 2 minutes. */
  timeoutMs?: number;
  /** How to wait between attempts (tests use a fake). Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Called once per wait with the holder, for progress messages. */
  onWait?: (holder: string) => void;
}

/** A held lock. */
export interface IndexLock {
  /** Path of the lock file. */
  path: string;
  /** Remove the lock (if it is still ours). */
  release(): Promise<void>;
}

/**
 * This process's identity for locks: `process.pid`, the host name, `kill(pid, 0)` as the liveness check,
 * `Date.now()` and `performance.now()`. The CLI passes it; {@link acquireIndexLock} uses it when given nothing.
 *
 * @returns the identity of the running process
 */
export function processLockIdentity(): LockIdentity {
  return {
    pid: process.pid,
    hostname: osHostname(),
    isAlive(pid: number): boolean {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        // EPERM: the process exists but belongs to someone else.
        return (error as { code?: string }).code !== 'ESRCH';
      }
    },
    // The lock records when it was taken, for a person reading it; nothing is decided on this time.
    // eslint-disable-next-line no-restricted-syntax
    clock: () => Date.now(),
    monotonic: () => performance.now(),
  };
}

interface Holder {
  pid: number;
  hostname: string;
  time: number;
}

function parseHolder(text: string): Holder | undefined {
  const m = /^([0-9]{1,10}) (\S{1,255}) ([0-9]{1,16})\n?$/.exec(text);
  return m === null ? undefined : { pid: Number(m[1]), hostname: m[2]!, time: Number(m[3]) };
}

function describe(text: string): string {
  const h = parseHolder(text);
  return h === undefined
    ? `unreadable content ${JSON.stringify(text.slice(0, 80))}`
    : `pid ${h.pid} on ${h.hostname}`;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Create `path` holding `content`, atomically; false when it exists already. */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    await rm(temp, { force: true });
  }
  // No hard links here: O_EXCL create, then write (a reader may briefly see it empty and waits).
  try {
    const handle = await open(path, 'wx', 0o644);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Take the index lock of an arch directory, waiting while another live process holds it.
 *
 * @param archDir - the directory that holds `APKINDEX.tar.gz`
 * @param options - identity, time limit, sleep function
 * @returns the held lock
 * @throws {MelangeError} MELANGE_INDEX_LOCK_TIMEOUT when the lock stays held past the time limit
 */
export async function acquireIndexLock(archDir: string, options: IndexLockOptions = {}): Promise<IndexLock> {
  const fallback =
    options.pid === undefined ||
    options.hostname === undefined ||
    options.isAlive === undefined ||
    options.clock === undefined ||
    options.monotonic === undefined
      ? processLockIdentity()
      : undefined;
  const id: LockIdentity = {
    pid: options.pid ?? fallback!.pid,
    hostname: options.hostname ?? fallback!.hostname,
    isAlive: options.isAlive ?? fallback!.isAlive,
    clock: options.clock ?? fallback!.clock,
    monotonic: options.monotonic ?? fallback!.monotonic,
  };
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const path = join(archDir, INDEX_LOCK_NAME);
  const mine = `${id.pid} ${id.hostname} ${Math.floor(id.clock())}\n`;
  const isStale = (text: string): boolean => {
    const holder = parseHolder(text);
    return holder !== undefined && holder.hostname === id.hostname && !id.isAlive(holder.pid);
  };
  const start = id.monotonic();
  let delay = FIRST_DELAY_MS;
  let announced = false;
  for (;;) {
    const current = await readText(path);
    if (current === undefined) {
      if (await createExclusive(path, mine)) {
        return {
          path,
          release: async () => {
            if ((await readText(path)) === mine) await rm(path, { force: true });
          },
        };
      }
      continue; // taken between the read and our attempt: look at the new holder
    }
    if (isStale(current)) {
      if (!(await takeOver(path, current, mine, isStale))) await sleep(FIRST_DELAY_MS);
      continue;
    }
    if (!announced) {
      options.onWait?.(describe(current));
      announced = true;
    }
    if (id.monotonic() - start >= timeoutMs) {
      throw new MelangeError(
        'MELANGE_INDEX_LOCK_TIMEOUT',
        `${path} is held by ${describe(current)}; gave up after ${Math.round(timeoutMs / 1000)} s`,
        {
          hint: `wait for the other build to finish; if no tk process runs on ${parseHolder(current)?.hostname ?? 'any host'}, delete ${path}`,
          data: { path, holder: current },
        },
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  }
}

/** Remove a stale lock under the takeover lock, only if it still holds what we judged stale. */
async function takeOver(
  path: string,
  staleContent: string,
  mine: string,
  isStale: (text: string) => boolean,
): Promise<boolean> {
  const guard = `${path}${TAKEOVER_SUFFIX}`;
  if (!(await createExclusive(guard, mine))) {
    // Someone else is taking over; if they died doing it, clear their guard so the next round can.
    const other = await readText(guard);
    if (other !== undefined && isStale(other)) await rm(guard, { force: true });
    return false;
  }
  try {
    if ((await readText(path)) === staleContent) await rm(path, { force: true });
    return true;
  } finally {
    await rm(guard, { force: true });
  }
}

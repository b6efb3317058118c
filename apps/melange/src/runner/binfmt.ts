/**
 * Foreign-arch guests (an aarch64 build on an x86_64 host). Nothing special happens in the sandbox: the
 * kernel's binfmt_misc hands every foreign ELF to qemu-user. That only works inside a sandbox whose root is
 * the guest when the entry has the F ("fix binary") flag: the kernel then opens the interpreter when the
 * entry is registered, in the host's mount namespace, instead of looking for `/usr/libexec/qemu-binfmt/…`
 * inside the guest at every exec. Debian's `qemu-user-static` registers its entries with F.
 *
 * An entry (`/proc/sys/fs/binfmt_misc/qemu-aarch64`) reads:
 *
 *     enabled
 *     interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
 *     flags: POF
 *     offset 0
 *     magic 7f454c46…
 *     mask ffffffff…
 */
import { readFile as fsReadFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MelangeError } from '../errors.ts';

/** Where binfmt_misc is mounted. */
export const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** The largest entry file read (a real one is about 200 bytes). */
const MAX_ENTRY_BYTES = 4096;

/** What an entry says. */
export interface BinfmtEntry {
  enabled: boolean;
  interpreter?: string;
  /** The flag letters (`POF`). */
  flags: string;
}

const NODE_TO_APK: Readonly<Record<string, string>> = {
  x64: 'x86_64',
  arm64: 'aarch64',
  ia32: 'x86',
  arm: 'armv7',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
};

const APK_TO_QEMU: Readonly<Record<string, string>> = {
  x86_64: 'x86_64',
  aarch64: 'aarch64',
  x86: 'i386',
  armv7: 'arm',
  armhf: 'arm',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loongarch64: 'loongarch64',
};

/** Guest arches a host runs without emulation (32-bit compat modes of the kernel). */
const NATIVE_COMPAT: Readonly<Record<string, readonly string[]>> = {
  x86_64: ['x86'],
  aarch64: ['armv7', 'armhf'],
};

/**
 * The apk arch of a Node `process.arch` value, or an apk arch as it is.
 *
 * @param arch - `x64`, `arm64`, … or `x86_64`, `aarch64`, …
 * @returns the apk arch, or undefined for an arch tk does not know
 */
export function toHostApkArch(arch: string): string | undefined {
  if (Object.hasOwn(NODE_TO_APK, arch)) return NODE_TO_APK[arch];
  return Object.hasOwn(APK_TO_QEMU, arch) ? arch : undefined;
}

/**
 * The qemu name of an apk arch (`armv7` → `arm`, `x86` → `i386`).
 *
 * @param arch - an apk arch
 * @returns the qemu-user suffix, or undefined when qemu has none for it
 */
export function qemuArchName(arch: string): string | undefined {
  return Object.hasOwn(APK_TO_QEMU, arch) ? APK_TO_QEMU[arch] : undefined;
}

/**
 * Whether a host runs a guest arch without emulation.
 *
 * @param guest - the guest's apk arch
 * @param host - the host's apk arch
 * @returns true for the same arch or a 32-bit compat arch of the host
 */
export function runsNatively(guest: string, host: string): boolean {
  return guest === host || (NATIVE_COMPAT[host]?.includes(guest) ?? false);
}

/**
 * Parse a binfmt_misc entry file. Unknown lines are ignored; the text is untrusted only in the sense that
 * a non-Linux or odd kernel may write something else, which then reads as "not enabled".
 *
 * @param text - the file's text
 * @returns the entry
 */
export function parseBinfmtEntry(text: string): BinfmtEntry {
  const lines = text.slice(0, MAX_ENTRY_BYTES).split('\n');
  const entry: BinfmtEntry = { enabled: lines[0]?.trim() === 'enabled', flags: '' };
  for (const line of lines.slice(1)) {
    const interp = /^interpreter (\S.*)$/.exec(line);
    if (interp?.[1] !== undefined) entry.interpreter = interp[1];
    const flags = /^flags: ?([A-Z]*)\s*$/.exec(line);
    if (flags?.[1] !== undefined) entry.flags = flags[1];
  }
  return entry;
}

/** Options of {@link checkEmulation}. */
export interface EmulationCheck {
  /** The guest's apk arch. */
  guestArch: string;
  /** The host's apk arch (or Node arch name). */
  hostArch: string;
  /** Where binfmt_misc is mounted (default {@link BINFMT_DIR}). */
  binfmtDir?: string;
  /** Reads a file (tests inject one). */
  readFile?: (path: string) => Promise<string>;
}

async function readSmall(path: string): Promise<string> {
  const bytes = await fsReadFile(path);
  return bytes.subarray(0, MAX_ENTRY_BYTES).toString('utf8');
}

function enableHint(qemu: string, dir: string): string {
  return (
    `install qemu-user-static (apt-get install qemu-user-static), which registers qemu-${qemu} with the F flag; ` +
    `if ${dir} is empty, mount it first (mount -t binfmt_misc binfmt_misc ${dir}) and register again ` +
    `(systemctl restart systemd-binfmt, or echo the line of /usr/lib/binfmt.d/qemu-${qemu}.conf into ${dir}/register)`
  );
}

/**
 * Check that guests of an arch can run here: natively, or through an enabled qemu-user binfmt entry with
 * the F flag.
 *
 * @param check - guest and host arch, binfmt folder
 * @returns `native` or `emulated`
 * @throws {MelangeError} MELANGE_RUNNER_NO_EMULATION, with a hint on how to enable emulation
 */
export async function checkEmulation(check: EmulationCheck): Promise<'native' | 'emulated'> {
  const host = toHostApkArch(check.hostArch) ?? check.hostArch;
  const guest = check.guestArch;
  if (runsNatively(guest, host)) return 'native';
  const dir = check.binfmtDir ?? BINFMT_DIR;
  const read = check.readFile ?? readSmall;
  const qemu = qemuArchName(guest);
  const fail = (what: string, hint: string, cause?: unknown): never => {
    throw new MelangeError(
      'MELANGE_RUNNER_NO_EMULATION',
      `cannot run ${guest} guests on this ${host} host: ${what}`,
      {
        hint,
        data: { guestArch: guest, hostArch: host },
        ...(cause === undefined ? {} : { cause }),
      },
    );
  };
  if (qemu === undefined) {
    return fail(`qemu-user has no emulator for ${guest}`, `build ${guest} on a ${guest} machine`);
  }
  const path = join(dir, `qemu-${qemu}`);
  let status: string;
  try {
    status = await read(join(dir, 'status'));
  } catch (error) {
    return fail(`binfmt_misc is not mounted at ${dir}`, enableHint(qemu, dir), error);
  }
  if (status.trim() !== 'enabled') {
    return fail(
      `binfmt_misc is disabled (${join(dir, 'status')} says ${JSON.stringify(status.trim().slice(0, 40))})`,
      `echo 1 > ${join(dir, 'status')}`,
    );
  }
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    return fail(
      `${path} does not exist (no qemu-${qemu} emulator is registered)`,
      enableHint(qemu, dir),
      error,
    );
  }
  const entry = parseBinfmtEntry(text);
  if (!entry.enabled) return fail(`${path} is disabled`, `echo 1 > ${path}`);
  if (!entry.flags.includes('F')) {
    return fail(
      `${path} is registered without the F flag (flags: ${entry.flags || 'none'}), so the emulator cannot be found inside the sandbox`,
      `re-register it with the F flag: echo -1 > ${path}, then register the line of /usr/lib/binfmt.d/qemu-${qemu}.conf (qemu-user-static's entries have F)`,
    );
  }
  return 'emulated';
}

/**
 * Linux capabilities of a sandbox. melange gives a build that runs as root Docker's default set (moby
 * `oci/caps/defaults.go`, 14 capabilities), then applies the recipe's `capabilities.add` and `drop`.
 * Names are checked here against the kernel's list (linux/capability.h, 41 names up to CAP_CHECKPOINT_RESTORE)
 * so that a typo is a coded error naming the recipe value, not a bwrap failure.
 */
import { MelangeError } from '../errors.ts';

/** Every capability the kernel defines, in the kernel's order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Docker's default capabilities, which melange gives a root build. */
export const DEFAULT_ROOT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const KNOWN = new Set(ALL_CAPABILITIES);

/**
 * Normalise a capability name as recipes write it (`CAP_NET_ADMIN`, `cap_net_admin`, `NET_ADMIN`).
 *
 * @param name - as written
 * @param where - the field, for messages (`capabilities.add`)
 * @returns the kernel name, or `ALL`
 * @throws {MelangeError} MELANGE_RUNNER_BAD_SPEC for an unknown name
 */
export function normalizeCapability(name: string, where: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!KNOWN.has(full)) {
    throw new MelangeError(
      'MELANGE_RUNNER_BAD_SPEC',
      `${where}: unknown capability ${JSON.stringify(name)}`,
      {
        hint: 'use a Linux capability name such as CAP_NET_ADMIN or CAP_SYS_PTRACE (see capabilities(7))',
        data: { capability: name },
      },
    );
  }
  return full;
}

/**
 * The capability set of a sandbox: the base set, plus `add`, minus `drop`. `ALL` in `add` means every
 * capability; `ALL` in `drop` empties the base set before `add` is applied (so `drop: [ALL], add: [X]`
 * gives X, as with Docker). A capability named in both lists is dropped.
 *
 * @param base - the runner's default set for this user
 * @param changes - the recipe's add and drop lists
 * @returns kernel names, in the kernel's order
 * @throws {MelangeError} MELANGE_RUNNER_BAD_SPEC for an unknown name
 */
export function resolveCapabilities(
  base: readonly string[],
  changes: { add: readonly string[]; drop: readonly string[] } | undefined,
): string[] {
  const add = (changes?.add ?? []).map((c) => normalizeCapability(c, 'capabilities.add'));
  const drop = (changes?.drop ?? []).map((c) => normalizeCapability(c, 'capabilities.drop'));
  const set = new Set(drop.includes('ALL') ? [] : base);
  for (const c of add) {
    if (c === 'ALL') for (const all of ALL_CAPABILITIES) set.add(all);
    else set.add(c);
  }
  for (const c of drop) set.delete(c);
  return ALL_CAPABILITIES.filter((c) => set.has(c));
}

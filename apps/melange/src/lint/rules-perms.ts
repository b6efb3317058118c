/**
 * Permission linters (melange `setuidgid.go`, `worldwrite.go`): regular files only.
 */
import type { LinterContext, LinterFailure } from './rule.ts';
import { plural } from './tree.ts';
import type { FilePermissionInfo } from './types.ts';

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;
const WORLD_WRITABLE = 0o002;
const ANY_EXECUTE = 0o111;

/** melange `setuidgid`: regular files with setuid, setgid or sticky bits. */
export const setuidgidLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const files: FilePermissionInfo[] = [];
  for (const e of ctx.entries) {
    if (!e.regular || (e.mode & (S_ISUID | S_ISGID | S_ISVTX)) === 0) continue;
    const permissions: string[] = [];
    if (e.mode & S_ISUID) permissions.push('setuid');
    if (e.mode & S_ISGID) permissions.push('setgid');
    if (e.mode & S_ISVTX) permissions.push('sticky');
    files.push({ path: e.path, mode: e.mode.toString(8), permissions });
  }
  if (files.length === 0) return undefined;
  return {
    message: `${ctx.pkg.name} contains ${files.length} ${plural(files.length, 'file', 'files')} with special permissions (setuid/setgid)`,
    details: { files },
  };
};

/** melange `worldwrite`: world-writable regular files. */
export const worldWriteLinter = (ctx: LinterContext): LinterFailure | undefined => {
  const files: FilePermissionInfo[] = [];
  for (const e of ctx.entries) {
    if (!e.regular || (e.mode & WORLD_WRITABLE) === 0) continue;
    const permissions = ['world-writable'];
    if (e.mode & ANY_EXECUTE) permissions.push('executable');
    files.push({ path: e.path, mode: e.mode.toString(8), permissions });
  }
  if (files.length === 0) return undefined;
  return {
    message: `${ctx.pkg.name} contains ${files.length} world-writeable ${plural(files.length, 'file', 'files')}`,
    details: { files },
  };
};

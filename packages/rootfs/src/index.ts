export { RootfsError } from './errors.ts';
export type { RootfsErrorCode } from './errors.ts';
export { FsTree, meta } from './tree.ts';
export type {
  FsNode,
  DirNode,
  FileNode,
  SymlinkNode,
  DeviceNode,
  FifoNode,
  NodeMeta,
  WalkEntry,
} from './tree.ts';
export { createInstallState, installPackage } from './install.ts';
export type { InstallPackage, InstalledPackage, InstallState } from './install.ts';
export {
  writeApkDatabase,
  serializeInstalledDb,
  serializeTriggers,
  buildScriptsTar,
  APK_DB_DIR,
} from './database.ts';
export type { ApkConfigFiles } from './database.ts';
export { createSkeleton, ensureDevices } from './skeleton.ts';
export type { SkeletonOptions } from './skeleton.ts';
export { materialize } from './materialize.ts';
export type { MaterializeOptions } from './materialize.ts';
export { applyAccounts, accountNames } from './accounts.ts';
export type { UserAccount, GroupAccount, AccountsOptions } from './accounts.ts';
export { applyPaths } from './paths.ts';
export type { PathMutation } from './paths.ts';
export { createBusyboxLinks } from './busybox.ts';
export { treeEntries } from './entries.ts';
export type { TreeEntry } from './entries.ts';

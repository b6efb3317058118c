export { apkCommand } from './cli/apk.ts';
export { verifyFiles, formatVerdict } from './commands/verify.ts';
export type { FileVerdict } from './commands/verify.ts';
export { formatPackageInfo, packageInfoJson } from './commands/info.ts';

export { apkCommand } from './cli/apk.ts';
export { verifyFiles, verifyFileBytes, formatVerdict } from './commands/verify.ts';
export type { FileVerdict } from './commands/verify.ts';
export { formatPackageInfo, packageInfoJson } from './commands/info.ts';

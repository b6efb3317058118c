export { melangeCommand } from './cli/melange.ts';
export { keygen } from './commands/keygen.ts';
export type { KeygenOptions } from './commands/keygen.ts';
export { indexPackages } from './commands/index-packages.ts';
export type { IndexPackagesOptions, IndexPackagesResult } from './commands/index-packages.ts';
export { signPackages, signIndex } from './commands/sign.ts';
export type { SignPackagesOptions, SignIndexOptions } from './commands/sign.ts';
export { MelangeError } from './errors.ts';
export type { MelangeErrorCode } from './errors.ts';

export { SolverError } from './errors.ts';
export type { SolverErrorCode } from './errors.ts';
export { solve, parseWorld, compareNamesForDisplay, DEFAULT_MAX_STEPS } from './solve.ts';
export type { WorldToken } from './solve.ts';
export { solveMultiArch } from './multi-arch.ts';
export type { ArchRepositories, MultiArchSolveRequest } from './multi-arch.ts';
export { createSyntheticIndex } from './synthetic.ts';
export type { SyntheticIndex, SyntheticIndexOptions } from './synthetic.ts';
export {
  parseLockFile,
  serializeLockFile,
  worldFromLock,
  installListFromLock,
  lockPackageFor,
  lockRepositoryFor,
  LOCK_VERSION,
  MAX_LOCK_FILE_BYTES,
} from './lock.ts';
export type {
  LockFile,
  LockConfig,
  LockContents,
  LockKeyring,
  LockRepository,
  LockPackage,
  LockRangeChecksum,
  LockSection,
  FetchedPackageInfo,
} from './lock.ts';
export type {
  SolverRepository,
  SolveRequest,
  ResolvedPackage,
  Solution,
  SolveStats,
  NameVersion,
} from './types.ts';

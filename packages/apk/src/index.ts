export { ApkError } from './errors.ts';
export type { ApkErrorCode } from './errors.ts';
export { parsePkgInfo, serializePkgInfo, emptyPkgInfo } from './pkginfo.ts';
export type { PkgInfo, ParsePkgInfoOptions } from './pkginfo.ts';
export { readApk, readApkAsync, identityChecksum, SCRIPT_NAMES, CHECKSUM_PAX_KEY } from './reader.ts';
export type { ApkPackage, ApkFile, ApkSignature, ByteRange, ReadApkOptions, ScriptName } from './reader.ts';
export { verifyApk, verifyParsedApk, apkToolsVerdict } from './verify.ts';
export type { ApkVerifyResult, VerifyStatus } from './verify.ts';
export { apkToolsVerify, apkToolsErrorText } from './apktools-verify.ts';
export type { ApkToolsVerdict, ApkToolsVerifyOptions } from './apktools-verify.ts';
export { buildApk, resignApk, buildSignatureMember, comparePaths } from './writer.ts';
export type { ApkBuildInput, ApkBuildResult, ApkInputFile, ApkSigner } from './writer.ts';
export {
  compareVersions,
  fuzzyMatchesVersion,
  versionMatches,
  isVersionOp,
  isValidVersion,
  parseVersion,
  VERSION_OPS,
} from './version.ts';
export type {
  VersionOp,
  VersionComparison,
  VersionDialect,
  VersionValidationOptions,
  ParsedVersion,
  VersionSuffix,
  VersionSuffixName,
} from './version.ts';
export {
  parseDependency,
  formatDependency,
  parseDependencyList,
  dependencyMatchesVersion,
  isDependencySatisfied,
  parseProvide,
  formatProvide,
  MAX_DEPENDENCY_TOKEN_LENGTH,
} from './dependency.ts';
export type { Dependency, Provide, DependencyCandidate, DependencyParseOptions } from './dependency.ts';

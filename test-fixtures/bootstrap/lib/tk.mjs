// The built workspace packages (run `pnpm build`, or `pnpm tsc -b`, from the repository root first).
export {
  buildApk,
  readApk,
  verifyApk,
  compareVersions,
  isValidVersion,
  versionMatches,
  emptyPkgInfo,
  parseDependency,
  parseProvide,
  comparePaths,
  isDependencySatisfied,
} from '../../../packages/apk/dist/index.js';
export {
  writeIndexArchive,
  readIndexArchive,
  verifyIndexArchive,
  indexEntryFromApk,
  mergeIndexEntries,
} from '../../../packages/repo/dist/index.js';
export {
  readPrivateKey,
  readPublicKey,
  createKeyring,
  signatureKeyName,
  generateKeyPair,
  writeKeyPair,
} from '../../../packages/keys/dist/index.js';
export {
  sha256Hex,
  toHex,
  digest,
  writeFileAtomic,
  stringifyCanonical,
} from '../../../packages/core/dist/index.js';
export { readTar, checkEntryPath, linkStaysInside } from '../../../packages/tar/dist/index.js';
export { closeGzipWorkers } from '../../../packages/gzip/dist/index.js';

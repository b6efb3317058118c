export { RepoError } from './errors.ts';
export type { RepoErrorCode } from './errors.ts';
export { parseIndexText, serializeIndexText } from './index-text.ts';
export { identityKey, identityHash } from './identity.ts';
export type { IndexEntry, ParseIndexOptions } from './index-text.ts';
export {
  parseIndexTable,
  IndexTable,
  hashName,
  hashProvideName,
  hashInstallIfName,
  nameHashesOf,
  type NameHashes,
} from './index-table.ts';
export {
  readIndexArchive,
  verifyIndexArchive,
  writeIndexArchive,
  signIndexArchive,
  DEFAULT_MAX_INDEX_BYTES,
} from './index-archive.ts';
export type {
  IndexArchive,
  IndexSignature,
  IndexVerifyResult,
  IndexSigner,
  ReadIndexOptions,
} from './index-archive.ts';
export { indexEntryFromApk, mergeIndexEntries } from './from-apk.ts';
export { parseRepository, indexUrl, packageUrl, redactUrl } from './repository.ts';
export type { RepositorySpec, ParseRepositoryOptions } from './repository.ts';
export { createHttpFetcher, createFileFetcher, parseHttpAuth } from './fetcher.ts';
export type {
  Fetcher,
  FetchOptions,
  ConditionalFetchOptions,
  ConditionalFetchResult,
  HttpAuth,
  HttpFetcherOptions,
} from './fetcher.ts';
export { createDiskCache, defaultCacheDir, verifyPackageBytes, verifyPackageBytesAsync } from './cache.ts';
export type {
  DiskCache,
  DiskCacheOptions,
  CacheEntry,
  CacheMetadata,
  ExpectedPackage,
  PackageCheckOptions,
  VerifiedPackage,
} from './cache.ts';
export { loadRepository, fetchPackage, loadKeys, DEFAULT_MAX_PACKAGE_BYTES } from './load.ts';
export type {
  LoadedRepository,
  LoadRepositoryOptions,
  FetchPackageOptions,
  FetchedPackage,
  LoadKeysOptions,
} from './load.ts';

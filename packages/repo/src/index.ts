export { RepoError } from './errors.ts';
export type { RepoErrorCode } from './errors.ts';
export { parseIndexText, serializeIndexText } from './index-text.ts';
export type { IndexEntry, ParseIndexOptions } from './index-text.ts';
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

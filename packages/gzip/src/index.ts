export { gzip, gzipSync, closeGzipWorkers, DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL } from './deflate.ts';
export type { GzipEngine, GzipOptions } from './deflate.ts';
export {
  splitGzipMembers,
  splitGzipMembersAsync,
  gunzip,
  gunzipMismatch,
  gunzipMismatchAsync,
  parseGzipHeader,
  DEFAULT_MAX_OUTPUT,
} from './inflate.ts';
export type { GzipHeader, GzipMember, GunzipOptions, GunzipMismatchOptions } from './inflate.ts';
export { GzipError } from './errors.ts';
export type { GzipErrorCode } from './errors.ts';

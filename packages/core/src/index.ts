export { TkError, InternalError, ExitError, isTkError, internalError } from './errors.ts';
export type { TkErrorOptions } from './errors.ts';
export { silentLogger, createRecordingLogger } from './logger.ts';
export type { Logger, ProgressEvent, RecordingLogger } from './logger.ts';
export { stringifyCanonical, sortedRecord, compareCodePoints } from './json.ts';
export type { JsonValue, CanonicalJsonOptions } from './json.ts';
export { digest, sha256Hex, toHex, toBase64, concatBytes, utf8, fromUtf8, bytesEqual } from './bytes.ts';
export type { HashAlgorithm } from './bytes.ts';
export { writeFileAtomic } from './fs.ts';

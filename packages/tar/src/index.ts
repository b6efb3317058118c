export { TarWriter, writeTar, encodeHeader, encodePaxRecord, formatPaxRecord, BLOCK_SIZE } from './writer.ts';
export { readTar, iterateTar, parsePaxRecords } from './reader.ts';
export type { TarReadOptions, TarReadResult } from './reader.ts';
export { checkEntryPath, linkStaysInside } from './path.ts';
export { TYPEFLAGS } from './types.ts';
export type { TarEntry, TarEntryType, TarHeader, TarWriteEntry } from './types.ts';
export { TarError } from './errors.ts';
export type { TarErrorCode } from './errors.ts';

export interface CacheHeader {
  size: number;
  mtimeMs: number;
  payloadSha256: string;
}
export declare function readCodeCache(
  path: string,
  bundleStat: { size: number; mtimeMs: number },
): { header: CacheHeader; payload: Buffer } | undefined;
export declare function writeCodeCache(
  path: string,
  header: Omit<CacheHeader, 'payloadSha256'>,
  payload: Buffer,
): boolean;
export declare function loadBundle(
  bundlePath: string,
  sha256: string,
  task: string,
  useCache: boolean,
  sides?: Record<string, unknown>,
): { exports: Record<string, unknown>; cache: 'hit' | 'miss' | 'rejected' | 'off' };
export declare const WRAPPER_START: string;

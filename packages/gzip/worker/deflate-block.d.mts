export declare function deflateBlock(
  input: Uint8Array,
  dictionary: Uint8Array | undefined,
  last: boolean,
  level: number,
): Uint8Array;
export declare function deflateWhole(input: Uint8Array, level: number): Uint8Array;

import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of `@tk/rootfs`. */
export type RootfsErrorCode =
  /** Two packages install the same path and neither replaces the other (and they do not share an origin). */
  | 'ROOTFS_FILE_CONFLICT'
  /** A path cannot be created: a parent is a file, a symlink loops or points nowhere, a type clashes. */
  | 'ROOTFS_BAD_PATH'
  /** A package's bytes do not match what the index promised (identity checksum or datahash). */
  | 'ROOTFS_PACKAGE_MISMATCH'
  /** Writing the tree to a folder failed or the target folder is not empty. */
  | 'ROOTFS_WRITE_FAILED'
  /** An account, path mutation or other image step is invalid for this root. */
  | 'ROOTFS_BAD_STEP';

/** An error from building a root filesystem. */
export class RootfsError extends TkError<RootfsErrorCode> {
  constructor(code: RootfsErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}

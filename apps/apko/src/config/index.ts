export { ConfigError, formatConfigIssue } from './errors.ts';
export type { ConfigErrorCode, ConfigIssue } from './errors.ts';
export {
  ALL_ARCHS,
  ARCH_NAMES,
  parseArch,
  toApkArch,
  toOciArch,
  toOciPlatform,
  archFromNodeArch,
  sortArchs,
} from './arch.ts';
export type { Arch, ApkArch, OciPlatform } from './arch.ts';
export { imageConfigSchema, imageConfigJsonSchema } from './schema.ts';
export { PATH_TYPES, IMAGE_CONFIG_SHAPE, parseShape, shapeGuide, UNSURE, emptyImageConfig } from './shape.ts';
export type { Shape, Field } from './shape.ts';
export type {
  ImageConfig,
  ImageContents,
  ImageEntrypoint,
  ImageAccounts,
  ImageUser,
  ImageGroup,
  PathMutation,
  PathType,
  RuntimeKey,
  ImageCertificates,
  AdditionalCertificate,
} from './schema.ts';
export { loadImageConfig, MAX_CONFIG_BYTES, MAX_INCLUDE_DEPTH } from './load.ts';
export type { LoadImageConfigOptions, LoadedImageConfig, ConfigFile } from './load.ts';
export { parseImageConfig } from './parse.ts';
export type { ParseImageConfigOptions } from './parse.ts';
export { applyBuildOptions, parseArchFlags, parseAnnotationFlags } from './options.ts';
export type { BuildOptionsOverlay } from './options.ts';
export { parseRepositoryLine, formatRepositoryLine } from './repository.ts';
export type { RepositoryLine } from './repository.ts';

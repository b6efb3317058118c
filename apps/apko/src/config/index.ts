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
export { imageConfigSchema, imageConfigJsonSchema, PATH_TYPES } from './schema.ts';
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
export { parseImageConfig, loadImageConfig, MAX_CONFIG_BYTES, MAX_INCLUDE_DEPTH } from './load.ts';
export type {
  ParseImageConfigOptions,
  LoadImageConfigOptions,
  LoadedImageConfig,
  ConfigFile,
} from './load.ts';
export { applyBuildOptions, parseArchFlags, parseAnnotationFlags } from './options.ts';
export type { BuildOptionsOverlay } from './options.ts';
export { parseRepositoryLine, formatRepositoryLine } from './repository.ts';
export type { RepositoryLine } from './repository.ts';

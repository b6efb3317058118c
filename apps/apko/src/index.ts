export { apkoCommand, TOOL_VERSION } from './cli/apko.ts';
export { buildImage, resolveImage, lockFileFor, lockOfBuild } from './build/build.ts';
export type { BuildResult } from './build/build.ts';
export type { BuildOptions } from './build/options.ts';
export { buildArch, imageTime, entrypointOf, IMAGE_AUTHOR } from './build/assemble.ts';
export type { ArchBuild, FetchedApk } from './build/assemble.ts';
export { writeImage, writeSboms, writeRootfsTar } from './build/outputs.ts';
export { buildSboms, sbomImageName } from './build/sbom.ts';
export type { SbomFile } from './build/sbom.ts';
export { shellSplit } from './build/shlex.ts';
export { ApkoError } from './build/errors.ts';
export type { ApkoErrorCode } from './build/errors.ts';
export {
  parseImageConfig,
  loadImageConfig,
  applyBuildOptions,
  parseArchFlags,
  parseAnnotationFlags,
  parseArch,
  toApkArch,
  toOciArch,
  toOciPlatform,
  archFromNodeArch,
  sortArchs,
  ALL_ARCHS,
  ARCH_NAMES,
  parseRepositoryLine,
  formatRepositoryLine,
  imageConfigSchema,
  imageConfigJsonSchema,
  PATH_TYPES,
  emptyImageConfig,
  ConfigError,
  formatConfigIssue,
  MAX_CONFIG_BYTES,
  MAX_INCLUDE_DEPTH,
} from './config/index.ts';
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
  Arch,
  ApkArch,
  OciPlatform,
  ConfigIssue,
  ConfigErrorCode,
  BuildOptionsOverlay,
  ParseImageConfigOptions,
  LoadImageConfigOptions,
  LoadedImageConfig,
  ConfigFile,
  RepositoryLine,
} from './config/index.ts';
export { readYaml, PositionIndex, formatPath, YAML_LIMITS } from './config/yaml.ts';
export type {
  PathSegment,
  SourcePos,
  NodePosition,
  YamlDocument,
  YamlGuide,
  YamlKind,
} from './config/yaml.ts';
export { zodGuide } from './config/zod-guide.ts';
export { reportZodIssues, describeValue, suggestKey } from './config/zod-issues.ts';
export { issueReporter, staysInsideRoot } from './config/validate.ts';
export type { Reporter } from './config/validate.ts';
export { throwIssues, sortIssues } from './config/errors.ts';
export { checkSemantics } from './config/validate.ts';
export { prepareBuild, prepareBuildFromConfig, resolveArchs } from './build/prepare.ts';
export type { PreparedBuild, PrepareSettings, ResolvedArch, ConfiguredRepository } from './build/prepare.ts';
export { fetchArchPackages, buildRootTree } from './build/assemble.ts';
export type { RootTreeOptions, RootTree } from './build/assemble.ts';

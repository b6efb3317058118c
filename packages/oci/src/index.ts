/**
 * `@tk/oci`: deterministic OCI images (layers, config, manifest, index), the image tarball apko writes
 * (docker-archive plus the OCI index), OCI image layouts, and a registry client.
 */
export { OciError } from './errors.ts';
export type { OciErrorCode } from './errors.ts';

export { sha256Digest, parseDigest, isDigest, digestHex, verifyContent } from './digest.ts';
export type { ParsedDigest } from './digest.ts';

export {
  APK_ARCHS,
  OCI_ARCHS,
  platformFromArch,
  apkArchOf,
  ociArchString,
  platformString,
  platformTagSuffix,
  comparePlatforms,
  normalizePlatform,
} from './platform.ts';
export type { OciPlatform } from './platform.ts';

export { buildLayer, writeLayerTar, orderLayerEntries, MEDIA_TYPE_LAYER_GZIP } from './layer.ts';
export type {
  LayerEntry,
  LayerEntryType,
  LayerBlob,
  LayerTar,
  ParentTemplate,
  LayerOrderOptions,
  BuildLayerOptions,
} from './layer.ts';

export {
  createDiskLayerCache,
  layerCacheKey,
  layerCacheKeyText,
  LAYER_GZIP_WRITER_VERSION,
  LAYER_GZIP_ENGINE,
} from './layer-cache.ts';
export type { LayerCache, CachedLayerBlob, DiskLayerCache, DiskLayerCacheOptions } from './layer-cache.ts';

export {
  MEDIA_TYPE_IMAGE_INDEX,
  MEDIA_TYPE_IMAGE_MANIFEST,
  MEDIA_TYPE_IMAGE_CONFIG,
  APKO_AUTHOR,
  DEFAULT_ENVIRONMENT,
  formatCreated,
  imageEnvironment,
  buildImageConfig,
  buildManifest,
  buildIndex,
  descriptorOf,
  assembleImage,
  assembleIndex,
} from './image.ts';
export type {
  OciBlob,
  OciDescriptor,
  ImageArtifact,
  IndexArtifact,
  ImageHistory,
  ImageConfigOptions,
  ImageConfigFields,
  IndexManifestEntry,
} from './image.ts';

export {
  parseImageReference,
  normalizeTagReference,
  platformTags,
  archiveRepoTags,
  verifyIndexArtifact,
  writeDockerArchive,
  writeDockerArchiveFile,
} from './tarball.ts';
export type { ImageReference, DockerArchiveOptions } from './tarball.ts';

export { writeOciLayout, layoutIndexJson, OCI_LAYOUT_FILE, ANNOTATION_REF_NAME } from './layout.ts';
export type { OciLayoutOptions, OciLayoutResult } from './layout.ts';

// ── registry client (src/registry/**): its export lines go below this marker ──
export { RegistryError } from './registry/index.ts';
export type { RegistryErrorCode } from './registry/index.ts';
export {
  parseReference,
  parseRegistry,
  formatReference,
  isLoopback,
  isPrivateAddress,
  DOCKER_HUB_REGISTRY,
  DOCKER_HUB_AUTH_KEY,
} from './registry/index.ts';
export type { RegistryReference } from './registry/index.ts';
export { parseChallenges } from './registry/index.ts';
export type { AuthChallenge } from './registry/index.ts';
export {
  createDockerKeychain,
  staticKeychain,
  dockerConfigPath,
  credentialFilePaths,
  parseAuthConfig,
  readAuthConfig,
  lookupCredential,
  credentialKey,
  decodeBasicAuth,
  credentialHelperGet,
  credentialHelperStore,
  saveCredential,
} from './registry/index.ts';
export type {
  Keychain,
  RegistryCredential,
  CredentialLocationOptions,
  AuthEntry,
  AuthConfigFile,
} from './registry/index.ts';
export type { RegistryClientOptions } from './registry/index.ts';
export {
  pushImageIndex,
  getManifest,
  headManifest,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  login,
  createRegistryClient,
  parseRegistryErrors,
} from './registry/index.ts';
export { getBlob, MAX_BLOB_BYTES } from './registry/index.ts';
export type { GetBlobOptions } from './registry/index.ts';
export type {
  PushBlob,
  PushImage,
  PushImageIndex,
  PushOptions,
  PushResult,
  PushStats,
  FetchedManifest,
  ManifestDescriptor,
  LoginOptions,
  LoginResult,
  RegistryClient,
  RegistryErrorDetail,
} from './registry/index.ts';

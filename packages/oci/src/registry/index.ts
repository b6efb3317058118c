export { RegistryError } from './errors.ts';
export type { RegistryErrorCode } from './errors.ts';
export {
  parseReference,
  parseRegistry,
  formatReference,
  isLoopback,
  isPrivateAddress,
  DOCKER_HUB_REGISTRY,
  DOCKER_HUB_AUTH_KEY,
} from './reference.ts';
export type { RegistryReference } from './reference.ts';
export { parseChallenges } from './challenge.ts';
export type { AuthChallenge } from './challenge.ts';
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
} from './credentials.ts';
export type {
  Keychain,
  RegistryCredential,
  CredentialLocationOptions,
  AuthEntry,
  AuthConfigFile,
} from './credentials.ts';
export type { RegistryClientOptions } from './client.ts';
export { pushImageIndex } from './push.ts';
export type { PushBlob, PushImage, PushImageIndex, PushOptions, PushResult, PushStats } from './push.ts';
export { getManifest, headManifest, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './manifest.ts';
export type { FetchedManifest, ManifestDescriptor } from './manifest.ts';
export { getBlob, MAX_BLOB_BYTES } from './blob.ts';
export type { GetBlobOptions } from './blob.ts';
export { login } from './login.ts';
export type { LoginOptions, LoginResult } from './login.ts';
export { createRegistryClient } from './api.ts';
export type { RegistryClient } from './api.ts';
export { parseRegistryErrors } from './session.ts';
export type { RegistryErrorDetail } from './session.ts';

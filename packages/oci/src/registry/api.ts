/**
 * A registry client that keeps its sessions (pings, bearer tokens per scope, connections) across
 * several operations.
 */
import { getBlobWithContext, type GetBlobOptions } from './blob.ts';
import { ClientContext, type RegistryClientOptions } from './client.ts';
import {
  getManifestWithContext,
  headManifestWithContext,
  type FetchedManifest,
  type ManifestDescriptor,
} from './manifest.ts';
import { pushWithContext, type PushImageIndex, type PushResult } from './push.ts';
import { parseRegistry, type RegistryReference } from './reference.ts';

/** A registry client; see {@link createRegistryClient}. */
export interface RegistryClient {
  /** As the free function `pushImageIndex`, sharing this client's sessions. */
  pushImageIndex(
    targets: string | readonly (string | RegistryReference)[],
    image: PushImageIndex,
    options?: { mount?: boolean },
  ): Promise<PushResult>;
  /** As the free function `getManifest`. */
  getManifest(reference: string | RegistryReference): Promise<FetchedManifest>;
  /** As the free function `headManifest`. */
  headManifest(reference: string | RegistryReference): Promise<ManifestDescriptor | undefined>;
  /** As the free function `getBlob`. */
  getBlob(
    reference: string | RegistryReference,
    digest: string,
    options?: GetBlobOptions,
  ): Promise<Uint8Array>;
  /**
   * Check that the registry accepts this client's credentials (`GET /v2/` through the auth flow).
   *
   * @throws {RegistryError} REGISTRY_UNAUTHORIZED when it does not
   */
  checkAuth(registry: string, repository?: string): Promise<void>;
  /** Close the connections the client owns. */
  close(): Promise<void>;
}

/**
 * Create a registry client. Tokens are cached per scope for the client's life; close it when done.
 *
 * @param options - credentials, TLS/insecure, retries, concurrency, logger
 * @returns the client
 * @example
 * const client = createRegistryClient({ keychain });
 * try {
 *   await client.pushImageIndex('ghcr.io/me/app:1.0', image);
 *   await client.headManifest('ghcr.io/me/app:1.0');
 * } finally {
 *   await client.close();
 * }
 */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const context = new ClientContext(options);
  return {
    pushImageIndex: (targets, image, pushOptions) => pushWithContext(context, targets, image, pushOptions),
    getManifest: (reference) => getManifestWithContext(context, reference),
    headManifest: (reference) => headManifestWithContext(context, reference),
    getBlob: (reference, digest, blobOptions) => getBlobWithContext(context, reference, digest, blobOptions),
    checkAuth: (registry, repository) => context.session(parseRegistry(registry)).checkAuth(repository),
    close: () => context.close(),
  };
}

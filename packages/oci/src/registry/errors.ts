import { TkError, type TkErrorOptions } from '@tk/core';

/** Stable error codes of the registry client in `@tk/oci`. */
export type RegistryErrorCode =
  /** An image reference (`REGISTRY/REPO:TAG`, `REPO@sha256:…`) or registry name does not parse. */
  | 'REGISTRY_BAD_REFERENCE'
  /** The registry or its token service refused the credentials (HTTP 401), or it needs credentials and none were found. */
  | 'REGISTRY_UNAUTHORIZED'
  /** The registry refused the operation for these credentials (HTTP 403). */
  | 'REGISTRY_DENIED'
  /** The requested manifest or repository does not exist in the registry (HTTP 404). */
  | 'REGISTRY_NOT_FOUND'
  /** The registry answered a request with an unexpected status (the step, URL, status and error body are in the message). */
  | 'REGISTRY_HTTP_ERROR'
  /** The registry kept failing (5xx, 429, connection resets, timeouts) after every retry. */
  | 'REGISTRY_UNAVAILABLE'
  /** The registry reported or served a digest different from the content's digest. */
  | 'REGISTRY_DIGEST_MISMATCH'
  /** A request would have gone over plain HTTP to a host that is not loopback, without `insecure`; nothing was sent. */
  | 'REGISTRY_PLAIN_HTTP_REFUSED'
  /** The registry's response is malformed: a missing Location, an unparsable WWW-Authenticate challenge, an oversized or invalid body. */
  | 'REGISTRY_BAD_RESPONSE'
  /** The token service answered without a usable token. */
  | 'REGISTRY_TOKEN_ERROR'
  /** A Docker or podman credentials file (`config.json`, `auth.json`) is unreadable or malformed. */
  | 'REGISTRY_BAD_AUTH_CONFIG'
  /** A configured docker-credential helper is missing, failed or printed something unusable. */
  | 'REGISTRY_CREDENTIAL_HELPER'
  /** The image given to push is inconsistent: a blob's bytes do not match its digest or size. */
  | 'REGISTRY_INVALID_IMAGE';

/** An error from talking to an OCI registry, resolving credentials or parsing references. */
export class RegistryError extends TkError<RegistryErrorCode> {
  constructor(code: RegistryErrorCode, message: string, options?: TkErrorOptions) {
    super(code, message, options);
  }
}

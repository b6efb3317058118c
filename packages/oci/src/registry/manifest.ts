/**
 * Reading manifests back: `GET`/`HEAD /v2/<repo>/manifests/<tag or digest>` with the OCI and Docker
 * media types accepted. Fetched bytes are checked against the digest asked for and the registry's
 * `Docker-Content-Digest`.
 */
import { sha256Hex } from '@tk/core';
import { ClientContext, type RegistryClientOptions } from './client.ts';
import { RegistryError } from './errors.ts';
import { header, redactUrl, type HttpResponse } from './http.ts';
import { formatReference, parseReference, type RegistryReference } from './reference.ts';
import { MAX_ERROR_BODY, responseError } from './session.ts';

/** Largest manifest read (go-containerregistry's limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Media types asked for, best first. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

/** A manifest's descriptor as the registry reports it. */
export interface ManifestDescriptor {
  /** `sha256:<hex>`. */
  readonly digest: string;
  /** Content-Type of the manifest. */
  readonly mediaType: string;
  /** Size in bytes. */
  readonly size: number;
}

/** A fetched manifest. */
export interface FetchedManifest extends ManifestDescriptor {
  /** The exact bytes the registry holds. */
  readonly bytes: Uint8Array;
}

function toRef(ref: string | RegistryReference): RegistryReference {
  return typeof ref === 'string' ? parseReference(ref) : ref;
}

function mediaTypeOf(res: HttpResponse): string {
  return (header(res, 'content-type') ?? '').split(';')[0]!.trim();
}

/** {@link getManifest} on an existing client context. */
export async function getManifestWithContext(
  context: ClientContext,
  reference: string | RegistryReference,
): Promise<FetchedManifest> {
  const ref = toRef(reference);
  const session = context.session(ref.registry);
  const target = ref.digest ?? ref.tag ?? 'latest';
  const step = `get manifest ${formatReference(ref)}`;
  const res = await session.send(
    step,
    {
      method: 'GET',
      url: session.url(`/v2/${ref.repository}/manifests/${target}`),
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
      maxBodyBytes: MAX_MANIFEST_BYTES,
    },
    { repository: ref.repository, actions: ['pull'], retry: true, followRedirects: true },
  );
  if (res.status !== 200) throw responseError(step, 'GET', res, ref.registry);
  const digest = `sha256:${sha256Hex(res.body)}`;
  const expected = ref.digest ?? header(res, 'docker-content-digest')?.trim();
  if (expected !== undefined && expected.startsWith('sha256:') && expected !== digest) {
    throw new RegistryError(
      'REGISTRY_DIGEST_MISMATCH',
      `${step}: ${redactUrl(res.url)} served bytes with digest ${digest}, expected ${expected}`,
      {
        hint: 'the registry or something between it and you altered the manifest; try again',
        data: { expected, actual: digest, url: redactUrl(res.url) },
      },
    );
  }
  return { digest, mediaType: mediaTypeOf(res), size: res.body.byteLength, bytes: res.body };
}

/** {@link headManifest} on an existing client context. */
export async function headManifestWithContext(
  context: ClientContext,
  reference: string | RegistryReference,
): Promise<ManifestDescriptor | undefined> {
  const ref = toRef(reference);
  const session = context.session(ref.registry);
  const target = ref.digest ?? ref.tag ?? 'latest';
  const step = `check manifest ${formatReference(ref)}`;
  const res = await session.send(
    step,
    {
      method: 'HEAD',
      url: session.url(`/v2/${ref.repository}/manifests/${target}`),
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
      maxBodyBytes: MAX_ERROR_BODY,
    },
    { repository: ref.repository, actions: ['pull'], retry: true, followRedirects: true },
  );
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw responseError(step, 'HEAD', res, ref.registry);
  const digest = header(res, 'docker-content-digest')?.trim();
  const length = Number(header(res, 'content-length'));
  if (digest === undefined || !/^sha256:[a-f0-9]{64}$/.test(digest) || !Number.isSafeInteger(length)) {
    // Not every registry answers HEAD with the digest: fetch the manifest instead.
    const fetched = await getManifestWithContext(context, ref);
    return { digest: fetched.digest, mediaType: fetched.mediaType, size: fetched.size };
  }
  if (ref.digest !== undefined && digest !== ref.digest) {
    throw new RegistryError(
      'REGISTRY_DIGEST_MISMATCH',
      `${step}: ${redactUrl(res.url)} reported digest ${digest}, expected ${ref.digest}`,
      {
        hint: 'the registry is misbehaving; try again',
        data: { expected: ref.digest, actual: digest },
      },
    );
  }
  return { digest, mediaType: mediaTypeOf(res), size: length };
}

/**
 * Fetch a manifest or index by tag or digest.
 *
 * @param reference - `REGISTRY/REPO:TAG` or `REGISTRY/REPO@sha256:…`
 * @param options - credentials, TLS/insecure, retries
 * @returns the manifest's bytes, digest, media type and size
 * @throws {RegistryError} REGISTRY_NOT_FOUND when it does not exist; REGISTRY_DIGEST_MISMATCH when the bytes do not match; others as for push
 * @example
 * const index = await getManifest('127.0.0.1:5000/hello:latest');
 */
export async function getManifest(
  reference: string | RegistryReference,
  options: RegistryClientOptions = {},
): Promise<FetchedManifest> {
  const context = new ClientContext(options);
  try {
    return await getManifestWithContext(context, reference);
  } finally {
    await context.close();
  }
}

/**
 * Check whether a manifest exists and read its descriptor, without its body when the registry allows.
 *
 * @param reference - `REGISTRY/REPO:TAG` or `REGISTRY/REPO@sha256:…`
 * @param options - credentials, TLS/insecure, retries
 * @returns the descriptor, or undefined when the registry answers 404
 * @throws {RegistryError} as {@link getManifest}, except for a missing manifest
 */
export async function headManifest(
  reference: string | RegistryReference,
  options: RegistryClientOptions = {},
): Promise<ManifestDescriptor | undefined> {
  const context = new ClientContext(options);
  try {
    return await headManifestWithContext(context, reference);
  } finally {
    await context.close();
  }
}

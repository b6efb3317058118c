/**
 * Reading blobs back: `GET /v2/<repo>/blobs/<digest>` (distribution spec, "Pulling blobs"), following the
 * redirects registries send to their storage (credentials stay on the registry's origin). The body is
 * read up to the size the caller expects and checked against the digest asked for, so a registry (or a
 * storage backend it redirects to) cannot hand out other bytes.
 */
import { createHash } from 'node:crypto';
import { ClientContext, type RegistryClientOptions } from './client.ts';
import { RegistryError } from './errors.ts';
import { redactUrl } from './http.ts';
import { formatReference, parseReference, type RegistryReference } from './reference.ts';
import { responseError } from './session.ts';

/** Largest blob read when the caller does not say how large it is (1 GiB). */
export const MAX_BLOB_BYTES = 1024 * 1024 * 1024;

const BLOB_DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** Options of {@link getBlob}. */
export interface GetBlobOptions {
  /**
   * The size the blob's descriptor gives: the body may not be longer, and must be exactly this long.
   * Without it, bodies up to {@link MAX_BLOB_BYTES} are read.
   */
  readonly size?: number;
}

/** {@link getBlob} on an existing client context. */
export async function getBlobWithContext(
  context: ClientContext,
  reference: string | RegistryReference,
  digest: string,
  options: GetBlobOptions = {},
): Promise<Uint8Array> {
  const ref = typeof reference === 'string' ? parseReference(reference) : reference;
  if (!BLOB_DIGEST.test(digest)) {
    throw new RegistryError('REGISTRY_BAD_REFERENCE', `invalid blob digest ${JSON.stringify(digest)}`, {
      hint: 'a blob digest is sha256:<64 hex digits> (or sha512:<128>)',
      data: { digest },
    });
  }
  const size = options.size;
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0 || size > MAX_BLOB_BYTES * 4)) {
    throw new RangeError(`blob size must be a non-negative integer up to ${MAX_BLOB_BYTES * 4}, got ${size}`);
  }
  const session = context.session(ref.registry);
  const name = formatReference({ ...ref, tag: undefined, digest: undefined });
  const step = `get blob ${digest} from ${name}`;
  const res = await session.send(
    step,
    {
      method: 'GET',
      url: session.url(`/v2/${ref.repository}/blobs/${digest}`),
      maxBodyBytes: size ?? MAX_BLOB_BYTES,
    },
    { repository: ref.repository, actions: ['pull'], retry: true, followRedirects: true },
  );
  if (res.status !== 200) throw responseError(step, 'GET', res, ref.registry);
  const [algorithm, expectedHex] = digest.split(':') as [string, string];
  const actualHex = createHash(algorithm).update(res.body).digest('hex');
  if (actualHex !== expectedHex || (size !== undefined && res.body.byteLength !== size)) {
    const actual = `${algorithm}:${actualHex}`;
    throw new RegistryError(
      'REGISTRY_DIGEST_MISMATCH',
      `${step}: ${redactUrl(res.url)} served ${res.body.byteLength} bytes with digest ${actual}, expected ${digest}${
        size === undefined ? '' : ` (${size} bytes)`
      }`,
      {
        hint: 'the registry or something between it and you altered the blob; try again',
        data: { expected: digest, actual, url: redactUrl(res.url) },
      },
    );
  }
  return res.body;
}

/**
 * Fetch a blob (a config or a layer) by digest, checked against that digest.
 *
 * @param reference - `REGISTRY/REPO[:TAG|@DIGEST]`: names the repository (the tag or digest is ignored)
 * @param digest - the blob's digest, `sha256:…`
 * @param options - the expected size, plus credentials, TLS/insecure, retries
 * @returns the blob's bytes
 * @throws {RegistryError} REGISTRY_NOT_FOUND when the registry does not have it; REGISTRY_DIGEST_MISMATCH
 *   when the bytes do not match the digest or size; REGISTRY_BAD_RESPONSE when the body is larger than
 *   expected; REGISTRY_BAD_REFERENCE for a malformed reference or digest; others as for push
 * @example
 * const config = await getBlob('127.0.0.1:5000/hello', manifest.config.digest, { size: manifest.config.size });
 */
export async function getBlob(
  reference: string | RegistryReference,
  digest: string,
  options: GetBlobOptions & RegistryClientOptions = {},
): Promise<Uint8Array> {
  const context = new ClientContext(options);
  try {
    return await getBlobWithContext(context, reference, digest, options);
  } finally {
    await context.close();
  }
}

/**
 * Pushing a multi-arch image index (distribution spec, "Push":
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#push).
 *
 * For each repository the index goes to (in the order first named):
 * 1. every blob (configs, layers), at most `concurrency` at a time:
 *    `HEAD /v2/<repo>/blobs/<digest>` (200: already there, skipped), else
 *    `POST /v2/<repo>/blobs/uploads/` (with `?mount=<digest>&from=<repo>` when an earlier repository of
 *    the same registry has it; 201 means mounted) → 202 + `Location`,
 *    `PATCH <Location>` with the bytes → 202 + `Location`, `PUT <Location>&digest=<digest>` → 201;
 * 2. every image manifest, `PUT /v2/<repo>/manifests/<digest>` (Content-Type = its media type);
 * 3. the index, `PUT /v2/<repo>/manifests/<tag>` for each tag (or `<digest>` for digest-only references).
 *
 * Transient failures are retried with backoff; a failed PATCH restarts the upload from POST (uploads are
 * idempotent: same bytes, same digest). A `Docker-Content-Digest` the registry returns must equal the
 * content's digest. Any failure throws: nothing is reported as pushed unless everything was.
 */
import { mapLimit, sha256Hex } from '@tk/core';
import { ClientContext, type RegistryClientOptions } from './client.ts';
import { RegistryError } from './errors.ts';
import { backoffDelay, header, redactUrl, TransientFailure, type HttpResponse } from './http.ts';
import { formatReference, parseReference, type RegistryReference } from './reference.ts';
import {
  exhaustedError,
  MAX_ERROR_BODY,
  resolveLocation,
  responseError,
  type RegistrySession,
} from './session.ts';

/**
 * A content-addressed blob as the image model holds it (structurally compatible with the image
 * builder's `Blob`).
 */
export interface PushBlob {
  /** `sha256:<hex>` of `bytes`. */
  readonly digest: string;
  /** `bytes.byteLength`. */
  readonly size: number;
  /** OCI media type (used as Content-Type for manifests and indexes). */
  readonly mediaType: string;
  /** The content. */
  readonly bytes: Uint8Array;
}

/** One platform's image: its manifest, config and layers. */
export interface PushImage {
  readonly manifest: PushBlob;
  readonly config: PushBlob;
  readonly layers: readonly PushBlob[];
}

/** A multi-arch image: the index and the images it lists. */
export interface PushImageIndex {
  readonly index: PushBlob;
  readonly images: readonly PushImage[];
}

/** Options of {@link pushImageIndex}. */
export interface PushOptions extends RegistryClientOptions {
  /** Mount blobs from an earlier repository of the same registry instead of uploading again (default true). */
  readonly mount?: boolean;
}

/** What was pushed. */
export interface PushResult {
  /** The index digest. */
  readonly digest: string;
  /** `registry/repository@<index digest>` for each repository pushed to, in the order first named. */
  readonly refs: readonly string[];
  /** `registry/repository:tag` for each tag pushed. */
  readonly tags: readonly string[];
  /** `registry/repository@<manifest digest>` of each image, in the first repository, in index order. */
  readonly manifests: readonly string[];
  /** Counts over all repositories. */
  readonly stats: PushStats;
}

/** Blob counts of a push. */
export interface PushStats {
  /** Blobs uploaded (POST/PATCH/PUT). */
  readonly blobsUploaded: number;
  /** Blobs the registry already had (HEAD 200). */
  readonly blobsSkipped: number;
  /** Blobs mounted from another repository. */
  readonly blobsMounted: number;
  /** Bytes uploaded. */
  readonly bytesUploaded: number;
}

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

function checkBlob(blob: PushBlob, what: string): void {
  const bad = (why: string): RegistryError =>
    new RegistryError('REGISTRY_INVALID_IMAGE', `${what} ${blob.digest}: ${why}`, {
      hint: 'this is a bug in whatever built the image; rebuild it',
      data: { digest: blob.digest },
    });
  if (!DIGEST_RE.test(blob.digest)) throw bad('the digest is not sha256:<64 lowercase hex>');
  if (blob.size !== blob.bytes.byteLength)
    throw bad(`size is ${blob.size} but there are ${blob.bytes.byteLength} bytes`);
  const actual = `sha256:${sha256Hex(blob.bytes)}`;
  if (actual !== blob.digest) throw bad(`the bytes hash to ${actual}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/.test(blob.mediaType)) {
    throw bad(`media type ${JSON.stringify(blob.mediaType)} is not type/subtype`);
  }
}

function digestMismatch(step: string, res: HttpResponse, expected: string, got: string): RegistryError {
  return new RegistryError(
    'REGISTRY_DIGEST_MISMATCH',
    `${step}: ${redactUrl(res.url)} reported digest ${got}, expected ${expected}`,
    {
      hint: 'the registry stored something other than what was sent (a proxy rewriting content?); try again or check the registry',
      data: { step, url: redactUrl(res.url), expected, actual: got },
    },
  );
}

function checkDigestHeader(step: string, res: HttpResponse, expected: string): void {
  const got = header(res, 'docker-content-digest');
  if (got !== undefined && got.trim() !== expected) throw digestMismatch(step, res, expected, got.trim());
}

interface RepoTarget {
  readonly registry: string;
  readonly repository: string;
  readonly refs: RegistryReference[];
}

/** Counters and progress of one push. */
class PushState {
  blobsUploaded = 0;
  blobsSkipped = 0;
  blobsMounted = 0;
  bytesUploaded = 0;
}

/**
 * Push a multi-arch image index to one or more references (`REGISTRY/REPO:TAG`).
 *
 * @param targets - where to push: reference strings or parsed references (several tags and repositories
 *   allowed; a reference with a digest must name the index's digest)
 * @param image - the index and its images
 * @param options - credentials, TLS/insecure, retries, concurrency, logger (progress in bytes)
 * @returns the index digest and the references pushed
 * @throws {RegistryError} REGISTRY_BAD_REFERENCE, REGISTRY_INVALID_IMAGE, REGISTRY_UNAUTHORIZED,
 *   REGISTRY_DENIED, REGISTRY_HTTP_ERROR, REGISTRY_UNAVAILABLE, REGISTRY_DIGEST_MISMATCH,
 *   REGISTRY_PLAIN_HTTP_REFUSED, REGISTRY_BAD_RESPONSE, REGISTRY_TOKEN_ERROR
 * @example
 * const { refs } = await pushImageIndex(['127.0.0.1:5000/hello:latest'], image, {
 *   keychain: createDockerKeychain({ env: process.env, homedir: os.homedir() }),
 *   logger,
 * });
 */
export async function pushImageIndex(
  targets: string | readonly (string | RegistryReference)[],
  image: PushImageIndex,
  options: PushOptions = {},
): Promise<PushResult> {
  const context = new ClientContext(options);
  try {
    return await pushWithContext(context, targets, image, options);
  } finally {
    await context.close();
  }
}

/** {@link pushImageIndex} on an existing client context (shares sessions and token caches). */
export async function pushWithContext(
  context: ClientContext,
  targets: string | readonly (string | RegistryReference)[],
  image: PushImageIndex,
  options: { mount?: boolean } = {},
): Promise<PushResult> {
  const refs = (typeof targets === 'string' ? [targets] : targets).map((t) =>
    typeof t === 'string' ? parseReference(t) : t,
  );
  if (refs.length === 0) {
    throw new RegistryError('REGISTRY_BAD_REFERENCE', 'no image reference to push to', {
      hint: 'name at least one REGISTRY/REPOSITORY:TAG',
    });
  }
  checkBlob(image.index, 'index');
  for (const img of image.images) {
    checkBlob(img.manifest, 'manifest');
    checkBlob(img.config, 'config');
    for (const layer of img.layers) checkBlob(layer, 'layer');
  }
  for (const ref of refs) {
    if (ref.digest !== undefined && ref.digest !== image.index.digest) {
      throw new RegistryError(
        'REGISTRY_DIGEST_MISMATCH',
        `reference ${formatReference(ref)} names digest ${ref.digest}, but the index is ${image.index.digest}`,
        {
          hint: 'push to a tag, or to the digest the build produced',
          data: { expected: ref.digest, actual: image.index.digest },
        },
      );
    }
  }

  // Repositories in the order first named.
  const repos: RepoTarget[] = [];
  for (const ref of refs) {
    let target = repos.find((r) => r.registry === ref.registry && r.repository === ref.repository);
    if (target === undefined) {
      target = { registry: ref.registry, repository: ref.repository, refs: [] };
      repos.push(target);
    }
    target.refs.push(ref);
  }

  // Distinct blobs, configs first within each image.
  const blobs: PushBlob[] = [];
  const seen = new Set<string>();
  for (const img of image.images) {
    for (const blob of [img.config, ...img.layers]) {
      if (!seen.has(blob.digest)) {
        seen.add(blob.digest);
        blobs.push(blob);
      }
    }
  }
  const manifests: PushBlob[] = [];
  const seenManifests = new Set<string>();
  for (const img of image.images) {
    if (!seenManifests.has(img.manifest.digest)) {
      seenManifests.add(img.manifest.digest);
      manifests.push(img.manifest);
    }
  }

  const state = new PushState();
  const logger = context.logger;
  const tags: string[] = [];
  const pushedRepos: RepoTarget[] = [];
  for (const target of repos) {
    const session = context.session(target.registry);
    const name = `${target.registry}/${target.repository}`;
    const mountFrom =
      options.mount === false
        ? undefined
        : pushedRepos.find((r) => r.registry === target.registry)?.repository;
    const total = blobs.reduce((n, b) => n + b.size, 0);
    let done = 0;
    const progressId = `push:${name}`;
    logger.progress({ id: progressId, label: `push ${name}`, current: 0, total, unit: 'bytes' });
    await mapLimit(blobs, context.concurrency, async (blob) => {
      await pushBlob(context, session, target.repository, blob, mountFrom, state);
      done += blob.size;
      logger.progress({ id: progressId, label: `push ${name}`, current: done, total, unit: 'bytes' });
    });
    await mapLimit(manifests, context.concurrency, async (manifest) => {
      await putManifest(
        session,
        target.repository,
        manifest.digest,
        manifest,
        `push manifest ${manifest.digest} to ${name}`,
      );
    });
    for (const ref of target.refs) {
      const reference = ref.tag ?? image.index.digest;
      await putManifest(
        session,
        target.repository,
        reference,
        image.index,
        `push index to ${name}:${reference}`,
      );
      if (ref.tag !== undefined) {
        tags.push(`${name}:${ref.tag}`);
        logger.info(`pushed ${name}:${ref.tag}@${image.index.digest}`);
      } else {
        logger.info(`pushed ${name}@${image.index.digest}`);
      }
    }
    logger.progress({
      id: progressId,
      label: `push ${name}`,
      current: total,
      total,
      unit: 'bytes',
      done: true,
    });
    pushedRepos.push(target);
  }

  const first = repos[0]!;
  return {
    digest: image.index.digest,
    refs: repos.map((r) => `${r.registry}/${r.repository}@${image.index.digest}`),
    tags,
    manifests: image.images.map((img) => `${first.registry}/${first.repository}@${img.manifest.digest}`),
    stats: {
      blobsUploaded: state.blobsUploaded,
      blobsSkipped: state.blobsSkipped,
      blobsMounted: state.blobsMounted,
      bytesUploaded: state.bytesUploaded,
    },
  };
}

async function putManifest(
  session: RegistrySession,
  repository: string,
  reference: string,
  blob: PushBlob,
  step: string,
): Promise<void> {
  const url = session.url(`/v2/${repository}/manifests/${reference}`);
  const res = await session.send(
    step,
    {
      method: 'PUT',
      url,
      headers: { 'content-type': blob.mediaType },
      body: blob.bytes,
      maxBodyBytes: MAX_ERROR_BODY,
    },
    { repository, actions: ['pull', 'push'], retry: true },
  );
  if (res.status !== 201 && res.status !== 200) throw responseError(step, 'PUT', res, session.registry);
  checkDigestHeader(step, res, blob.digest);
}

async function blobExists(
  session: RegistrySession,
  repository: string,
  blob: PushBlob,
  step: string,
  extraScopes: readonly string[],
): Promise<boolean> {
  const url = session.url(`/v2/${repository}/blobs/${blob.digest}`);
  const res = await session.send(
    step,
    { method: 'HEAD', url, maxBodyBytes: 0 },
    { repository, actions: ['pull', 'push'], extraScopes, retry: true, followRedirects: true },
  );
  if (res.status === 200) {
    checkDigestHeader(step, res, blob.digest);
    return true;
  }
  if (res.status === 404) return false;
  throw responseError(step, 'HEAD', res, session.registry);
}

async function pushBlob(
  context: ClientContext,
  session: RegistrySession,
  repository: string,
  blob: PushBlob,
  mountFrom: string | undefined,
  state: PushState,
): Promise<void> {
  const settings = context.settings;
  const name = `${session.registry}/${repository}`;
  const extraScopes = mountFrom !== undefined ? [`repository:${mountFrom}:pull`] : [];
  const scope = { repository, actions: ['pull', 'push'] as const, extraScopes };
  if (await blobExists(session, repository, blob, `check blob ${blob.digest} in ${name}`, extraScopes)) {
    context.logger.debug(`registry: ${name} already has ${blob.digest}`);
    state.blobsSkipped++;
    return;
  }
  let restarts = 0;
  const restart = async (failure: TransientFailure, step: string): Promise<void> => {
    restarts++;
    if (restarts > settings.retries) throw exhaustedError({ step, attempts: restarts, last: failure });
    context.logger.debug(`registry: ${step} failed (${failure.message}); restarting the upload`);
    await settings.sleep(backoffDelay(settings, restarts, failure));
  };
  for (;;) {
    // 1. Start (or mount).
    const startStep = `start upload of ${blob.digest} to ${name}`;
    const postUrl = session.url(`/v2/${repository}/blobs/uploads/`);
    if (mountFrom !== undefined) {
      postUrl.searchParams.set('mount', blob.digest);
      postUrl.searchParams.set('from', mountFrom);
    }
    const post = await session.send(
      startStep,
      { method: 'POST', url: postUrl, headers: { 'content-length': '0' }, maxBodyBytes: MAX_ERROR_BODY },
      { ...scope, retry: true },
    );
    if (post.status === 201 && mountFrom !== undefined) {
      checkDigestHeader(startStep, post, blob.digest);
      context.logger.debug(`registry: mounted ${blob.digest} from ${mountFrom} into ${name}`);
      state.blobsMounted++;
      return;
    }
    if (post.status !== 202) throw responseError(startStep, 'POST', post, session.registry);
    let location = uploadLocation(startStep, post);

    // 2. Send the bytes.
    if (blob.size > 0) {
      const patchStep = `upload ${blob.digest} (${blob.size} bytes) to ${name}`;
      let patch: HttpResponse;
      try {
        patch = await session.send(
          patchStep,
          {
            method: 'PATCH',
            url: location,
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `0-${blob.size - 1}`,
              'content-length': String(blob.size),
            },
            body: blob.bytes,
            maxBodyBytes: MAX_ERROR_BODY,
          },
          { ...scope, retry: false },
        );
      } catch (error) {
        if (!(error instanceof TransientFailure)) throw error;
        await restart(error, patchStep);
        continue;
      }
      if (patch.status !== 202 && patch.status !== 204)
        throw responseError(patchStep, 'PATCH', patch, session.registry);
      if (header(patch, 'location') !== undefined) location = uploadLocation(patchStep, patch);
    }

    // 3. Commit.
    const putStep = `finish upload of ${blob.digest} to ${name}`;
    const putUrl = new URL(location);
    putUrl.searchParams.set('digest', blob.digest);
    let putFailures = 0;
    let committed = false;
    let restartUpload = false;
    while (!committed && !restartUpload) {
      let put: HttpResponse;
      try {
        put = await session.send(
          putStep,
          { method: 'PUT', url: putUrl, headers: { 'content-length': '0' }, maxBodyBytes: MAX_ERROR_BODY },
          { ...scope, retry: false },
        );
      } catch (error) {
        if (!(error instanceof TransientFailure)) throw error;
        putFailures++;
        if (putFailures > settings.retries)
          throw exhaustedError({ step: putStep, attempts: putFailures, last: error }, 'PUT');
        await settings.sleep(backoffDelay(settings, putFailures, error));
        continue;
      }
      if (put.status === 201 || put.status === 204) {
        checkDigestHeader(putStep, put, blob.digest);
        committed = true;
      } else if (putFailures > 0 && (put.status === 404 || put.status === 400)) {
        // An earlier PUT may have reached the registry and its answer been lost: the session is gone.
        if (await blobExists(session, repository, blob, putStep, extraScopes)) committed = true;
        else restartUpload = true;
      } else {
        throw responseError(putStep, 'PUT', put, session.registry);
      }
    }
    if (restartUpload) {
      await restart(new TransientFailure(`${putStep}: the upload session was lost`, {}), putStep);
      continue;
    }
    state.blobsUploaded++;
    state.bytesUploaded += blob.size;
    return;
  }
}

function uploadLocation(step: string, res: HttpResponse): URL {
  const location = header(res, 'location');
  if (location === undefined || location === '') {
    throw new RegistryError(
      'REGISTRY_BAD_RESPONSE',
      `${step}: ${redactUrl(res.url)} answered ${res.status} without a Location`,
      {
        hint: 'the registry does not follow the distribution protocol; check the registry address',
        data: { url: redactUrl(res.url), status: res.status },
      },
    );
  }
  return resolveLocation(res, location);
}

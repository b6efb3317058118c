/**
 * Image references as Docker and go-containerregistry read them:
 * `[REGISTRY/]REPOSITORY[:TAG][@ALGORITHM:HEX]`.
 *
 * - The first path component is a registry when it contains `.` or `:`, is `localhost`, is a bracketed
 *   IPv6 address (`[::1]:5000`) or has an upper-case letter; otherwise the registry is Docker Hub.
 * - Docker Hub is `index.docker.io` (`docker.io` is an alias); its one-component repositories live
 *   under `library/` (`hello` → `index.docker.io/library/hello:latest`).
 * - Repository components match `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`; the whole name is at most 255
 *   characters; tags match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; digests are `sha256:` + 64 or
 *   `sha512:` + 128 lowercase hex digits.
 * - Without tag or digest the tag is `latest`.
 *
 * Spec: https://github.com/distribution/reference/blob/main/reference.go (grammar),
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md (names and tags).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { RegistryError } from './errors.ts';

/** The Docker Hub registry as references name it. */
export const DOCKER_HUB_REGISTRY = 'index.docker.io';
/** The key Docker writes Docker Hub credentials under in `config.json`. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

/** The longest reference text accepted, before any other check (hostile input). */
const MAX_REFERENCE_LENGTH = 1024;
/** Docker's limit on `registry/repository`. */
const MAX_NAME_LENGTH = 255;

const COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HOST_LABEL_RE = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])$/;
const PORT_RE = /^[0-9]{1,5}$/;

/** A parsed image reference. */
export interface RegistryReference {
  /** Registry host with optional port, as used in URLs and credential lookups: `ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  readonly registry: string;
  /** Repository path inside the registry: `library/hello`, `org/app`. */
  readonly repository: string;
  /** The tag; `latest` when neither tag nor digest was given. */
  readonly tag: string | undefined;
  /** The digest (`sha256:…`) when the reference pins one. */
  readonly digest: string | undefined;
}

/**
 * Parse an image reference.
 *
 * @param text - `REGISTRY/REPO:TAG`, `REPO@sha256:…`, `hello`, `localhost:5000/x`, `[::1]:5000/x:t`
 * @returns the normalised reference (Docker Hub names completed, tag `latest` by default)
 * @throws {RegistryError} REGISTRY_BAD_REFERENCE when the text is not a valid reference
 * @example
 * parseReference('hello'); // { registry: 'index.docker.io', repository: 'library/hello', tag: 'latest', digest: undefined }
 */
export function parseReference(text: string): RegistryReference {
  const bad = (why: string): RegistryError =>
    new RegistryError('REGISTRY_BAD_REFERENCE', `invalid image reference ${JSON.stringify(text)}: ${why}`, {
      hint: 'write references as REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:HEX (for example 127.0.0.1:5000/app:1.0)',
      data: { reference: text },
    });
  if (text.length === 0) throw bad('it is empty');
  if (text.length > MAX_REFERENCE_LENGTH) throw bad(`it is longer than ${MAX_REFERENCE_LENGTH} characters`);
  if (/[^\x21-\x7e]/.test(text)) throw bad('it contains whitespace, control or non-ASCII characters');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) {
      throw bad(`digest ${JSON.stringify(digest)} is not sha256:<64 hex> or sha512:<128 hex> (lowercase)`);
    }
  }

  let registry: string;
  let path: string;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (
    slash >= 0 &&
    (first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first.startsWith('[') ||
      first !== first.toLowerCase())
  ) {
    registry = normaliseRegistry(first, bad);
    path = rest.slice(slash + 1);
  } else {
    registry = DOCKER_HUB_REGISTRY;
    path = rest;
  }

  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(`tag ${JSON.stringify(tag)} is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  if (path.length === 0) throw bad('the repository name is empty');
  const components = path.split('/');
  for (const component of components) {
    if (!COMPONENT_RE.test(component)) {
      throw bad(
        `repository component ${JSON.stringify(component)} must be lowercase letters and digits separated by '.', '_', '__' or '-'`,
      );
    }
  }
  if (registry === DOCKER_HUB_REGISTRY && components.length === 1) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) {
    throw bad(`the name ${registry}/${path} is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: path, tag, digest };
}

/**
 * Parse a registry name as `tk apko login` takes it: `ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`,
 * `docker.io` (→ `index.docker.io`), also with an `https://` or `http://` prefix and a path, which are
 * dropped (`https://index.docker.io/v1/` → `index.docker.io`).
 *
 * @param text - the registry name
 * @returns the registry host with optional port
 * @throws {RegistryError} REGISTRY_BAD_REFERENCE when it is not a host name, IP address or `[IPv6]`, with an optional port
 */
export function parseRegistry(text: string): string {
  const bad = (why: string): RegistryError =>
    new RegistryError('REGISTRY_BAD_REFERENCE', `invalid registry ${JSON.stringify(text)}: ${why}`, {
      hint: 'name the registry as HOST[:PORT], for example ghcr.io or 127.0.0.1:5000',
      data: { registry: text },
    });
  if (text.length === 0) throw bad('it is empty');
  if (text.length > MAX_REFERENCE_LENGTH) throw bad(`it is longer than ${MAX_REFERENCE_LENGTH} characters`);
  if (/[^\x21-\x7e]/.test(text)) throw bad('it contains whitespace, control or non-ASCII characters');
  let host = text.replace(/^https?:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  return normaliseRegistry(host, bad);
}

function normaliseRegistry(host: string, bad: (why: string) => RegistryError): string {
  let name: string;
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) throw bad(`registry ${JSON.stringify(host)} has an unclosed '['`);
    name = host.slice(1, end);
    const after = host.slice(end + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw bad(`registry ${JSON.stringify(host)} has text after ']'`);
      port = after.slice(1);
    }
    if (!isIPv6(name)) throw bad(`${JSON.stringify(name)} is not an IPv6 address`);
    name = `[${name.toLowerCase()}]`;
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) {
      name = host.slice(0, colon);
      port = host.slice(colon + 1);
    } else {
      name = host;
    }
    if (name.length === 0) throw bad('the registry host is empty');
    if (name.length > 253 || !name.split('.').every((label) => HOST_LABEL_RE.test(label))) {
      throw bad(`registry host ${JSON.stringify(name)} is not a valid host name or IPv4 address`);
    }
    name = name.toLowerCase();
  }
  if (port !== undefined) {
    if (!PORT_RE.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw bad(`port ${JSON.stringify(port)} is not a number from 1 to 65535`);
    }
    port = String(Number(port));
  }
  if (port === undefined && (name === 'docker.io' || name === DOCKER_HUB_REGISTRY))
    return DOCKER_HUB_REGISTRY;
  return port === undefined ? name : `${name}:${port}`;
}

/**
 * Format a reference back to text, fully qualified: `registry/repository[:tag][@digest]`.
 *
 * @param ref - a parsed reference
 * @returns the reference text
 */
export function formatReference(ref: RegistryReference): string {
  let text = `${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) text += `:${ref.tag}`;
  if (ref.digest !== undefined) text += `@${ref.digest}`;
  return text;
}

/** Built on first use: loading the module creates no native objects and costs nothing. */
let ranges: { loopback: BlockList; private: BlockList } | undefined;

function addressRanges(): { loopback: BlockList; private: BlockList } {
  if (ranges !== undefined) return ranges;
  const loopback = new BlockList();
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  loopback.addAddress('::1', 'ipv6');
  const privateRanges = new BlockList();
  privateRanges.addSubnet('127.0.0.0', 8, 'ipv4');
  privateRanges.addSubnet('10.0.0.0', 8, 'ipv4');
  privateRanges.addSubnet('172.16.0.0', 12, 'ipv4');
  privateRanges.addSubnet('192.168.0.0', 16, 'ipv4');
  privateRanges.addSubnet('169.254.0.0', 16, 'ipv4');
  privateRanges.addSubnet('100.64.0.0', 10, 'ipv4');
  privateRanges.addSubnet('0.0.0.0', 8, 'ipv4');
  privateRanges.addAddress('::1', 'ipv6');
  privateRanges.addAddress('::', 'ipv6');
  privateRanges.addSubnet('fc00::', 7, 'ipv6');
  privateRanges.addSubnet('fe80::', 10, 'ipv6');
  ranges = { loopback, private: privateRanges };
  return ranges;
}

/** Strip a port and IPv6 brackets: `[::1]:5000` → `::1`, `127.0.0.1:80` → `127.0.0.1`, `::1` → `::1`. */
function bareHost(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(1, end);
  }
  const colons = host.split(':').length - 1;
  return colons === 1 ? host.slice(0, host.indexOf(':')) : host;
}

/**
 * Whether a host is a loopback address: `localhost`, `127.0.0.0/8`, `::1` (and IPv4-mapped
 * `::ffff:127.x.x.x`), with or without a port or IPv6 brackets. Only such registries are spoken to
 * over plain HTTP without `insecure`. Host names other than `localhost` are never loopback: whether
 * they resolve there is up to DNS.
 *
 * @param host - `HOST`, `HOST:PORT`, `[IPv6]:PORT` or a bare IPv6 address
 * @returns true for loopback hosts
 */
export function isLoopback(host: string): boolean {
  const bare = bareHost(host).toLowerCase();
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return addressRanges().loopback.check(bare, 'ipv4');
  if (isIPv6(bare)) return addressRanges().loopback.check(bare, 'ipv6');
  return false;
}

/**
 * Whether a host is an IP literal in a loopback, private, link-local, shared or unspecified range (RFC
 * 1918, RFC 4193, 169.254/16 …). Used to refuse token realms that point a remote registry's client at
 * internal services.
 *
 * @param host - a host as in {@link isLoopback}
 * @returns true for such IP literals; false for host names and public addresses
 */
export function isPrivateAddress(host: string): boolean {
  const bare = bareHost(host).toLowerCase();
  if (isIPv4(bare)) return addressRanges().private.check(bare, 'ipv4');
  if (isIPv6(bare)) return addressRanges().private.check(bare, 'ipv6');
  return false;
}

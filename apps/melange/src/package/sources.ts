/**
 * The upstream sources a package's SBOM names (melange `Pipeline.SBOMPackageForUpstreamSource`,
 * `pkg/config/config.go`): one SPDX package per enabled `fetch` or `git-checkout` step.
 *
 * - `fetch`: name/version from the step's `purl-name`/`purl-version` (default: the package's name and
 *   version), download location = `uri`, SHA-256/SHA-512 checksums from `expected-sha256`/`expected-sha512`,
 *   purl `pkg:generic/<name>@<version>?checksum=<alg>:<hex>&download_url=<uri>` (SHA-512 wins when both).
 * - `git-checkout` with an `expected-commit` or `tag` (else none): a GitHub repository gives
 *   `pkg:github/<org>/<repo>@<tag or commit>` with the org as supplier and the archive URL as download
 *   location; another host gives `pkg:generic/<path>@<version>?vcs_url=git+<repo>@<commit>`. melange points
 *   the download location of the latter at Chainguard's tarball mirror; tk uses the repository URL.
 *
 * The build's fetch results (`{ uri, algorithm, hash }`) can be given too: those that no fetch step already
 * describes are added the same way.
 */
import type { PackageSource } from '@tk/sbom';
import { formatPurl } from '@tk/sbom';
import type { CompiledStep } from '../recipe/types.ts';

/** A source the build fetched into its cache (what the source fetcher returns). */
export interface FetchResultLike {
  uri: string;
  /** `sha256` or `sha512`. */
  algorithm: string;
  /** Lowercase hex digest. */
  hash: string;
}

/** The package a source belongs to: default purl name and version, and the license git sources declare. */
export interface SourceOwner {
  name: string;
  /** Upstream version (without the epoch). */
  version: string;
  /** The package's license expression (git sources declare it, as melange does). */
  license?: string;
}

function fetchSource(
  uri: string,
  sha256: string,
  sha512: string,
  name: string,
  version: string,
): PackageSource {
  const checksums: { algorithm: string; value: string }[] = [];
  let checksum: string | undefined;
  if (sha256 !== '') {
    checksums.push({ algorithm: 'SHA256', value: sha256 });
    checksum = `sha256:${sha256}`;
  }
  if (sha512 !== '') {
    checksums.push({ algorithm: 'SHA512', value: sha512 });
    checksum = `sha512:${sha512}`;
  }
  return {
    name,
    version,
    ...(uri === '' ? {} : { downloadLocation: uri }),
    ...(checksums.length === 0 ? {} : { checksums }),
    purl: formatPurl({
      type: 'generic',
      name,
      version,
      qualifiers: { download_url: uri, ...(checksum === undefined ? {} : { checksum }) },
    }),
  };
}

function gitSource(step: CompiledStep, owner: SourceOwner): PackageSource | undefined {
  const repo = step.with['repository'] ?? '';
  const tag = step.with['tag'] ?? '';
  const commit = step.with['expected-commit'] ?? '';
  const ref = commit !== '' ? commit : tag;
  if (repo === '' || ref === '') return undefined;
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return undefined;
  }
  const version = tag !== '' ? tag : commit;
  const path = url.pathname.replace(/^\/+/, '');
  const license = owner.license === undefined || owner.license === '' ? {} : { license: owner.license };
  if (url.host === 'github.com') {
    const [org = '', rest = ''] = path.split(/\/(.*)/s);
    const name = rest.replace(/\.git$/, '').replace(/\/+$/, '');
    if (org === '' || name === '') return undefined;
    return {
      name,
      version,
      downloadLocation: `${url.protocol}//github.com/${org}/${name}/archive/${ref}.tar.gz`,
      purl: formatPurl({ type: 'github', namespace: org, name, version }),
      supplier: org,
      ...license,
    };
  }
  const name = path.replace(/\.git$/, '');
  if (name === '') return undefined;
  const vcsUrl = `${repo.startsWith('git') ? repo : `git+${repo}`}${commit === '' ? '' : `@${commit}`}`;
  return {
    name,
    version,
    downloadLocation: repo,
    purl: formatPurl({ type: 'generic', name, version, qualifiers: { vcs_url: vcsUrl } }),
    ...license,
  };
}

/**
 * The sources named by compiled steps (enabled `fetch` and `git-checkout` steps, at any depth, in order).
 *
 * @param steps - compiled pipeline steps
 * @param owner - default purl name/version and the license for git sources
 * @returns SBOM source packages
 */
export function sourcesFromSteps(steps: readonly CompiledStep[], owner: SourceOwner): PackageSource[] {
  const out: PackageSource[] = [];
  const visit = (list: readonly CompiledStep[]): void => {
    for (const step of list) {
      if (!step.enabled) continue;
      if (step.uses === 'fetch') {
        const name = step.with['purl-name'] || owner.name;
        const version = step.with['purl-version'] || owner.version;
        out.push(
          fetchSource(
            step.with['uri'] ?? '',
            (step.with['expected-sha256'] ?? '').toLowerCase(),
            (step.with['expected-sha512'] ?? '').toLowerCase(),
            name,
            version,
          ),
        );
      } else if (step.uses === 'git-checkout') {
        const source = gitSource(step, owner);
        if (source !== undefined) out.push(source);
      } else {
        visit(step.pipeline);
      }
    }
  };
  visit(steps);
  return out;
}

/**
 * Sources from the build's fetch results, leaving out those `known` already describes (same checksum).
 *
 * @param fetched - the fetcher's results
 * @param owner - purl name and version
 * @param known - sources already listed
 * @returns the additional SBOM source packages
 */
export function sourcesFromFetches(
  fetched: readonly FetchResultLike[],
  owner: SourceOwner,
  known: readonly PackageSource[] = [],
): PackageSource[] {
  const seen = new Set(known.flatMap((s) => (s.checksums ?? []).map((c) => c.value.toLowerCase())));
  const out: PackageSource[] = [];
  for (const f of fetched) {
    const hash = f.hash.toLowerCase();
    if (seen.has(hash)) continue;
    seen.add(hash);
    const algorithm = f.algorithm.toLowerCase();
    out.push(
      fetchSource(
        f.uri,
        algorithm === 'sha256' ? hash : '',
        algorithm === 'sha512' ? hash : '',
        owner.name,
        owner.version,
      ),
    );
  }
  return out;
}

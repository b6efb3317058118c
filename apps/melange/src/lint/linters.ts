/**
 * Every package linter, with melange's names, default levels and explanations (melange.md §8; melange
 * `pkg/linter/linter.go`). Recipe-level checks live in `config.ts` (their names start with `config/`).
 */
import type { LinterDefinition } from './rule.ts';
import { binaryArchLinter, stripLinter } from './rules-elf.ts';
import { duplicateLinter } from './rules-duplicate.ts';
import { nonLinuxLinter, unsupportedArchLinter } from './rules-arch.ts';
import {
  cudaDriverLibLinter,
  devLinter,
  dllLinter,
  documentationLinter,
  dylibLinter,
  emptyLinter,
  infodirLinter,
  laFilesLinter,
  lddcheckLinter,
  manInfoLinter,
  objectLinter,
  optLinter,
  pkgconfLinter,
  sbomLinter,
  srvLinter,
  staticArchiveLinter,
  tempDirLinter,
  usrLocalLinter,
  usrmergeLinter,
  varEmptyLinter,
} from './rules-paths.ts';
import { setuidgidLinter, worldWriteLinter } from './rules-perms.ts';
import { pythonDocsLinter, pythonMultipleLinter, pythonTestLinter } from './rules-python.ts';

const COMPAT = 'This package should be a -compat package';
const DOCS = 'Place documentation into a separate package or remove it';

/** The package linters, sorted by name. */
export const LINTERS: readonly LinterDefinition[] = [
  {
    name: 'binaryarch',
    explain:
      'This package contains binaries compiled for unsupported architectures (only aarch64/arm64 and amd64/x86_64 binaries are supported)',
    defaultLevel: 'warn',
    run: binaryArchLinter,
  },
  {
    name: 'cudaruntimelib',
    explain:
      'CUDA driver-specific libraries should be passed into the container by the host. Installing them in an image could override the host libraries and break GPU support. If this library is needed for build-time linking or ldd-check tests, please use a package containing a stub library instead. For libcuda.so, use nvidia-cuda-cudart-$cuda_version. For libnvidia-ml.so, use nvidia-cuda-nvml-dev-$cuda_version.',
    defaultLevel: 'warn',
    run: cudaDriverLibLinter,
  },
  {
    name: 'dev',
    explain:
      'If this package is creating /dev nodes, it should use udev instead; otherwise, remove any files in /dev',
    defaultLevel: 'require',
    run: devLinter,
  },
  { name: 'dll', explain: 'This package contains Windows libraries', defaultLevel: 'warn', run: dllLinter },
  { name: 'documentation', explain: DOCS, defaultLevel: 'off', run: documentationLinter },
  {
    name: 'duplicate',
    explain:
      'This package contains files with the same name and content in different directories (consider symlinking)',
    defaultLevel: 'warn',
    run: duplicateLinter,
  },
  { name: 'dylib', explain: 'This package contains macOS libraries', defaultLevel: 'warn', run: dylibLinter },
  {
    name: 'empty',
    explain:
      'Verify that this package is supposed to be empty; if it is, disable this linter; otherwise check the build',
    defaultLevel: 'off',
    run: emptyLinter,
  },
  {
    name: 'infodir',
    explain: 'Remove /usr/share/info/dir from the package (run split/infodir)',
    defaultLevel: 'require',
    run: infodirLinter,
  },
  {
    name: 'lddcheck',
    explain: 'This package provides shared object files, please add the ldd-check test pipeline',
    defaultLevel: 'warn',
    run: lddcheckLinter,
  },
  {
    name: 'libtool/la-files',
    explain:
      'Remove libtool archive (.la) files from the package, or disable this linter if they are required',
    defaultLevel: 'require',
    run: laFilesLinter,
  },
  { name: 'maninfo', explain: DOCS, defaultLevel: 'warn', run: manInfoLinter },
  {
    name: 'nonlinux',
    explain: 'This package contains references to non-Linux paths',
    defaultLevel: 'warn',
    run: nonLinuxLinter,
  },
  {
    name: 'object',
    explain: 'This package contains intermediate object files (.o files)',
    defaultLevel: 'warn',
    run: objectLinter,
  },
  { name: 'opt', explain: COMPAT, defaultLevel: 'warn', run: optLinter },
  {
    name: 'pkgconf',
    explain: 'This package provides files in a pkgconfig directory, please add the pkgconf test pipeline',
    defaultLevel: 'warn',
    run: pkgconfLinter,
  },
  {
    name: 'python/docs',
    explain: 'Remove all docs directories from the package',
    defaultLevel: 'warn',
    run: pythonDocsLinter,
  },
  {
    name: 'python/multiple',
    explain:
      'Split this package up into multiple packages and verify you are not improperly using pip install',
    defaultLevel: 'warn',
    run: pythonMultipleLinter,
  },
  {
    name: 'python/test',
    explain: 'Remove all test directories from the package',
    defaultLevel: 'warn',
    run: pythonTestLinter,
  },
  {
    name: 'sbom',
    explain: 'Remove any files in /var/lib/db/sbom from the package',
    defaultLevel: 'warn',
    run: sbomLinter,
  },
  {
    name: 'setuidgid',
    explain: 'Unset the setuid/setgid bit on the relevant files, or remove this linter',
    defaultLevel: 'require',
    run: setuidgidLinter,
  },
  { name: 'srv', explain: COMPAT, defaultLevel: 'warn', run: srvLinter },
  {
    name: 'staticarchive',
    explain: 'This package contains static archives (.a files)',
    defaultLevel: 'warn',
    run: staticArchiveLinter,
  },
  {
    name: 'strip',
    explain: 'Properly strip all binaries in the pipeline',
    defaultLevel: 'warn',
    run: stripLinter,
  },
  {
    name: 'tempdir',
    explain:
      'Remove any offending files in temporary dirs in the pipeline, or add a /usr/lib/tmpfiles.d/ snippet in the case of dirs under /run/',
    defaultLevel: 'require',
    run: tempDirLinter,
  },
  {
    name: 'unsupportedarch',
    explain:
      'This package contains references to unsupported architectures (only aarch64/arm64 and amd64/x86_64 are supported)',
    defaultLevel: 'warn',
    run: unsupportedArchLinter,
  },
  { name: 'usrlocal', explain: COMPAT, defaultLevel: 'warn', run: usrLocalLinter },
  { name: 'usrmerge', explain: 'Move binary to /usr/bin', defaultLevel: 'require', run: usrmergeLinter },
  {
    name: 'varempty',
    explain: 'Remove any offending files in /var/empty in the pipeline',
    defaultLevel: 'require',
    run: varEmptyLinter,
  },
  {
    name: 'worldwrite',
    explain:
      'Change the permissions of any permissive files in the package, disable the linter, or make this a -compat package',
    defaultLevel: 'require',
    run: worldWriteLinter,
  },
];

const BY_NAME = new Map(LINTERS.map((l) => [l.name, l]));

/**
 * A package linter by name.
 *
 * @param name - linter name
 * @returns its definition, or undefined
 */
export function linterByName(name: string): LinterDefinition | undefined {
  return BY_NAME.get(name);
}

/**
 * melange's default `--lint-require` list.
 *
 * @returns sorted linter names
 */
export function defaultRequiredLinters(): string[] {
  return LINTERS.filter((l) => l.defaultLevel === 'require').map((l) => l.name);
}

/**
 * melange's default `--lint-warn` list.
 *
 * @returns sorted linter names
 */
export function defaultWarnLinters(): string[] {
  return LINTERS.filter((l) => l.defaultLevel === 'warn').map((l) => l.name);
}

// A private apt configuration: its own sources, lists, cache and an empty dpkg status under one folder.
// The host's /etc/apt, its dpkg architectures and its package lists are neither read nor changed, so
// neither `dpkg --add-architecture arm64` nor root rights over /etc/apt are needed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Write the configuration under `dir` (idempotent; the lists already there are kept).
 *
 * @param {string} dir e.g. `<out>/apt/amd64` or `<out>/apt/source`
 * @param {{ arch: string, lines: string[], keyring: string, type?: 'deb' | 'deb-src' }} options `lines`
 *   are `URI SUITE COMPONENT…` as in packages.json; `arch` becomes apt's native architecture
 * @returns {{ dir: string, conf: string }}
 */
export function aptSetup(dir, { arch, lines, keyring, type = 'deb' }) {
  for (const sub of ['lists/partial', 'cache/archives/partial', 'parts', 'sources.list.d', 'preferences.d'])
    mkdirSync(join(dir, sub), { recursive: true });
  if (!existsSync(join(dir, 'status'))) writeFileSync(join(dir, 'status'), '');
  writeFileSync(join(dir, 'sources.list'), lines.map((l) => `${type} [signed-by=${keyring}] ${l}\n`).join(''));
  const conf = [
    `Dir::State::Lists "${dir}/lists";`,
    `Dir::State::status "${dir}/status";`,
    `Dir::Cache "${dir}/cache";`,
    `Dir::Etc::SourceList "${dir}/sources.list";`,
    `Dir::Etc::SourceParts "${dir}/sources.list.d";`,
    `Dir::Etc::Parts "${dir}/parts";`,
    `Dir::Etc::Preferences "${dir}/preferences";`,
    `Dir::Etc::PreferencesParts "${dir}/preferences.d";`,
    `APT::Architecture "${arch}";`,
    `APT::Architectures { "${arch}"; };`,
    'Acquire::Languages "none";',
    // apt drops to the _apt user only as root, and _apt cannot write a folder it does not own.
    ...(process.getuid?.() === 0 ? ['APT::Sandbox::User "root";'] : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'apt.conf'), conf);
  return { dir, conf: join(dir, 'apt.conf') };
}

/**
 * Run an apt command (`apt-get`, `apt-cache`) with the private configuration.
 *
 * @returns {import('node:child_process').SpawnSyncReturns<string>}
 * @throws {Error} when the command cannot be started
 */
export function runApt(aptInfo, command, args, cwd) {
  const result = spawnSync(command, ['-q', ...args], {
    cwd,
    env: { ...process.env, APT_CONFIG: aptInfo.conf, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (result.error !== undefined) throw new Error(`cannot run ${command}: ${result.error.message}`);
  return result;
}

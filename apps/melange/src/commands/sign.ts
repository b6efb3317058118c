import { readFile } from 'node:fs/promises';
import { readApk, resignApk } from '@tk/apk';
import { silentLogger, writeFileAtomic, type Logger } from '@tk/core';
import { readPrivateKey, signatureKeyName, type SignatureAlgorithm } from '@tk/keys';
import { signIndexArchive } from '@tk/repo';

/** Options of {@link signPackages}. */
export interface SignPackagesOptions {
  packages: readonly string[];
  signingKey: string;
  /** sha256 (default) or sha1 for Alpine's tools. */
  algorithm?: SignatureAlgorithm;
  logger?: Logger;
}

/**
 * `melange sign`: replace each package's signature in place, keeping control and data byte for byte.
 *
 * @param options - packages and key
 * @returns the number of packages signed
 */
export async function signPackages(options: SignPackagesOptions): Promise<number> {
  const logger = options.logger ?? silentLogger;
  const key = await readPrivateKey(options.signingKey);
  const signer = {
    key,
    keyName: signatureKeyName(options.signingKey),
    ...(options.algorithm === undefined ? {} : { algorithm: options.algorithm }),
  };
  for (const file of options.packages) {
    const bytes = new Uint8Array(await readFile(file));
    const pkg = readApk(bytes, { source: file, logger });
    await writeFileAtomic(file, await resignApk(bytes, pkg, signer));
    logger.info(`signed ${file} with ${signer.keyName}`);
  }
  return options.packages.length;
}

/** Options of {@link signIndex}. */
export interface SignIndexOptions {
  index: string;
  signingKey: string;
  force?: boolean;
  algorithm?: SignatureAlgorithm;
  logger?: Logger;
}

/**
 * `melange sign-index`: sign an index in place; an already signed index needs `force`.
 *
 * @param options - index path, key, force
 */
export async function signIndex(options: SignIndexOptions): Promise<void> {
  const key = await readPrivateKey(options.signingKey);
  const signer = {
    key,
    keyName: signatureKeyName(options.signingKey),
    ...(options.algorithm === undefined ? {} : { algorithm: options.algorithm }),
  };
  const signed = await signIndexArchive(new Uint8Array(await readFile(options.index)), signer, {
    force: options.force ?? false,
  });
  await writeFileAtomic(options.index, signed);
  (options.logger ?? silentLogger).info(`signed ${options.index} with ${signer.keyName}`);
}

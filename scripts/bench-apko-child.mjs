#!/usr/bin/env node
// One measured image build in a fresh process (so peak RSS is this build's): prints JSON.
import { arch } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../apps/apko/dist/index.js';
import { gzip, closeGzipWorkers } from '../packages/gzip/dist/index.js';
import { writeLayerTar } from '../packages/oci/dist/index.js';
import { treeEntries } from '../packages/rootfs/dist/index.js';

const [config, archs, cacheDir] = process.argv.slice(2);
const root = join(import.meta.dirname, '..');
const start = performance.now();
const result = await buildImage({
  configPath: config,
  workdir: root,
  env: {},
  hostArch: arch(),
  archs: archs.split(','),
  cacheDir,
  toolVersion: 'bench',
});
const ms = performance.now() - start;
// The compression limit: gzip the same layer tars again, alone.
let compressMs = 0;
let uncompressed = 0;
for (const a of result.archs) {
  const tar = writeLayerTar(treeEntries(a.tree));
  uncompressed += tar.size;
  const t = performance.now();
  await gzip(tar.chunks);
  compressMs += performance.now() - t;
}
await closeGzipWorkers();
console.log(
  JSON.stringify({
    ms,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    compressMs,
    uncompressed,
    index: result.index.index.digest,
  }),
);

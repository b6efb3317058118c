#!/usr/bin/env bash
# Installs everything tk's build, tests and examples need on a fresh Debian 12 machine, then builds.
# Idempotent: it installs only what is missing. Run as root (apt); Node 20 must already be there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: real tools that check tk's output (see docs/testing.md).
need_apt=()
for pair in openssl:openssl python3:python3 tar:tar gzip:gzip git:git bwrap:bubblewrap busybox:busybox skopeo:skopeo umoci:umoci \
  podman:podman runc:runc docker-registry:docker-registry htpasswd:apache2-utils qemu-aarch64-static:qemu-user-static tmux:tmux; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need_apt+=("${pair#*:}")
done
# The WebAssembly zlib's toolchain (packages/gzip/wasm/build.sh; a test rebuilds zlib.wasm and compares).
for pair in clang-14:clang-14 wasm-ld-14:lld-14 /usr/lib/wasm32-wasi/libc.a:wasi-libc \
  /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a:libclang-rt-14-dev-wasm32; do
  what="${pair%:*}"
  if [ "${what#/}" != "$what" ]; then [ -e "$what" ] || need_apt+=("${pair##*:}"); else
    command -v "$what" >/dev/null 2>&1 || need_apt+=("${pair##*:}"); fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: run as root to install Debian packages" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# pnpm, pinned (corepack's signature check fails on these machines).
if [ "$(pnpm --version 2>/dev/null || true)" != "9.15.9" ]; then
  echo "setup: installing pnpm 9.15.9"
  npm install -g pnpm@9.15.9 >/dev/null 2>&1
fi

pnpm install --frozen-lockfile --reporter=silent
pnpm run -s build

# qemu-user via binfmt_misc (with the F flag) so arm64 binaries run, also inside sandboxes and podman.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && [ "$(id -u)" = 0 ]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
  if [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] && [ -w /proc/sys/fs/binfmt_misc/register ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register || true
  fi
fi

# The offline bootstrap apk repository (Debian 12 packages repackaged as signed apks), cached in
# .cache/bootstrap; a no-op when nothing changed. Then the pinned upstream source tarballs from Debian's
# source archive, laid out as a melange source cache (.cache/bootstrap/melange-cache). See
# test-fixtures/bootstrap/README.md.
node test-fixtures/bootstrap/build-repo.mjs
node test-fixtures/bootstrap/sources.mjs
echo "setup: done"

#!/usr/bin/env bash
# Builds tk-index-scan.wasm, the WebAssembly fast path of @tk/repo's APKINDEX scan (src/index-scan.ts),
# from tk-index-scan.c with Debian 12's clang 14 and lld. The C file uses no library, so nothing else is
# needed. The build is reproducible: src/index-scan.test.ts builds the module again and compares it with
# the committed file.
#
#   packages/repo/wasm/build.sh [OUTDIR]      (default OUTDIR: packages/repo/wasm)
#
# Needs: clang-14 lld-14 (apt).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
outdir="$(realpath -m "${1:-$here}")"

fail() { echo "build.sh: $*" >&2; exit 1; }
for tool in clang-14 wasm-ld-14; do
  command -v "$tool" >/dev/null || fail "$tool missing (apt-get install clang-14 lld-14)"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$outdir"
cp "$here/tk-index-scan.c" "$work/"
# -ffile-prefix-map keeps the temporary path out of the output; no debug information is emitted.
(cd "$work" && clang-14 --target=wasm32 -msimd128 -nostdlib -O2 -DNDEBUG -g0 -ffile-prefix-map="$work"=tk-index-scan \
  -c tk-index-scan.c -o tk-index-scan.o)
wasm-ld-14 --no-entry --strip-all --gc-sections -z stack-size=4096 \
  --export=tk_scan --export=tk_scan_reset --export=tk_arch_id --export=tk_arch_count \
  --export=tk_arch_start --export=tk_arch_length --export=__heap_base \
  "$work/tk-index-scan.o" -o "$work/tk-index-scan.wasm"
cp "$work/tk-index-scan.wasm" "$outdir/tk-index-scan.wasm"
echo "build.sh: $outdir/tk-index-scan.wasm $(sha256sum "$outdir/tk-index-scan.wasm" | cut -d' ' -f1) ($(stat -c %s "$outdir/tk-index-scan.wasm") bytes)"

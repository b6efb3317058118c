#!/usr/bin/env bash
# Builds zlib.wasm (reference zlib's deflate as WebAssembly, for @tk/gzip) from Debian's zlib source with
# Debian's clang 14, lld and wasi-libc. The build is reproducible: the same inputs give the same bytes,
# and packages/gzip/src/wasm.test.ts checks the committed file against a fresh build.
#
#   packages/gzip/wasm/build.sh [OUT]      (default OUT: packages/gzip/wasm/zlib.wasm)
#
# Needs: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 (apt), and the source tarball, which
# test-fixtures/bootstrap/sources.mjs fetches with apt-get source (zlib is pinned in its packages.json).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="$(realpath -m "${1:-$here/zlib.wasm}")"
tarball="${ZLIB_TARBALL:-$root/.cache/bootstrap/sources/zlib_1.2.13.dfsg.orig.tar.bz2}"
want=71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1

for tool in clang-14 wasm-ld-14; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool missing (apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32)" >&2; exit 1; }
done
[ -f /usr/lib/wasm32-wasi/libc.a ] || { echo "build.sh: wasi-libc missing (apt-get install wasi-libc)" >&2; exit 1; }
[ -f "$tarball" ] || { echo "build.sh: $tarball missing (run node test-fixtures/bootstrap/sources.mjs)" >&2; exit 1; }
got="$(sha256sum "$tarball" | cut -d' ' -f1)"
[ "$got" = "$want" ] || { echo "build.sh: $tarball has sha256 $got, expected $want" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -xjf "$tarball" -C "$work"
src="$work/zlib-1.2.13.dfsg"
cp "$here/tk-deflate.c" "$src/"
# Only what deflate needs: no gz* file functions, no inflate. -ffile-prefix-map keeps the temporary
# path out of the output; no debug information is emitted.
objects=()
for file in adler32 crc32 deflate trees zutil tk-deflate; do
  (cd "$src" && clang-14 --target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi \
    -O2 -DNDEBUG -DHAVE_HIDDEN -g0 -ffile-prefix-map="$src"=zlib -c "$file.c" -o "$file.o")
  objects+=("$src/$file.o")
done
wasm-ld-14 --no-entry --strip-all --gc-sections -L/usr/lib/wasm32-wasi \
  "${objects[@]}" -lc /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a \
  -z stack-size=65536 --initial-memory=262144 \
  -o "$work/zlib.wasm"
mkdir -p "$(dirname "$out")"
cp "$work/zlib.wasm" "$out"
echo "build.sh: $out $(sha256sum "$out" | cut -d' ' -f1) ($(stat -c %s "$out") bytes)"

#!/usr/bin/env bash
# Builds the two WebAssembly deflate modules of @tk/gzip from Debian's source packages with Debian's
# clang 14, lld and wasi-libc:
#   zlib.wasm        reference zlib 1.2.13's deflate (sync-flushed blocks primed with a dictionary)
#   libdeflate.wasm  libdeflate 1.14's compressor (complete raw deflate streams)
# The build is reproducible: the same inputs give the same bytes, and packages/gzip/src/wasm.test.ts
# checks the committed files against a fresh build.
#
#   packages/gzip/wasm/build.sh [OUTDIR]      (default OUTDIR: packages/gzip/wasm)
#
# Needs: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 (apt), and the source tarballs, which
# test-fixtures/bootstrap/sources.mjs fetches with apt-get source (both are pinned in its packages.json).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
outdir="$(realpath -m "${1:-$here}")"
sources="${TK_SOURCES_DIR:-$root/.cache/bootstrap/sources}"
builtins=/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a

fail() { echo "build.sh: $*" >&2; exit 1; }
for tool in clang-14 wasm-ld-14; do
  command -v "$tool" >/dev/null || fail "$tool missing (apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32)"
done
[ -f /usr/lib/wasm32-wasi/libc.a ] || fail "wasi-libc missing (apt-get install wasi-libc)"
[ -f "$builtins" ] || fail "compiler-rt for wasm32 missing (apt-get install libclang-rt-14-dev-wasm32)"

# unpack TARBALL SHA256 DIR: check the tarball and extract it into DIR
unpack() {
  [ -f "$sources/$1" ] || fail "$sources/$1 missing (run node test-fixtures/bootstrap/sources.mjs)"
  local got
  got="$(sha256sum "$sources/$1" | cut -d' ' -f1)"
  [ "$got" = "$2" ] || fail "$sources/$1 has sha256 $got, expected $2"
  tar -xf "$sources/$1" -C "$3"
}

# compile NAME SRCDIR FILE...: compile the files (paths relative to SRCDIR) and link NAME.wasm.
# -ffile-prefix-map keeps the temporary path out of the output; no debug information is emitted.
compile() {
  local name="$1" src="$2" objects=() file
  shift 2
  for file in "$@"; do
    (cd "$src" && clang-14 --target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi \
      -O2 -DNDEBUG -g0 -I. -ffile-prefix-map="$src"="$name" -c "$file" -o "$file.o")
    objects+=("$src/$file.o")
  done
  wasm-ld-14 --no-entry --strip-all --gc-sections -L/usr/lib/wasm32-wasi \
    "${objects[@]}" -lc "$builtins" -z stack-size=65536 -o "$work/$name.wasm"
  cp "$work/$name.wasm" "$outdir/$name.wasm"
  echo "build.sh: $outdir/$name.wasm $(sha256sum "$outdir/$name.wasm" | cut -d' ' -f1) ($(stat -c %s "$outdir/$name.wasm") bytes)"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$outdir"

# zlib: only what deflate needs (no gz* file functions, no inflate), unchanged.
unpack zlib_1.2.13.dfsg.orig.tar.bz2 71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1 "$work"
cp "$here/tk-deflate.c" "$work/zlib-1.2.13.dfsg/"
compile zlib "$work/zlib-1.2.13.dfsg" adler32.c crc32.c deflate.c trees.c zutil.c tk-deflate.c

# libdeflate: the compressor and the helpers it calls, unchanged (no decompressor, no zlib/gzip framing).
unpack libdeflate_1.14.orig.tar.gz 89e7df898c37c3427b0f39aadcf733731321a278771d20fc553f92da8d4808ac "$work"
cp "$here/tk-libdeflate.c" "$work/libdeflate-1.14/"
compile libdeflate "$work/libdeflate-1.14" lib/deflate_compress.c lib/utils.c tk-libdeflate.c

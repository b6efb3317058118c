/*
 * The WebAssembly face of libdeflate's compressor for @tk/gzip: one call compresses one block into a
 * complete raw deflate stream (the JavaScript side frames it as one gzip member). Built by build.sh;
 * the JavaScript side is packages/gzip/worker/deflate-block.mjs.
 */
#include <stddef.h>
#include <stdlib.h>
#include "libdeflate.h"

#define EXPORT(name) __attribute__((export_name(name)))

#define TK_E_LEVEL -1
#define TK_E_ALLOC -2
#define TK_E_SPACE -4

EXPORT("tk_alloc") void *tk_alloc(unsigned long size) { return malloc(size); }

EXPORT("tk_free") void tk_free(void *pointer) { free(pointer); }

/* An output size that always suffices for one complete raw deflate stream of the input. */
EXPORT("tk_bound") unsigned long tk_bound(unsigned long input_length) {
  return libdeflate_deflate_compress_bound(NULL, input_length);
}

/* One compressor per level, made on first use and kept: its state is reset by every call. */
static struct libdeflate_compressor *compressors[13];

/*
 * Compress `input` at `level` (0-12) into `output`. Returns the number of bytes written, or a negative
 * TK_E_* code.
 */
EXPORT("tk_deflate_raw")
long tk_deflate_raw(const unsigned char *input, unsigned long input_length, int level,
                    unsigned char *output, unsigned long output_capacity) {
  if (level < 0 || level > 12) return TK_E_LEVEL;
  if (compressors[level] == NULL) compressors[level] = libdeflate_alloc_compressor(level);
  if (compressors[level] == NULL) return TK_E_ALLOC;
  size_t written =
      libdeflate_deflate_compress(compressors[level], input, input_length, output, output_capacity);
  return written == 0 ? TK_E_SPACE : (long)written;
}

/*
 * The WebAssembly face of reference zlib's deflate for @tk/gzip: one call compresses one block of a
 * pigz-style parallel gzip stream (raw deflate, 32 KiB window, memLevel 8, default strategy), primed
 * with a dictionary and ended with a sync flush, or finished when it is the last block. Built by
 * build.sh; the JavaScript side is packages/gzip/worker/deflate-block.mjs.
 */
#include <stdlib.h>
#include "zlib.h"

#define EXPORT(name) __attribute__((export_name(name)))

/* Errors, as negative results (a byte count is never negative). */
#define TK_E_INIT -1
#define TK_E_DICTIONARY -2
#define TK_E_DEFLATE -3
#define TK_E_SPACE -4

EXPORT("tk_alloc") void *tk_alloc(unsigned long size) { return malloc(size); }

EXPORT("tk_free") void tk_free(void *pointer) { free(pointer); }

/* An output size that always suffices: zlib's compressBound for the input, plus room for the sync-flush
 * marker and the end of a stored block. */
EXPORT("tk_bound") unsigned long tk_bound(unsigned long input_length) {
  return input_length + (input_length >> 12) + (input_length >> 14) + (input_length >> 25) + 13 + 64;
}

/*
 * Compress `input` into `output` (of `output_capacity` bytes, at least tk_bound(input_length)).
 * Returns the number of bytes written, or a negative TK_E_* code.
 */
EXPORT("tk_deflate_block")
long tk_deflate_block(const unsigned char *input, unsigned long input_length,
                      const unsigned char *dictionary, unsigned long dictionary_length, int last,
                      int level, unsigned char *output, unsigned long output_capacity) {
  z_stream stream = {0};
  if (deflateInit2(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return TK_E_INIT;
  if (dictionary_length > 0 &&
      deflateSetDictionary(&stream, dictionary, (uInt)dictionary_length) != Z_OK) {
    deflateEnd(&stream);
    return TK_E_DICTIONARY;
  }
  stream.next_in = (unsigned char *)input;
  stream.avail_in = (uInt)input_length;
  stream.next_out = output;
  stream.avail_out = (uInt)output_capacity;
  int status = deflate(&stream, last ? Z_FINISH : Z_SYNC_FLUSH);
  long written = (long)(output_capacity - stream.avail_out);
  int complete = last ? status == Z_STREAM_END : status == Z_OK && stream.avail_in == 0 && stream.avail_out > 0;
  deflateEnd(&stream);
  if (status == Z_STREAM_ERROR) return TK_E_DEFLATE;
  return complete ? written : TK_E_SPACE;
}

/*
 * The fast path of @tk/repo's APKINDEX scan (src/index-scan.ts), compiled to WebAssembly by build.sh.
 *
 * tk_scan takes, from a position where a record starts, every following record written exactly as
 * apk-tools writes it: the records src/index-table.ts's CANONICAL_RECORD regular expression matches,
 * and no other. For each it fills the record's 16 columns as the TypeScript scan would, and hashes
 * what the solver looks names up by: the P: name, the name of each p: and i: token, and the C:
 * checksum's identity (hashName, hashProvideName, hashInstallIfName and q1IdentityHash in TypeScript,
 * bit for bit). It stops at the first record it cannot take whole and leaves that one to TypeScript,
 * which reads it line by line, reports what is wrong with it, and calls tk_scan again after it.
 *
 * No libc, no imports, no static data but the arch table: every buffer is given by the caller, which
 * sizes them for the worst case before the first call (see index-scan.ts). Every read is checked
 * against the text's length.
 */
#include <stdint.h>
#include <wasm_simd128.h>

typedef uint8_t u8;
typedef int32_t i32;
typedef uint32_t u32;

/* The column slots of a record (index-table.ts). */
enum {
  REC_START, REC_END, C_START, C_END, P_START, P_END, V_START, V_END,
  A_ID, FLAGS, D_START, D_END, PROVIDES_START, PROVIDES_END, I_START, I_END,
  STRIDE
};
#define CHECKSUM_OK 2
#define PRINTABLE_NAMES 4

/* The parameter block: the caller writes the inputs, tk_scan writes back the position it stopped at. */
enum {
  PARAM_TEXT,       /* the text (bytes after any byte order mark) */
  PARAM_LENGTH,     /* its length */
  PARAM_POS,        /* in: where to start; out: where tk_scan stopped */
  PARAM_COLS,       /* the columns of this call's records (overwritten by each call) */
  PARAM_COLS_ROOM,  /* how many records fit there */
  PARAM_DONE,       /* records taken by earlier calls: the index into the hash arrays */
  PARAM_OWN,        /* per record: hash of its P: name */
  PARAM_IDENTITY,   /* per record: identity hash of its C: */
  PARAM_PROVIDE_START, PARAM_PROVIDE_HASHES,
  PARAM_IIF_START, PARAM_IIF_HASHES,
  PARAM_RECORD_ROOM, /* how many records the hash arrays hold */
  PARAM_TOKEN_ROOM,  /* how many hashes each of the two token arrays holds */
  PARAM_COUNT
};

/* The distinct A: values seen, as positions in the text, in order of first appearance (at most 64). */
static u32 arch_start[64];
static u32 arch_length[64];
static i32 arch_count;

/* Forget the arches of the previous text. */
void tk_scan_reset(void) { arch_count = 0; }

i32 tk_arch_count(void) { return arch_count; }
u32 tk_arch_start(i32 id) { return id >= 0 && id < arch_count ? arch_start[id] : 0; }
u32 tk_arch_length(i32 id) { return id >= 0 && id < arch_count ? arch_length[id] : 0; }

/* The id of text[start, end) among the distinct A: values (added when new), or -1 past 64 of them. */
i32 tk_arch_id(const u8 *text, u32 start, u32 end) {
  u32 length = end - start;
  for (i32 known = 0; known < arch_count; known++) {
    if (arch_length[known] != length) continue;
    const u8 *a = text + arch_start[known], *b = text + start;
    u32 i = 0;
    while (i < length && a[i] == b[i]) i++;
    if (i == length) return known;
  }
  if (arch_count >= 64) return -1;
  arch_start[arch_count] = start;
  arch_length[arch_count] = length;
  return arch_count++;
}

/* hashName of text[start, end): its length and its characters, or, past 16, 16 spread evenly and the last. */
static i32 hash_name(const u8 *text, u32 start, u32 end) {
  u32 length = end - start;
  u32 hash = 5381u + length;
  if (length <= 16) {
    for (u32 i = start; i < end; i++) hash = ((hash * 59u) ^ text[i]) & 0x1ffffffu;
    return (i32)hash;
  }
  for (u32 k = 0; k < 16; k++) hash = ((hash * 59u) ^ text[start + ((k * length) >> 4)]) & 0x1ffffffu;
  return (i32)(((hash * 59u) ^ text[end - 1]) & 0x1ffffffu);
}

/* Base64 digit value with its two lowest bits cleared (the padding bits of a Q1 SHA-1's last digit). */
static u32 cleared_value(u8 c) {
  u32 v = c >= 'A' && c <= 'Z' ? c - 'A'
        : c >= 'a' && c <= 'z' ? c - 'a' + 26
        : c >= '0' && c <= '9' ? c - '0' + 52
        : c == '+' ? 62 : 63;
  return v & ~3u;
}

/* q1IdentityHash of the well-formed Q1 checksum whose Q is at text[start]. */
static i32 identity_hash(const u8 *text, u32 start) {
  u32 hash = 0x811c9dc5u;
  for (u32 i = start + 2; i < start + 6; i++) hash = (hash ^ text[i]) * 0x01000193u;
  hash = (hash ^ cleared_value(text[start + 28])) * 0x01000193u;
  return (i32)(hash & 0x3fffffffu);
}

static int is_base64(u8 c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * The text is followed by a line feed and 16 more bytes (the caller's layout), so the searches below stop
 * at the text's end at the latest and may read a whole vector past it.
 */

/* The first line feed or carriage return at or after p. */
static u32 find_line_end(const u8 *t, u32 p) {
  const v128_t nl = wasm_i8x16_splat('\n'), cr = wasm_i8x16_splat('\r');
  for (;; p += 16) {
    v128_t v = wasm_v128_load(t + p);
    u32 hits = (u32)wasm_i8x16_bitmask(wasm_v128_or(wasm_i8x16_eq(v, nl), wasm_i8x16_eq(v, cr)));
    if (hits) return p + (u32)__builtin_ctz(hits);
  }
}

/* The first byte outside 0x20-0x7e (printable ASCII and the space) at or after p. */
static u32 find_unprintable(const u8 *t, u32 p) {
  const v128_t space = wasm_i8x16_splat(0x20), span = wasm_i8x16_splat(0x5f);
  for (;; p += 16) {
    v128_t v = wasm_v128_load(t + p);
    u32 hits = (u32)wasm_i8x16_bitmask(wasm_u8x16_ge(wasm_i8x16_sub(v, space), span));
    if (hits) return p + (u32)__builtin_ctz(hits);
  }
}

/* What a field's value may hold: [^\n\r]*, [ -~]*, or \d{1,15}. */
enum { ANY, PRINTABLE, DIGITS };

/*
 * Match "X:" value "\n" at *pos for field letter x. Returns 1 and advances *pos past the line feed
 * (setting value_start and value_end) when it matches; 0 when the line does not start with "x:"
 * (the group is absent); -1 when it starts so but the rest does not match (no canonical record then:
 * no later group, nor the end, can start with this letter).
 */
static int field(const u8 *t, u32 len, u32 *pos, u8 x, int kind, u32 *value_start, u32 *value_end) {
  u32 p = *pos;
  if (len - p < 2 || t[p] != x || t[p + 1] != ':') return 0;
  p += 2;
  u32 start = p;
  if (kind == DIGITS) {
    while (p < len && t[p] >= '0' && t[p] <= '9' && p - start < 16) p++;
    if (p == start || p - start > 15) return -1;
  } else if (kind == PRINTABLE) {
    p = find_unprintable(t, p);
  } else {
    p = find_line_end(t, p);
  }
  if (p >= len || t[p] != '\n') return -1;
  *value_start = start;
  *value_end = p;
  *pos = p + 1;
  return 1;
}

/* The optional fields after V:, in apk-tools' order; `slot` is the column of a kept value, or -1. */
static const struct { u8 letter; u8 kind; i32 slot; } OPTIONAL[] = {
  {'A', ANY, A_ID},       {'S', DIGITS, -1}, {'I', DIGITS, -1}, {'T', ANY, -1},
  {'U', ANY, -1},         {'L', ANY, -1},    {'o', ANY, -1},    {'m', ANY, -1},
  {'t', DIGITS, -1},      {'c', ANY, -1},    {'k', DIGITS, -1}, {'D', ANY, D_START},
  {'p', PRINTABLE, PROVIDES_START},          {'i', PRINTABLE, I_START},
};

/*
 * Match one canonical record at `start`; fill `cols` and return the position after it, or 0 when
 * the record is not canonical (a record cannot end at 0).
 */
static u32 record(const u8 *t, u32 len, u32 start, i32 *cols) {
  u32 p = start;
  /* C:Q1 + 27 base64 digits + "=\n" */
  if (len - p < 33 || t[p] != 'C' || t[p + 1] != ':' || t[p + 2] != 'Q' || t[p + 3] != '1') return 0;
  for (u32 i = p + 4; i < p + 31; i++)
    if (!is_base64(t[i])) return 0;
  if (t[p + 31] != '=' || t[p + 32] != '\n') return 0;
  p += 33;
  u32 vs, ve;
  if (field(t, len, &p, 'P', PRINTABLE, &vs, &ve) != 1 || ve == vs) return 0;
  cols[P_START] = (i32)vs;
  cols[P_END] = (i32)ve;
  if (field(t, len, &p, 'V', ANY, &vs, &ve) != 1 || ve == vs) return 0;
  cols[V_START] = (i32)vs;
  cols[V_END] = (i32)ve;
  u32 arch_from = 0, arch_to = 0;
  int has_arch = 0;
  for (u32 f = 0; f < sizeof OPTIONAL / sizeof OPTIONAL[0]; f++) {
    int got = field(t, len, &p, OPTIONAL[f].letter, OPTIONAL[f].kind, &vs, &ve);
    if (got < 0) return 0;
    if (got == 0 || OPTIONAL[f].slot < 0) continue;
    if (OPTIONAL[f].slot == A_ID) {
      has_arch = 1;
      arch_from = vs;
      arch_to = ve;
    } else {
      cols[OPTIONAL[f].slot] = (i32)vs;
      cols[OPTIONAL[f].slot + 1] = (i32)ve;
    }
  }
  /* Ended by a blank line (not part of the record) or by the end of the text. */
  u32 next;
  if (p == len) {
    cols[REC_END] = (i32)len;
    next = len;
  } else if (t[p] == '\n') {
    cols[REC_END] = (i32)p;
    next = p + 1;
  } else {
    return 0;
  }
  /* The arch is numbered only once the record matched, as the TypeScript scan numbers it. Past 64
     distinct arches (a crafted index) the record is left to TypeScript, which marks it COMPLEX. */
  if (has_arch) {
    cols[A_ID] = tk_arch_id(t, arch_from, arch_to);
    if (cols[A_ID] < 0) return 0;
  }
  return next;
}

/*
 * Hash the names of the tokens of the list text[from, to) (printable ASCII, tokens split by spaces):
 * of a p: token, the part before its first '='; of an i: token, the part after a leading '!' and before
 * the first of "<=>~@". Returns how many hashes were written.
 */
static u32 hash_tokens(const u8 *t, i32 from, i32 to, int install_if, i32 *out) {
  u32 n = 0;
  if (from < 0) return 0;
  for (u32 at = (u32)from; at < (u32)to;) {
    if (t[at] == ' ') {
      at++;
      continue;
    }
    u32 token_end = at;
    while (token_end < (u32)to && t[token_end] != ' ') token_end++;
    u32 start = install_if && t[at] == '!' ? at + 1 : at;
    u32 end = start;
    if (install_if)
      while (end < token_end && t[end] != '<' && t[end] != '=' && t[end] != '>' && t[end] != '~' && t[end] != '@') end++;
    else
      while (end < token_end && t[end] != '=') end++;
    out[n++] = hash_name(t, start, end);
    at = token_end;
  }
  return n;
}

/*
 * Take canonical records from params[PARAM_POS] on, at most params[PARAM_COLS_ROOM] of them. Returns
 * how many; params[PARAM_POS] is then where the first record not taken starts (or the text's end).
 */
u32 tk_scan(i32 *params) {
  const u8 *t = (const u8 *)(uintptr_t)params[PARAM_TEXT];
  u32 len = (u32)params[PARAM_LENGTH];
  u32 pos = (u32)params[PARAM_POS];
  i32 *cols = (i32 *)(uintptr_t)params[PARAM_COLS];
  u32 room = (u32)params[PARAM_COLS_ROOM];
  u32 done = (u32)params[PARAM_DONE];
  i32 *own = (i32 *)(uintptr_t)params[PARAM_OWN];
  i32 *identity = (i32 *)(uintptr_t)params[PARAM_IDENTITY];
  i32 *provide_start = (i32 *)(uintptr_t)params[PARAM_PROVIDE_START];
  i32 *provide_hashes = (i32 *)(uintptr_t)params[PARAM_PROVIDE_HASHES];
  i32 *iif_start = (i32 *)(uintptr_t)params[PARAM_IIF_START];
  i32 *iif_hashes = (i32 *)(uintptr_t)params[PARAM_IIF_HASHES];
  u32 record_room = (u32)params[PARAM_RECORD_ROOM];
  u32 token_room = (u32)params[PARAM_TOKEN_ROOM];
  u32 taken = 0;
  while (taken < room && pos < len) {
    i32 *c = cols + taken * STRIDE;
    for (u32 s = 0; s < STRIDE; s++) c[s] = -1;
    c[FLAGS] = CHECKSUM_OK | PRINTABLE_NAMES;
    u32 next = record(t, len, pos, c);
    if (next == 0) break;
    c[REC_START] = (i32)pos;
    c[C_START] = (i32)(pos + 2);
    c[C_END] = (i32)(pos + 32);
    u32 r = done + taken;
    /* The caller sizes the arrays for every record the text can hold (a list of n characters has at most
       (n + 1) / 2 tokens); were it wrong, the record is left to TypeScript rather than written past them. */
    if (r >= record_room ||
        (u32)provide_start[r] + (u32)(c[PROVIDES_END] - c[PROVIDES_START] + 1) / 2 > token_room ||
        (u32)iif_start[r] + (u32)(c[I_END] - c[I_START] + 1) / 2 > token_room)
      break;
    own[r] = hash_name(t, (u32)c[P_START], (u32)c[P_END]);
    identity[r] = identity_hash(t, pos + 2);
    provide_start[r + 1] = provide_start[r] +
        (i32)hash_tokens(t, c[PROVIDES_START], c[PROVIDES_END], 0, provide_hashes + provide_start[r]);
    iif_start[r + 1] = iif_start[r] + (i32)hash_tokens(t, c[I_START], c[I_END], 1, iif_hashes + iif_start[r]);
    pos = next;
    taken++;
  }
  params[PARAM_POS] = (i32)pos;
  return taken;
}

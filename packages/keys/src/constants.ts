/** Size limits of `@tk/keys`. */

/** The default RSA key size, as melange's `keygen --key-size`. */
export const DEFAULT_KEY_BITS = 4096;

/** The smallest RSA key tk generates or signs with (melange's `keygen` minimum). */
export const MIN_KEY_BITS = 2048;

/** The largest RSA key tk generates; OpenSSL refuses to use larger moduli (`OPENSSL_RSA_MAX_MODULUS_BITS`). */
export const MAX_KEY_BITS = 16384;

/** The largest key input (PEM text or file) accepted: a 16384-bit private key in PEM is about 12 KiB. */
export const MAX_KEY_INPUT_BYTES = 64 * 1024;

/*
 * token.h — bearer tokens: made, hashed and looked up.
 *
 * A token is "fnt_" followed by 32 random bytes (libsodium's randombytes) in
 * unpadded base64url: 47 characters, recognisable in a leaked config or a
 * secret scanner.  The server stores only a keyed hash of it (BLAKE2b-128
 * keyed with the 32-byte server key in <data-dir>/token.key), so neither the
 * log nor a snapshot holds anything that opens the API.  Lookups compare
 * hashes in constant time.  Tokens are never logged.
 *
 * A principal is what a token stands for: role in the top 8 bits, the
 * member's id in the low 56.
 */
#ifndef FN_TOKEN_H
#define FN_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define FN_TOKEN_PREFIX "fnt_"
#define FN_TOKEN_LEN 47        /* prefix + 43 base64url characters */
#define FN_TOKEN_HASH_BYTES 16
#define FN_TOKEN_KEY_BYTES 32

static inline uint64_t fn_principal(int role, uint64_t id) { return (uint64_t)role << 56 | (id & 0x00ffffffffffffffull); }
static inline int fn_principal_role(uint64_t p) { return (int)(p >> 56); }
static inline uint64_t fn_principal_id(uint64_t p) { return p & 0x00ffffffffffffffull; }

/* Initialises libsodium; returns 0 or -1.  Call once at start-up. */
int fn_token_init(void);

/* Reads the server key from path, creating it (32 random bytes, mode 0600,
 * fsynced) when absent.  Returns 0 or FN_EIO with a sentence in errbuf. */
int fn_token_key_load(const char *path, uint8_t key[FN_TOKEN_KEY_BYTES], char *errbuf, size_t errlen);

/* Writes a fresh token (NUL-terminated) into out, which has room for
 * FN_TOKEN_LEN + 1 bytes. */
void fn_token_generate(char *out);

/* Writes n fresh tokens, as fn_token_generate does, at out, out + stride,
 * out + 2 stride ...  The random bytes of many tokens are drawn at once:
 * making tokens one by one costs mostly the getrandom call each makes,
 * and `freight import` makes millions. */
void fn_token_generate_n(char *out, size_t stride, size_t n);

/* Returns 1 if s has a token's shape (prefix, length, alphabet). */
int fn_token_well_formed(const char *s);

/* Hashes a token with the server key. */
void fn_token_hash(const uint8_t key[FN_TOKEN_KEY_BYTES], const char *token, uint8_t out[FN_TOKEN_HASH_BYTES]);

/* The table of token hashes -> principals.  Not thread-safe: the state
 * module guards it with its lock. */
typedef struct fn_tokens fn_tokens;
fn_tokens *fn_tokens_new(void);
void fn_tokens_free(fn_tokens *t);
/* Grows the table to hold n tokens without further growth.  Loading a
 * snapshot calls it first: re-inserting hashes in table order into a small
 * table that keeps doubling would pile them into long probe runs. */
void fn_tokens_reserve(fn_tokens *t, size_t n);
/* Adds or replaces a hash's principal. */
void fn_tokens_put(fn_tokens *t, const uint8_t hash[FN_TOKEN_HASH_BYTES], uint64_t principal);
/* Looks a hash up; returns 1 and sets *principal when found, else 0. */
int fn_tokens_get(const fn_tokens *t, const uint8_t hash[FN_TOKEN_HASH_BYTES], uint64_t *principal);
/* Calls fn for every (hash, principal), in table order. */
typedef void (*fn_tokens_each_fn)(void *ctx, const uint8_t *hash, uint64_t principal);
void fn_tokens_each(const fn_tokens *t, fn_tokens_each_fn fn, void *ctx);
/* Number of tokens and bytes of memory held. */
size_t fn_tokens_count(const fn_tokens *t);
size_t fn_tokens_bytes(const fn_tokens *t);

#endif

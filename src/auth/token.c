/*
 * token.c — token generation, keyed hashing and the hash table of principals.
 *
 * The table is open addressing with linear probing over 24-byte slots
 * (hash, principal); it grows at 3/4 load.  Slots are found by the first 8
 * bytes of the keyed hash, which an attacker cannot steer without the key.
 */
#include "auth/token.h"
#include "common/fn.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fn_token_init(void) { return sodium_init() < 0 ? -1 : 0; }

int fn_token_key_load(const char *path, uint8_t key[FN_TOKEN_KEY_BYTES], char *errbuf, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd >= 0) {
        n = read(fd, key, FN_TOKEN_KEY_BYTES);
        close(fd);
        if (n != FN_TOKEN_KEY_BYTES) {
            snprintf(errbuf, errlen, "%s is not a %d-byte key", path, FN_TOKEN_KEY_BYTES);
            return FN_EIO;
        }
        return 0;
    }
    if (errno != ENOENT) {
        snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(errno));
        return FN_EIO;
    }
    randombytes_buf(key, FN_TOKEN_KEY_BYTES);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, key, FN_TOKEN_KEY_BYTES) != FN_TOKEN_KEY_BYTES || fsync(fd) != 0) {
        snprintf(errbuf, errlen, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return FN_EIO;
    }
    close(fd);
    return 0;
}

void fn_token_generate(char *out)
{
    uint8_t raw[32];
    size_t plen = strlen(FN_TOKEN_PREFIX);
    randombytes_buf(raw, sizeof(raw));
    memcpy(out, FN_TOKEN_PREFIX, plen);
    sodium_bin2base64(out + plen, FN_TOKEN_LEN + 1 - plen, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

void fn_token_generate_n(char *out, size_t stride, size_t n)
{
    /* libsodium asks the kernel for at most 256 bytes a call, so a batch
     * of 64 tokens takes 8 calls instead of 64. */
    uint8_t raw[64][32];
    size_t plen = strlen(FN_TOKEN_PREFIX);
    while (n > 0) {
        size_t k = n < 64 ? n : 64;
        randombytes_buf(raw, k * sizeof(raw[0]));
        for (size_t i = 0; i < k; i++, out += stride) {
            memcpy(out, FN_TOKEN_PREFIX, plen);
            sodium_bin2base64(out + plen, FN_TOKEN_LEN + 1 - plen, raw[i], sizeof(raw[i]),
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        }
        n -= k;
    }
    sodium_memzero(raw, sizeof(raw));
}

int fn_token_well_formed(const char *s)
{
    size_t plen = strlen(FN_TOKEN_PREFIX);
    if (strlen(s) != FN_TOKEN_LEN || strncmp(s, FN_TOKEN_PREFIX, plen) != 0)
        return 0;
    for (const char *p = s + plen; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_'))
            return 0;
    return 1;
}

void fn_token_hash(const uint8_t key[FN_TOKEN_KEY_BYTES], const char *token, uint8_t out[FN_TOKEN_HASH_BYTES])
{
    crypto_generichash(out, FN_TOKEN_HASH_BYTES, (const uint8_t *)token, strlen(token), key, FN_TOKEN_KEY_BYTES);
}

typedef struct slot {
    uint8_t hash[FN_TOKEN_HASH_BYTES];
    uint64_t principal; /* 0 = empty */
} slot;

struct fn_tokens {
    slot *slots;
    size_t cap; /* a power of two */
    size_t count;
};

fn_tokens *fn_tokens_new(void)
{
    fn_tokens *t = fn_xcalloc(1, sizeof(*t));
    t->cap = 1024;
    t->slots = fn_xcalloc(t->cap, sizeof(slot));
    return t;
}

void fn_tokens_free(fn_tokens *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

static size_t home_of(const uint8_t *hash, size_t cap)
{
    uint64_t h;
    memcpy(&h, hash, 8);
    return (size_t)h & (cap - 1);
}

static void insert(slot *slots, size_t cap, const uint8_t *hash, uint64_t principal, size_t *count)
{
    size_t i = home_of(hash, cap);
    while (slots[i].principal) {
        if (memcmp(slots[i].hash, hash, FN_TOKEN_HASH_BYTES) == 0) {
            slots[i].principal = principal;
            return;
        }
        i = (i + 1) & (cap - 1);
    }
    memcpy(slots[i].hash, hash, FN_TOKEN_HASH_BYTES);
    slots[i].principal = principal;
    (*count)++;
}

static void resize(fn_tokens *t, size_t ncap)
{
    size_t n = 0;
    slot *ns = fn_xcalloc(ncap, sizeof(slot));
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].principal)
            insert(ns, ncap, t->slots[i].hash, t->slots[i].principal, &n);
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
}

void fn_tokens_reserve(fn_tokens *t, size_t n)
{
    size_t ncap = t->cap;
    while (n * 4 > ncap * 3)
        ncap *= 2;
    if (ncap != t->cap)
        resize(t, ncap);
}

void fn_tokens_put(fn_tokens *t, const uint8_t hash[FN_TOKEN_HASH_BYTES], uint64_t principal)
{
    if ((t->count + 1) * 4 > t->cap * 3)
        resize(t, t->cap * 2);
    insert(t->slots, t->cap, hash, principal, &t->count);
}

int fn_tokens_get(const fn_tokens *t, const uint8_t hash[FN_TOKEN_HASH_BYTES], uint64_t *principal)
{
    size_t i = home_of(hash, t->cap);
    while (t->slots[i].principal) {
        if (sodium_memcmp(t->slots[i].hash, hash, FN_TOKEN_HASH_BYTES) == 0) {
            *principal = t->slots[i].principal;
            return 1;
        }
        i = (i + 1) & (t->cap - 1);
    }
    return 0;
}

size_t fn_tokens_count(const fn_tokens *t) { return t->count; }
size_t fn_tokens_bytes(const fn_tokens *t) { return t->cap * sizeof(slot); }

void fn_tokens_each(const fn_tokens *t, fn_tokens_each_fn fn, void *ctx)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].principal)
            fn(ctx, t->slots[i].hash, t->slots[i].principal);
}

/* sha256.h — a small SHA-256 (FIPS 180-4) for the program cache key and the cache entries'
 * checksum. The library carries its own so it stays self-contained; the tt__hsha256 names keep it
 * apart from any other SHA-256 linked into the same executable (calib/, tools/). */
#ifndef TT_SHA256_H
#define TT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct tt__hsha256_ctx {
    uint32_t h[8];
    uint64_t bytes; /* message length so far */
    unsigned char buf[64];
    size_t fill; /* bytes waiting in buf */
} tt__hsha256_ctx;

void tt__hsha256_init(tt__hsha256_ctx *s);
void tt__hsha256_update(tt__hsha256_ctx *s, const void *data, size_t len);
void tt__hsha256_final(tt__hsha256_ctx *s, unsigned char out[32]);
/* One-shot digest, and lower-case hex of a digest (65 bytes with the NUL). */
void tt__hsha256(const void *data, size_t len, unsigned char out[32]);
void tt__hsha256_hex(const unsigned char digest[32], char hex[65]);

#endif

/* sha256.c — the digests a threshold table records (tt_table_meta.token_hash: which calibration
 * token file produced it; the model file's hash), as lower-case hex of a buffer or of a file's
 * bytes. The SHA-256 itself is the library's (host/sha256.c, FIPS 180-4): one implementation. */
#include "calib.h"
#include "sha256.h"
#include <stdio.h>

void tc_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char d[32];
    tt__hsha256(data, len, d);
    tt__hsha256_hex(d, hex);
}

tt_status tc_sha256_file(const char *path, char hex[65])
{
    if (!path || !hex)
        return TT_ERR_NULL_ARGUMENT;
    hex[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return TT_ERR_IO;
    tt__hsha256_ctx s;
    unsigned char buf[1 << 14], d[32];
    tt__hsha256_init(&s);
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        tt__hsha256_update(&s, buf, got);
    const int bad = ferror(f);
    fclose(f);
    if (bad)
        return TT_ERR_IO;
    tt__hsha256_final(&s, d);
    tt__hsha256_hex(d, hex);
    return TT_SUCCESS;
}

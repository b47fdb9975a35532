/* table_file.c — threshold-table file format v1 (docs/TABLE_FORMAT.md): a strict loader that
 * checks every count against its limit and against the bytes left before using it, and an atomic
 * writer (temp file in the target's directory, fsync, rename) that never damages an existing
 * file. */
#include "internal.h"
#include "table_file.h"
#include "table_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t magic[4] = {'T', 'T', 'H', 'T'};
#define FLAG_DHAT 1u

uint32_t tt__crc32(const void *data, size_t size)
{
    /* Rebuilt per call (cheap) so that no lazily initialised global can race between threads. */
    uint32_t tab[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int b = 0; b < 8; b++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        tab[i] = c;
    }
    const uint8_t *p = data;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++)
        crc = tab[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* ---- Reading ------------------------------------------------------------------------------------
 * A cursor over the input; every read checks the bytes left first, so no size from the file is
 * used before it is known to fit. */
typedef struct rd {
    const uint8_t *p;
    size_t left;
} rd;

/* Little-endian integer of nbytes (4 or 8) bytes. */
static uint64_t get(const uint8_t *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* A u32 field as an int; values beyond INT_MAX become INT_MAX, which check_meta rejects, so no
 * field ever wraps to a negative number. */
static int get_int(const uint8_t *p)
{
    uint64_t v = get(p, 4);
    return v > INT_MAX ? INT_MAX : (int)v;
}

static float get_f32(const uint8_t *p)
{
    uint32_t u = (uint32_t)get(p, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static tt_status take(rd *r, size_t n, const uint8_t **out, const char *what)
{
    TT_RETURN_IF(NULL, r->left < n, TT_ERR_TRUNCATED,
                 "table file: truncated in %s (%zu bytes needed, %zu left)", what, n, r->left);
    *out = r->p;
    r->p += n;
    r->left -= n;
    return TT_SUCCESS;
}

static tt_status read_u32(rd *r, uint32_t *v, const char *what)
{
    const uint8_t *p = NULL;
    tt_status st = take(r, 4, &p, what);
    if (st == TT_SUCCESS)
        *v = (uint32_t)get(p, 4);
    return st;
}

/* A string: u16 length, then that many bytes (no terminator); check_meta checks the bytes. cap
 * includes the NUL. */
static tt_status read_str(rd *r, char *dst, size_t cap, const char *what)
{
    const uint8_t *p = NULL;
    tt_status st = take(r, 2, &p, what);
    if (st != TT_SUCCESS)
        return st;
    size_t len = (size_t)get(p, 2);
    TT_RETURN_IF(NULL, len >= cap, TT_ERR_TOO_LARGE, "table file: %s is %zu bytes, at most %zu",
                 what, len, cap - 1);
    if ((st = take(r, len, &p, what)) != TT_SUCCESS)
        return st;
    TT_RETURN_IF(NULL, memchr(p, 0, len), TT_ERR_FORMAT, "table file: %s holds a NUL byte", what);
    memcpy(dst, p, len);
    dst[len] = '\0';
    return TT_SUCCESS;
}

/* 1 if s holds no control character (they would garble messages and the text export). */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 0;
    return 1;
}

/* Rules shared by the loader and the writer, so a saved table always loads again. bad_shape is
 * the status for an inconsistent shape: FORMAT for a file, BAD_SHAPE for a caller's table. */
static tt_status check_meta(const tt_table_meta *m, const char *who, tt_status bad_shape)
{
    TT_RETURN_IF(NULL, (unsigned)m->placement > TT_PLACE_REL, TT_ERR_BAD_ENUM,
                 "%s: placement %d is not 0 (pre), 1 (post) or 2 (max-relative)", who,
                 (int)m->placement);
    TT_RETURN_IF(NULL, !isfinite(m->sigma), TT_ERR_NONFINITE, "%s: sigma is not finite", who);
    TT_RETURN_IF(NULL, m->score_precision != 16 && m->score_precision != 32, TT_ERR_BAD_ENUM,
                 "%s: score precision %d is not 16 or 32", who, m->score_precision);
    TT_RETURN_IF(NULL, m->tac != 0 && m->tac != 1, TT_ERR_BAD_ENUM, "%s: tac %d is not 0 or 1",
                 who, m->tac);
    const int max = TT_TABLE_FILE_MAX_SHAPE;
    TT_RETURN_IF(NULL, m->n_layers > max || m->n_heads > max || m->n_kv_heads > max ||
                           m->head_dim > TT_TABLE_FILE_MAX_HEAD_DIM,
                 TT_ERR_TOO_LARGE, "%s: shape %d layers x %d heads (%d KV, d %d) beyond %d / %d",
                 who, m->n_layers, m->n_heads, m->n_kv_heads, m->head_dim, max,
                 TT_TABLE_FILE_MAX_HEAD_DIM);
    TT_RETURN_IF(NULL, m->n_layers < 1 || m->n_heads < 1 || m->n_kv_heads < 0 || m->head_dim < 0,
                 bad_shape, "%s: shape %d layers x %d heads (%d KV, d %d) is empty or negative",
                 who, m->n_layers, m->n_heads, m->n_kv_heads, m->head_dim);
    TT_RETURN_IF(NULL, m->n_kv_heads > 0 && m->n_heads % m->n_kv_heads != 0, bad_shape,
                 "%s: %d query heads are not a multiple of %d KV heads", who, m->n_heads,
                 m->n_kv_heads);
    TT_RETURN_IF(NULL, !printable(m->model_name) || !printable(m->device_name), TT_ERR_FORMAT,
                 "%s: model or device name holds a control character", who);
    size_t th = strlen(m->token_hash);
    TT_RETURN_IF(NULL, (th && th != 64) || strspn(m->token_hash, "0123456789abcdefABCDEF") != th,
                 TT_ERR_FORMAT, "%s: token hash must be empty or 64 hex digits", who);
    return TT_SUCCESS;
}

static tt_status parse_header(rd *r, tt_table_meta *m)
{
    const uint8_t *p = NULL;
    tt_status st;
    memset(m, 0, sizeof *m);
    /* The magic is compared on the bytes present, so a short prefix of a real file reads as
     * truncated and anything else as not-a-table. */
    size_t have = r->left < 4 ? r->left : 4;
    TT_RETURN_IF(NULL, have > 0 && memcmp(r->p, magic, have) != 0, TT_ERR_FORMAT,
                 "table file: bad magic (not a toptheta threshold table)");
    if ((st = take(r, 8, &p, "the magic and version")) != TT_SUCCESS)
        return st;
    uint32_t version = (uint32_t)get(p + 4, 4);
    TT_RETURN_IF(NULL, version != TT_TABLE_FILE_VERSION, TT_ERR_VERSION,
                 "table file: format version %u, this library reads version %u", version,
                 TT_TABLE_FILE_VERSION);
    if ((st = take(r, 56, &p, "the header")) != TT_SUCCESS)
        return st;
    m->placement = (tt_placement)get_int(p);
    m->sigma = get_f32(p + 4);
    m->score_precision = get_int(p + 8);
    m->n_layers = get_int(p + 12);
    m->n_heads = get_int(p + 16);
    m->n_kv_heads = get_int(p + 20);
    m->head_dim = get_int(p + 24);
    m->tac = get_int(p + 28);
    m->model_hash = get(p + 32, 8);
    m->samples = get(p + 40, 8);
    m->created_unix = (int64_t)get(p + 48, 8);
    if ((st = read_str(r, m->model_name, sizeof m->model_name, "model name")) ||
        (st = read_str(r, m->device_name, sizeof m->device_name, "device name")) ||
        (st = read_str(r, m->token_hash, sizeof m->token_hash, "token hash")))
        return st;
    return check_meta(m, "table file", TT_ERR_FORMAT);
}

tt_status tt__table_read_header(const void *data, size_t size, tt_table_meta *meta)
{
    TT_RETURN_IF(NULL, (!data && size) || !meta, TT_ERR_NULL_ARGUMENT,
                 "tt__table_read_header: NULL argument");
    rd r = {data, size};
    return parse_header(&r, meta);
}

/* One curve, straight into the table (which is still private to the loader). */
static tt_status parse_curve(rd *r, tt_table *t, int l, int h, uint64_t *total)
{
    uint32_t count, flags;
    tt_status st;
    if ((st = read_u32(r, &count, "a curve's sample count")) ||
        (st = read_u32(r, &flags, "a curve's flags")))
        return st;
    TT_RETURN_IF(NULL, flags & ~FLAG_DHAT, TT_ERR_FORMAT,
                 "table file: layer %d head %d has unknown curve flags 0x%x", l, h, flags);
    TT_RETURN_IF(NULL, count == 0 && flags, TT_ERR_FORMAT,
                 "table file: layer %d head %d has a D-hat flag but no samples", l, h);
    TT_RETURN_IF(NULL, count > TT_TABLE_MAX_SAMPLES, TT_ERR_TOO_LARGE,
                 "table file: layer %d head %d has %u samples, at most %d", l, h, count,
                 TT_TABLE_MAX_SAMPLES);
    *total += count;
    TT_RETURN_IF(NULL, *total > TT_TABLE_FILE_MAX_TOTAL_SAMPLES, TT_ERR_TOO_LARGE,
                 "table file: more than %d samples in all", TT_TABLE_FILE_MAX_TOTAL_SAMPLES);
    if (count == 0)
        return TT_SUCCESS;
    const uint8_t *p = NULL;
    size_t per = (flags & FLAG_DHAT) ? 12 : 8;
    if ((st = take(r, per * count, &p, "a curve's samples")) != TT_SUCCESS)
        return st;
    tt__curve *c = &t->curves[(size_t)l * t->meta.n_heads + h];
    c->ns = malloc(count * sizeof *c->ns);
    c->theta = malloc(count * sizeof *c->theta);
    c->dhat = (flags & FLAG_DHAT) ? malloc(count * sizeof *c->dhat) : NULL;
    TT_RETURN_IF(NULL, !c->ns || !c->theta || ((flags & FLAG_DHAT) && !c->dhat),
                 TT_OUT_OF_HOST_MEMORY, "table file: out of memory");
    c->count = (int)count; /* the destroyer frees the arrays whatever happens next */
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n = (uint32_t)get(p + 4 * i, 4);
        TT_RETURN_IF(NULL, n > TT_TABLE_FILE_MAX_N, TT_ERR_TOO_LARGE,
                     "table file: layer %d head %d: row length %u beyond %d", l, h, n,
                     TT_TABLE_FILE_MAX_N);
        TT_RETURN_IF(NULL, n < 1 || (i > 0 && (int)n <= c->ns[i - 1]), TT_ERR_FORMAT,
                     "table file: layer %d head %d: row lengths not >= 1 and strictly increasing "
                     "(sample %u is %u)", l, h, i, n);
        c->ns[i] = (int)n;
        c->theta[i] = get_f32(p + 4 * ((size_t)count + i));
        if (c->dhat)
            c->dhat[i] = get_f32(p + 4 * (2 * (size_t)count + i));
        TT_RETURN_IF(NULL, !isfinite(c->theta[i]) || (c->dhat && !isfinite(c->dhat[i])),
                     TT_ERR_NONFINITE, "table file: layer %d head %d: non-finite value at n = %u",
                     l, h, n);
    }
    return TT_SUCCESS;
}

static tt_status parse_body(rd *r, tt_table *t)
{
    const int L = t->meta.n_layers, H = t->meta.n_heads;
    tt_status st;
    for (int l = 0; l < L; l++) {
        uint32_t k;
        if ((st = read_u32(r, &k, "the per-layer k")) != TT_SUCCESS)
            return st;
        TT_RETURN_IF(NULL, k > TT_TABLE_FILE_MAX_N, TT_ERR_TOO_LARGE,
                     "table file: layer %d has k = %u, at most %d", l, k, TT_TABLE_FILE_MAX_N);
        t->layer_k[l] = (int)k;
    }
    uint64_t total = 0;
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++)
            if ((st = parse_curve(r, t, l, h, &total)) != TT_SUCCESS)
                return st;
    return TT_SUCCESS;
}

tt_status tt_table_load_memory(const void *data, size_t size, tt_table **out)
{
    TT_RETURN_IF(NULL, !out, TT_ERR_NULL_ARGUMENT, "tt_table_load_memory: NULL argument");
    *out = NULL;
    TT_RETURN_IF(NULL, !data && size, TT_ERR_NULL_ARGUMENT, "tt_table_load_memory: NULL data");
    TT_RETURN_IF(NULL, size > TT_TABLE_FILE_MAX_BYTES, TT_ERR_TOO_LARGE,
                 "table file: %zu bytes, at most %zu", size, TT_TABLE_FILE_MAX_BYTES);
    rd r = {data, size};
    tt_table_meta m;
    tt_status st = parse_header(&r, &m);
    if (st != TT_SUCCESS)
        return st;
    /* Before allocating n_layers x n_heads curves, make sure the file can hold them at all (every
     * layer needs 4 bytes of k, every curve 8 bytes, the checksum 4), so a tiny file cannot make
     * the loader allocate much. */
    uint64_t least = 4 * (uint64_t)m.n_layers + 8 * (uint64_t)m.n_layers * m.n_heads + 4;
    TT_RETURN_IF(NULL, r.left < least, TT_ERR_TRUNCATED,
                 "table file: %zu bytes after the header, a %dx%d table needs at least %llu",
                 r.left, m.n_layers, m.n_heads, (unsigned long long)least);
    tt_table *t = NULL;
    if ((st = tt_table_create(&m, &t)) != TT_SUCCESS)
        return st;
    if ((st = parse_body(&r, t)) != TT_SUCCESS)
        goto fail;
    const uint8_t *p = NULL;
    if ((st = take(&r, 4, &p, "the checksum")) != TT_SUCCESS)
        goto fail;
    if (r.left) {
        st = tt__fail(NULL, TT_ERR_FORMAT, "table file: %zu bytes of trailing garbage", r.left);
        goto fail;
    }
    uint32_t want = (uint32_t)get(p, 4), got = tt__crc32(data, size - 4);
    if (want != got) {
        st = tt__fail(NULL, TT_ERR_FORMAT, "table file: checksum mismatch (stored %08x, computed "
                      "%08x): the file is damaged", want, got);
        goto fail;
    }
    *out = t;
    return TT_SUCCESS;
fail:
    tt_table_destroy(t);
    return st;
}

tt_status tt_table_load(const char *path, tt_table **out)
{
    TT_RETURN_IF(NULL, !path || !out, TT_ERR_NULL_ARGUMENT, "tt_table_load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    TT_RETURN_IF(NULL, !f, TT_ERR_IO, "tt_table_load: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    uint8_t *buf = NULL;
    size_t size = 0;
    tt_status st = TT_SUCCESS;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = tt__fail(NULL, TT_ERR_IO, "tt_table_load: %s is not a regular file", path);
    else if ((uint64_t)sb.st_size > TT_TABLE_FILE_MAX_BYTES)
        st = tt__fail(NULL, TT_ERR_TOO_LARGE, "tt_table_load: %s is %lld bytes, at most %zu", path,
                      (long long)sb.st_size, TT_TABLE_FILE_MAX_BYTES);
    else if (!(buf = malloc((size = (size_t)sb.st_size) ? size : 1)))
        st = tt__fail(NULL, TT_OUT_OF_HOST_MEMORY, "tt_table_load: out of memory");
    else if (fread(buf, 1, size, f) != size || ferror(f))
        st = tt__fail(NULL, TT_ERR_IO, "tt_table_load: reading %s failed", path);
    fclose(f);
    if (st == TT_SUCCESS && (st = tt_table_load_memory(buf, size, out)) != TT_SUCCESS) {
        /* Prefix the loader's message with the file it came from (copied first: the message
         * buffer is the one tt__fail writes into). */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", tt_last_error(NULL));
        tt__fail(NULL, st, "%s: %s", path, msg);
    }
    free(buf);
    return st;
}

/* ---- Writing --------------------------------------------------------------------------------- */
static void put(uint8_t **p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

static void put_f32(uint8_t **p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put(p, u, 4);
}

static void put_str(uint8_t **p, const char *s)
{
    size_t len = strlen(s); /* check_meta bounded it */
    put(p, len, 2);
    memcpy(*p, s, len);
    *p += len;
}

/* Serialises t into a malloc'ed buffer, refusing anything the loader would refuse. */
static tt_status serialise(const tt_table *t, uint8_t **out, size_t *out_size)
{
    tt_table_meta m = t->meta;
    tt_status st = check_meta(&m, "tt_table_save", TT_ERR_BAD_SHAPE);
    if (st != TT_SUCCESS)
        return st;
    const size_t n_curves = (size_t)m.n_layers * m.n_heads;
    uint64_t total = 0, size = TT_TABLE_FILE_MAX_HEADER + 4 * (uint64_t)m.n_layers + 4;
    for (int l = 0; l < m.n_layers; l++)
        TT_RETURN_IF(NULL, t->layer_k[l] > TT_TABLE_FILE_MAX_N, TT_ERR_TOO_LARGE,
                     "tt_table_save: layer %d has k = %d, at most %d", l, t->layer_k[l],
                     TT_TABLE_FILE_MAX_N);
    for (size_t i = 0; i < n_curves; i++) {
        const tt__curve *c = &t->curves[i];
        total += (uint64_t)c->count;
        size += 8 + (uint64_t)c->count * (c->dhat ? 12 : 8);
        TT_RETURN_IF(NULL, c->count > 0 && c->ns[c->count - 1] > TT_TABLE_FILE_MAX_N,
                     TT_ERR_TOO_LARGE, "tt_table_save: row length %d beyond %d",
                     c->ns[c->count - 1], TT_TABLE_FILE_MAX_N);
    }
    TT_RETURN_IF(NULL, total > TT_TABLE_FILE_MAX_TOTAL_SAMPLES || size > TT_TABLE_FILE_MAX_BYTES,
                 TT_ERR_TOO_LARGE, "tt_table_save: %llu samples exceed the format's limits",
                 (unsigned long long)total);
    uint8_t *buf = malloc((size_t)size), *p = buf;
    TT_RETURN_IF(NULL, !buf, TT_OUT_OF_HOST_MEMORY, "tt_table_save: out of memory");
    memcpy(p, magic, 4);
    p += 4;
    put(&p, TT_TABLE_FILE_VERSION, 4);
    put(&p, (uint32_t)m.placement, 4);
    put_f32(&p, m.sigma);
    const int ints[6] = {m.score_precision, m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim, m.tac};
    for (int i = 0; i < 6; i++)
        put(&p, (uint32_t)ints[i], 4);
    put(&p, m.model_hash, 8);
    put(&p, m.samples, 8);
    put(&p, (uint64_t)m.created_unix, 8);
    put_str(&p, m.model_name);
    put_str(&p, m.device_name);
    put_str(&p, m.token_hash);
    for (int l = 0; l < m.n_layers; l++)
        put(&p, (uint32_t)t->layer_k[l], 4);
    for (size_t i = 0; i < n_curves; i++) {
        const tt__curve *c = &t->curves[i];
        put(&p, (uint32_t)c->count, 4);
        put(&p, c->count > 0 && c->dhat ? FLAG_DHAT : 0, 4);
        for (int j = 0; j < c->count; j++)
            put(&p, (uint32_t)c->ns[j], 4);
        for (int j = 0; j < c->count; j++)
            put_f32(&p, c->theta[j]);
        for (int j = 0; c->dhat && j < c->count; j++)
            put_f32(&p, c->dhat[j]);
    }
    put(&p, tt__crc32(buf, (size_t)(p - buf)), 4);
    *out = buf;
    *out_size = (size_t)(p - buf);
    return TT_SUCCESS;
}

static int fault_at; /* tests only; see table_file.h */

void tt__table_file_fault(int fail_at) { fault_at = fail_at; }

/* Writes the whole buffer to a fresh temp file next to path and renames it over path, so readers
 * see either the old file or the complete new one. Any failure removes the temp file. */
static tt_status write_atomic(const char *path, const uint8_t *buf, size_t size)
{
    static const char suffix[] = ".tmp.XXXXXX";
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof suffix);
    TT_RETURN_IF(NULL, !tmp, TT_OUT_OF_HOST_MEMORY, "tt_table_save: out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        free(tmp);
        return tt__fail(NULL, TT_ERR_IO, "tt_table_save: cannot create a temp file next to %s: %s",
                        path, strerror(err));
    }
    /* mkstemp makes the file 0600; keep the mode of the file being replaced, else 0644, since a
     * table is data to share rather than a secret. */
    struct stat sb;
    (void)fchmod(fd, stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644);
    /* Each step runs only when the ones before it succeeded; step names the one that failed. An
     * injected write fault still writes half the data, like a disk filling up mid-way. */
    const char *step = "write";
    size_t part = fault_at == 1 ? size / 2 : size;
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(buf, 1, part, f) == part && fflush(f) == 0 && fault_at != 1;
    int err = fault_at == 1 ? ENOSPC : errno;
    if (ok) {
        step = "fsync";
        ok = fsync(fd) == 0 && fault_at != 2;
        err = fault_at == 2 ? EIO : errno;
    }
    if ((f ? fclose(f) : close(fd)) != 0 && ok) {
        step = "close";
        ok = 0;
        err = errno;
    }
    if (ok) {
        step = "rename";
        ok = fault_at != 3 && rename(tmp, path) == 0;
        err = fault_at == 3 ? EXDEV : errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return tt__fail(NULL, TT_ERR_IO, "tt_table_save: %s of %s failed: %s", step, path,
                        strerror(err));
    }
    /* Make the rename itself durable. Some file systems refuse fsync on a directory; the file is
     * complete either way, so that is not an error. */
    const char *slash = strrchr(path, '/');
    size_t dlen = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    memcpy(tmp, slash ? path : ".", dlen);
    tmp[dlen] = '\0';
    int dfd = open(tmp, O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(tmp);
    return TT_SUCCESS;
}

tt_status tt_table_save(const tt_table *t, const char *path)
{
    TT_RETURN_IF(NULL, !t || !path, TT_ERR_NULL_ARGUMENT, "tt_table_save: NULL argument");
    TT_RETURN_IF(NULL, !*path, TT_INVALID_VALUE, "tt_table_save: empty path");
    uint8_t *buf = NULL;
    size_t size = 0;
    tt_status st = serialise(t, &buf, &size);
    if (st == TT_SUCCESS)
        st = write_atomic(path, buf, size);
    free(buf);
    return st;
}

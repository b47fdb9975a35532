/* gguf.c — GGUF parsing and validation: header, metadata key/values, tensor directory, alignment
 * and data section. Layout (GGUF spec, all little-endian): "GGUF", u32 version, u64 tensor count,
 * u64 kv count; kvs (string key, u32 type, value); tensor infos (string name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset); padding to the alignment; tensor data. */
#include "gguf/gguf_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits far beyond any real file, low enough that no size computation below can overflow and a
 * corrupt count cannot ask for huge allocations before the remaining-bytes checks catch it. */
#define MAX_STRING ((uint64_t)1 << 30)
#define MAX_COUNT ((uint64_t)1 << 28)  /* kvs, tensors, array elements */
#define MAX_ELEMENTS ((uint64_t)1 << 48) /* per tensor */
#define MAX_ALIGNMENT (1u << 20)

#define TRY(x)                                                                                     \
    do {                                                                                           \
        tt_status st_ = (x);                                                                       \
        if (st_ != TT_SUCCESS)                                                                     \
            return st_;                                                                            \
    } while (0)

typedef unsigned long long ull;

tt_status gg__fail(gg_file *f, tt_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof f->err, fmt, ap);
    va_end(ap);
    return st;
}

uint32_t gg__value_size(uint32_t type)
{
    switch (type) {
    case GG_U8: case GG_I8: case GG_BOOL: return 1;
    case GG_U16: case GG_I16: return 2;
    case GG_U32: case GG_I32: case GG_F32: return 4;
    case GG_U64: case GG_I64: case GG_F64: return 8;
    default: return 0;
    }
}

int gg__str_cmp(gg_str a, gg_str b)
{
    uint64_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

/* A read position in the file; every read goes through take(), the one bounds check. */
typedef struct cur {
    gg_file *f;
    uint64_t pos;
} cur;

static uint64_t remaining(const cur *c)
{
    return c->f->size - c->pos;
}

static tt_status take(cur *c, uint64_t n, const char *what, const unsigned char **p)
{
    *p = c->f->base; /* never read on failure; assigned so compilers can see that */
    if (n > remaining(c))
        return gg__fail(c->f, TT_ERR_TRUNCATED, "%s at offset %llu needs %llu bytes, %llu remain",
                        what, (ull)c->pos, (ull)n, (ull)remaining(c));
    *p = c->f->base + c->pos;
    c->pos += n;
    return TT_SUCCESS;
}

static tt_status rd_u32(cur *c, const char *what, uint32_t *v)
{
    const unsigned char *p;
    TRY(take(c, 4, what, &p));
    *v = gg__le32(p);
    return TT_SUCCESS;
}

static tt_status rd_u64(cur *c, const char *what, uint64_t *v)
{
    const unsigned char *p;
    TRY(take(c, 8, what, &p));
    *v = gg__le64(p);
    return TT_SUCCESS;
}

static tt_status rd_str(cur *c, const char *what, gg_str *s)
{
    uint64_t len;
    const unsigned char *p;
    TRY(rd_u64(c, what, &len));
    if (len > MAX_STRING)
        return gg__fail(c->f, TT_ERR_TOO_LARGE, "%s at offset %llu: length %llu exceeds %llu",
                        what, (ull)(c->pos - 8), (ull)len, (ull)MAX_STRING);
    TRY(take(c, len, what, &p));
    s->ptr = (const char *)p;
    s->len = len;
    return TT_SUCCESS;
}

/* Checks a count of items of at least min_bytes each against the limit and the bytes left. */
static tt_status check_count(cur *c, uint64_t n, uint64_t min_bytes, const char *what)
{
    if (n > MAX_COUNT)
        return gg__fail(c->f, TT_ERR_TOO_LARGE, "%s count %llu exceeds %llu", what, (ull)n,
                        (ull)MAX_COUNT);
    if (n > remaining(c) / min_bytes)
        return gg__fail(c->f, TT_ERR_TRUNCATED,
                        "%s count %llu needs at least %llu bytes, %llu remain at offset %llu",
                        what, (ull)n, (ull)(n * min_bytes), (ull)remaining(c), (ull)c->pos);
    return TT_SUCCESS;
}

static tt_status check_bools(gg_file *f, const gg_kv *kv, const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] > 1)
            return gg__fail(f, TT_ERR_FORMAT, "key '%.*s': bool value %u is neither 0 nor 1",
                            (int)kv->key.len, kv->key.ptr, p[i]);
    return TT_SUCCESS;
}

static tt_status parse_value(cur *c, gg_kv *kv, gg_str *scalar_str)
{
    gg_file *f = c->f;
    int kl = (int)(kv->key.len > 200 ? 200 : kv->key.len);
    if (kv->type >= GG_VALUE_TYPE_COUNT)
        return gg__fail(f, TT_ERR_FORMAT, "key '%.*s': unknown value type %u", kl, kv->key.ptr,
                        kv->type);
    kv->count = 1;
    if (kv->type == GG_STRING) {
        TRY(rd_str(c, "string value", scalar_str));
        kv->strs = scalar_str;
        return TT_SUCCESS;
    }
    if (kv->type != GG_ARRAY) {
        TRY(take(c, gg__value_size(kv->type), "value", &kv->data));
        return kv->type == GG_BOOL ? check_bools(f, kv, kv->data, 1) : TT_SUCCESS;
    }
    TRY(rd_u32(c, "array element type", &kv->elem_type));
    TRY(rd_u64(c, "array count", &kv->count));
    if (kv->elem_type == GG_ARRAY)
        return gg__fail(f, TT_ERR_UNSUPPORTED, "key '%.*s': arrays of arrays are not supported",
                        kl, kv->key.ptr);
    if (kv->elem_type >= GG_VALUE_TYPE_COUNT)
        return gg__fail(f, TT_ERR_FORMAT, "key '%.*s': unknown array element type %u", kl,
                        kv->key.ptr, kv->elem_type);
    if (kv->elem_type == GG_STRING) {
        TRY(check_count(c, kv->count, 8, "string array"));
        gg_str *s = malloc((size_t)(kv->count ? kv->count : 1) * sizeof *s);
        if (!s)
            return gg__fail(f, TT_OUT_OF_HOST_MEMORY, "no memory for %llu strings",
                            (ull)kv->count);
        kv->strs = s;
        for (uint64_t i = 0; i < kv->count; i++)
            TRY(rd_str(c, "array string", &s[i]));
        return TT_SUCCESS;
    }
    uint32_t es = gg__value_size(kv->elem_type);
    TRY(check_count(c, kv->count, es, "array element"));
    TRY(take(c, kv->count * es, "array data", &kv->data));
    return kv->elem_type == GG_BOOL ? check_bools(f, kv, kv->data, kv->count) : TT_SUCCESS;
}

/* Sorting index arrays (qsort has no context argument, hence the pointers; thread-local so that
 * files can be opened from several threads at once). */
static _Thread_local const gg_kv *sort_kv;
static _Thread_local const gg_tensor *sort_t;
static int cmp_kv(const void *a, const void *b)
{
    return gg__str_cmp(sort_kv[*(const uint64_t *)a].key, sort_kv[*(const uint64_t *)b].key);
}
static int cmp_tname(const void *a, const void *b)
{
    return gg__str_cmp(sort_t[*(const uint64_t *)a].name, sort_t[*(const uint64_t *)b].name);
}
static int cmp_toff(const void *a, const void *b)
{
    uint64_t x = sort_t[*(const uint64_t *)a].offset, y = sort_t[*(const uint64_t *)b].offset;
    return x < y ? -1 : x > y;
}

static uint64_t *sorted_index(uint64_t n, int (*cmp)(const void *, const void *))
{
    uint64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    for (uint64_t i = 0; i < n; i++)
        idx[i] = i;
    qsort(idx, (size_t)n, sizeof *idx, cmp);
    return idx;
}

static tt_status parse_kvs(cur *c)
{
    gg_file *f = c->f;
    TRY(check_count(c, f->n_kv, 8 + 4 + 1, "metadata"));
    f->kv = calloc((size_t)(f->n_kv ? f->n_kv : 1), sizeof *f->kv);
    f->kv_strs = calloc((size_t)(f->n_kv ? f->n_kv : 1), sizeof *f->kv_strs);
    if (!f->kv || !f->kv_strs)
        return gg__fail(f, TT_OUT_OF_HOST_MEMORY, "no memory for %llu keys", (ull)f->n_kv);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gg_kv *kv = &f->kv[i];
        TRY(rd_str(c, "metadata key", &kv->key));
        if (kv->key.len == 0 || kv->key.len > 65535) /* the spec's limits on key length */
            return gg__fail(f, TT_ERR_FORMAT, "metadata key at offset %llu has length %llu "
                            "(1..65535 allowed)", (ull)(c->pos - kv->key.len - 8),
                            (ull)kv->key.len);
        TRY(rd_u32(c, "metadata value type", &kv->type));
        TRY(parse_value(c, kv, &f->kv_strs[i]));
    }
    sort_kv = f->kv;
    if (!(f->kv_sorted = sorted_index(f->n_kv, cmp_kv)))
        return gg__fail(f, TT_OUT_OF_HOST_MEMORY, "no memory for the key index");
    for (uint64_t i = 1; i < f->n_kv; i++) {
        const gg_kv *a = &f->kv[f->kv_sorted[i - 1]], *b = &f->kv[f->kv_sorted[i]];
        if (gg__str_cmp(a->key, b->key) == 0)
            return gg__fail(f, TT_ERR_FORMAT, "duplicate metadata key '%.*s'",
                            (int)(a->key.len > 200 ? 200 : a->key.len), a->key.ptr);
    }
    f->alignment = GG_DEFAULT_ALIGNMENT;
    const gg_kv *al = gg_find_kv(f, "general.alignment");
    if (al) {
        if (al->type != GG_U32)
            return gg__fail(f, TT_ERR_FORMAT, "general.alignment has type %s, expected u32",
                            gg_value_type_name(al->type));
        uint32_t a = gg__le32(al->data);
        if (a == 0 || (a & (a - 1)) || a > MAX_ALIGNMENT)
            return gg__fail(f, TT_ERR_FORMAT,
                            "general.alignment %u is not a power of two in 1..%u", a,
                            MAX_ALIGNMENT);
        f->alignment = a;
    }
    return TT_SUCCESS;
}

static tt_status parse_tensor_info(cur *c, gg_tensor *t)
{
    gg_file *f = c->f;
    TRY(rd_str(c, "tensor name", &t->name));
    int nl = (int)(t->name.len > 200 ? 200 : t->name.len);
    if (t->name.len == 0)
        return gg__fail(f, TT_ERR_FORMAT, "tensor at offset %llu has an empty name",
                        (ull)(c->pos - 8));
    TRY(rd_u32(c, "tensor dimension count", &t->n_dims));
    if (t->n_dims < 1 || t->n_dims > GG_MAX_DIMS)
        return gg__fail(f, TT_ERR_FORMAT, "tensor '%.*s': %u dimensions (1..%d allowed)", nl,
                        t->name.ptr, t->n_dims, GG_MAX_DIMS);
    t->n_elements = 1;
    for (uint32_t d = 0; d < GG_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims)
            TRY(rd_u64(c, "tensor dimension", &ne));
        if (ne == 0)
            return gg__fail(f, TT_ERR_FORMAT, "tensor '%.*s': dimension %u is 0", nl,
                            t->name.ptr, d);
        if (ne > MAX_ELEMENTS / t->n_elements)
            return gg__fail(f, TT_ERR_TOO_LARGE, "tensor '%.*s': more than %llu elements", nl,
                            t->name.ptr, (ull)MAX_ELEMENTS);
        t->ne[d] = ne;
        t->n_elements *= ne;
    }
    TRY(rd_u32(c, "tensor type", &t->type));
    uint32_t blk = gg_type_block(t->type);
    if (!blk)
        return gg__fail(f, TT_ERR_FORMAT, "tensor '%.*s': invalid tensor type %u", nl,
                        t->name.ptr, t->type);
    if (t->ne[0] % blk)
        return gg__fail(f, TT_ERR_FORMAT,
                        "tensor '%.*s': row length %llu is not a multiple of %s's block of %u",
                        nl, t->name.ptr, (ull)t->ne[0], gg_tensor_type_name(t->type), blk);
    t->size = t->n_elements / blk * gg_type_block_bytes(t->type);
    TRY(rd_u64(c, "tensor offset", &t->offset));
    if (t->offset % f->alignment)
        return gg__fail(f, TT_ERR_FORMAT, "tensor '%.*s': offset %llu is not a multiple of %u",
                        nl, t->name.ptr, (ull)t->offset, f->alignment);
    return TT_SUCCESS;
}

static tt_status parse_tensors(cur *c)
{
    gg_file *f = c->f;
    TRY(check_count(c, f->n_tensors, 8 + 4 + 8 + 4 + 8, "tensor"));
    f->tensors = calloc((size_t)(f->n_tensors ? f->n_tensors : 1), sizeof *f->tensors);
    if (!f->tensors)
        return gg__fail(f, TT_OUT_OF_HOST_MEMORY, "no memory for %llu tensors",
                        (ull)f->n_tensors);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        TRY(parse_tensor_info(c, &f->tensors[i]));
    /* The data section starts at the next multiple of the alignment. */
    uint64_t pad = (f->alignment - c->pos % f->alignment) % f->alignment;
    /* A file without tensors (a vocabulary-only file) may end right after its directory. */
    if (f->n_tensors == 0 && pad > remaining(c))
        pad = remaining(c);
    if (pad > remaining(c))
        return gg__fail(f, TT_ERR_TRUNCATED, "data section at offset %llu is past the end (%llu)",
                        (ull)(c->pos + pad), (ull)f->size);
    f->data_offset = c->pos + pad;
    uint64_t data_size = f->size - f->data_offset;
    sort_t = f->tensors;
    if (!(f->tensor_sorted = sorted_index(f->n_tensors, cmp_tname)))
        return gg__fail(f, TT_OUT_OF_HOST_MEMORY, "no memory for the tensor index");
    for (uint64_t i = 1; i < f->n_tensors; i++) {
        const gg_tensor *a = &f->tensors[f->tensor_sorted[i - 1]];
        if (gg__str_cmp(a->name, f->tensors[f->tensor_sorted[i]].name) == 0)
            return gg__fail(f, TT_ERR_FORMAT, "duplicate tensor name '%.*s'",
                            (int)(a->name.len > 200 ? 200 : a->name.len), a->name.ptr);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gg_tensor *t = &f->tensors[i];
        if (t->offset > data_size || t->size > data_size - t->offset)
            return gg__fail(f, TT_ERR_TRUNCATED,
                            "tensor '%.*s': data [%llu, %llu) past the end of the data section "
                            "(%llu bytes)",
                            (int)(t->name.len > 200 ? 200 : t->name.len), t->name.ptr,
                            (ull)t->offset, (ull)t->offset + t->size, (ull)data_size);
        t->data = f->base + f->data_offset + t->offset;
    }
    /* Tensors must not share bytes: check neighbours in offset order. */
    uint64_t *by_off = sorted_index(f->n_tensors, cmp_toff);
    if (!by_off)
        return gg__fail(f, TT_OUT_OF_HOST_MEMORY, "no memory for the offset index");
    tt_status st = TT_SUCCESS;
    for (uint64_t i = 1; i < f->n_tensors && st == TT_SUCCESS; i++) {
        const gg_tensor *a = &f->tensors[by_off[i - 1]], *b = &f->tensors[by_off[i]];
        if (a->offset + a->size > b->offset)
            st = gg__fail(f, TT_ERR_FORMAT, "tensors '%.*s' and '%.*s' overlap",
                          (int)(a->name.len > 100 ? 100 : a->name.len), a->name.ptr,
                          (int)(b->name.len > 100 ? 100 : b->name.len), b->name.ptr);
    }
    free(by_off);
    return st;
}

tt_status gg__parse(gg_file *f)
{
    cur c = {f, 0};
    const unsigned char *p;
    TRY(take(&c, 4, "magic", &p));
    if (memcmp(p, "GGUF", 4) != 0)
        return gg__fail(f, TT_ERR_FORMAT, "bad magic %02x %02x %02x %02x (expected \"GGUF\")",
                        p[0], p[1], p[2], p[3]);
    TRY(rd_u32(&c, "version", &f->version));
    if (f->version == 1)
        return gg__fail(f, TT_ERR_VERSION, "GGUF version 1 (32-bit counts) is not supported");
    if (f->version != 2 && f->version != 3)
        return gg__fail(f, TT_ERR_VERSION, "GGUF version %u is not supported (2 or 3)%s",
                        f->version,
                        (f->version & 0xffff) == 0 ? "; a big-endian file?" : "");
    TRY(rd_u64(&c, "tensor count", &f->n_tensors));
    TRY(rd_u64(&c, "metadata count", &f->n_kv));
    TRY(parse_kvs(&c));
    return parse_tensors(&c);
}

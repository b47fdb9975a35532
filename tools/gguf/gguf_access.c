/* gguf_access.c — lookups on a parsed GGUF file: metadata getters with type checks, tensors by
 * name, the LLaMA hyper-parameters (checked against the tensor shapes, so a forward pass can
 * trust them) and the model cache path shared with tools/model-get/get-smollm2.sh. */
#include "gguf/gguf_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef unsigned long long ull;

const char *gg_error(const gg_file *f) { return f ? f->err : "no file"; }
uint32_t gg_version(const gg_file *f) { return f->version; }
uint32_t gg_alignment(const gg_file *f) { return f->alignment; }
uint64_t gg_data_offset(const gg_file *f) { return f->data_offset; }
uint64_t gg_kv_count(const gg_file *f) { return f->n_kv; }
uint64_t gg_tensor_count(const gg_file *f) { return f->n_tensors; }

const gg_kv *gg_kv_at(const gg_file *f, uint64_t i)
{
    return i < f->n_kv ? &f->kv[i] : NULL;
}

const gg_tensor *gg_tensor_at(const gg_file *f, uint64_t i)
{
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const char *gg_value_type_name(uint32_t type)
{
    static const char *const names[GG_VALUE_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64",
        "f64"};
    return type < GG_VALUE_TYPE_COUNT ? names[type] : "unknown";
}

int gg_str_eq(gg_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

/* Binary search in a sorted index (both the key and the tensor indices are sorted by string). */
static const void *bsearch_str(const char *key, const uint64_t *idx, uint64_t n, const void *base,
                               size_t stride, size_t str_off)
{
    gg_str k = {key, strlen(key)};
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const char *item = (const char *)base + idx[mid] * stride;
        gg_str s;
        memcpy(&s, item + str_off, sizeof s);
        int c = gg__str_cmp(s, k);
        if (c == 0)
            return item;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const gg_kv *gg_find_kv(const gg_file *f, const char *key)
{
    if (!f || !key || !f->kv_sorted)
        return NULL;
    return bsearch_str(key, f->kv_sorted, f->n_kv, f->kv, sizeof *f->kv, offsetof(gg_kv, key));
}

const gg_tensor *gg_find_tensor(const gg_file *f, const char *name)
{
    if (!f || !name || !f->tensor_sorted)
        return NULL;
    return bsearch_str(name, f->tensor_sorted, f->n_tensors, f->tensors, sizeof *f->tensors,
                       offsetof(gg_tensor, name));
}

static tt_status lookup(gg_file *f, const char *key, const gg_kv **kv)
{
    if (!f || !key)
        return TT_ERR_NULL_ARGUMENT;
    if (!(*kv = gg_find_kv(f, key)))
        return gg__fail(f, TT_ERR_FORMAT, "metadata key '%s' is missing", key);
    return TT_SUCCESS;
}

static tt_status wrong_type(gg_file *f, const char *key, const gg_kv *kv, const char *want)
{
    return gg__fail(f, TT_ERR_FORMAT, "metadata key '%s' has type %s, expected %s", key,
                    gg_value_type_name(kv->type), want);
}

/* Integer value (of any integer width and signedness) of element i of raw little-endian data. */
static int read_int(uint32_t type, const unsigned char *p, int64_t *v, uint64_t *u)
{
    *v = 0;
    *u = 0;
    switch (type) {
    case GG_U8: case GG_BOOL: *u = p[0]; break;
    case GG_I8: *v = (int8_t)p[0]; break;
    case GG_U16: *u = gg__le16(p); break;
    case GG_I16: *v = (int16_t)gg__le16(p); break;
    case GG_U32: *u = gg__le32(p); break;
    case GG_I32: *v = (int32_t)gg__le32(p); break;
    case GG_U64: *u = gg__le64(p); break;
    case GG_I64: *v = (int64_t)gg__le64(p); break;
    default: return 0;
    }
    if (*u)
        *v = *u > INT64_MAX ? INT64_MAX : (int64_t)*u;
    else if (*v > 0)
        *u = (uint64_t)*v;
    return 1;
}

tt_status gg_get_u32(gg_file *f, const char *key, uint32_t *out)
{
    const gg_kv *kv;
    int64_t v;
    uint64_t u;
    tt_status st = lookup(f, key, &kv);
    if (st != TT_SUCCESS)
        return st;
    if (kv->type == GG_BOOL || !read_int(kv->type, kv->data, &v, &u))
        return wrong_type(f, key, kv, "an integer");
    if (v < 0 || u > UINT32_MAX)
        return gg__fail(f, TT_ERR_FORMAT, "metadata key '%s': value out of the u32 range", key);
    *out = (uint32_t)u;
    return TT_SUCCESS;
}

static double read_float(uint32_t type, const unsigned char *p)
{
    if (type == GG_F32) {
        uint32_t b = gg__le32(p);
        float x;
        memcpy(&x, &b, sizeof x);
        return x;
    }
    if (type == GG_F64) {
        uint64_t b = gg__le64(p);
        double x;
        memcpy(&x, &b, sizeof x);
        return x;
    }
    int64_t v;
    uint64_t u;
    read_int(type, p, &v, &u);
    return u ? (double)u : (double)v;
}

tt_status gg_get_f32(gg_file *f, const char *key, float *out)
{
    const gg_kv *kv;
    tt_status st = lookup(f, key, &kv);
    if (st != TT_SUCCESS)
        return st;
    if (kv->type != GG_F32 && kv->type != GG_F64)
        return wrong_type(f, key, kv, "f32");
    *out = (float)read_float(kv->type, kv->data);
    return TT_SUCCESS;
}

tt_status gg_get_bool(gg_file *f, const char *key, int *out)
{
    const gg_kv *kv;
    tt_status st = lookup(f, key, &kv);
    if (st != TT_SUCCESS)
        return st;
    if (kv->type != GG_BOOL)
        return wrong_type(f, key, kv, "bool");
    *out = kv->data[0];
    return TT_SUCCESS;
}

tt_status gg_get_string(gg_file *f, const char *key, gg_str *out)
{
    const gg_kv *kv;
    tt_status st = lookup(f, key, &kv);
    if (st != TT_SUCCESS)
        return st;
    if (kv->type != GG_STRING)
        return wrong_type(f, key, kv, "string");
    *out = kv->strs[0];
    return TT_SUCCESS;
}

tt_status gg_get_array(gg_file *f, const char *key, uint32_t elem_type, const gg_kv **out)
{
    const gg_kv *kv;
    tt_status st = lookup(f, key, &kv);
    if (st != TT_SUCCESS)
        return st;
    if (kv->type != GG_ARRAY)
        return wrong_type(f, key, kv, "array");
    if (elem_type != UINT32_MAX && kv->elem_type != elem_type)
        return gg__fail(f, TT_ERR_FORMAT, "metadata key '%s' is an array of %s, expected %s", key,
                        gg_value_type_name(kv->elem_type), gg_value_type_name(elem_type));
    *out = kv;
    return TT_SUCCESS;
}

int64_t gg_array_int(const gg_kv *kv, uint64_t i)
{
    int64_t v;
    uint64_t u;
    if (i >= kv->count || !kv->data)
        return 0;
    return read_int(kv->elem_type, kv->data + i * gg__value_size(kv->elem_type), &v, &u) ? v : 0;
}

double gg_array_float(const gg_kv *kv, uint64_t i)
{
    if (i >= kv->count || !kv->data)
        return 0;
    return read_float(kv->elem_type, kv->data + i * gg__value_size(kv->elem_type));
}

tt_status gg_get_tensor(gg_file *f, const char *name, const gg_tensor **out)
{
    if (!f || !name || !out)
        return TT_ERR_NULL_ARGUMENT;
    if (!(*out = gg_find_tensor(f, name)))
        return gg__fail(f, TT_ERR_FORMAT, "tensor '%s' is missing", name);
    return TT_SUCCESS;
}

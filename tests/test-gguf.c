/* test-gguf.c — the GGUF reader: a file written here with every metadata type and tensors of each
 * dequantisable type (known values, so results must be exact), truncated at every length, and
 * damaged in each way the reader names; then the SmolLM2 file itself when it is in the model cache
 * (tools/model-get/get-smollm2.sh; never downloaded here), checked against gguf-py's values. */
#include "gguf/gguf.h"
#include "support.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a minimal GGUF writer ---- */
typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u8_(buf *b, uint8_t v) { put(b, &v, 1); }
static void u16_(buf *b, uint16_t v) { u8_(b, v & 0xff), u8_(b, v >> 8); }
static void u32_(buf *b, uint32_t v) { u16_(b, v & 0xffff), u16_(b, v >> 16); }
static void u64_(buf *b, uint64_t v) { u32_(b, (uint32_t)v), u32_(b, (uint32_t)(v >> 32)); }
static void f32_(buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); u32_(b, u); }
static void str_(buf *b, const char *s) { u64_(b, strlen(s)), put(b, s, strlen(s)); }
static void key_(buf *b, const char *k, uint32_t type) { str_(b, k), u32_(b, type); }

typedef struct tspec {
    const char *name;
    uint32_t n_dims, type;
    uint64_t ne[5];
    const void *data;
    size_t size;
    int64_t offset; /* < 0: next aligned position */
} tspec;

typedef struct fspec {
    uint32_t version, alignment; /* alignment 0: no general.alignment key */
    void (*kvs)(buf *b);
    uint64_t n_kv;
    const tspec *t;
    int n_t;
} fspec;

static buf make(const fspec *s)
{
    buf b = {0}, kv = {0};
    uint64_t align = s->alignment ? s->alignment : 32, off = 0, offs[16];
    put(&b, "GGUF", 4);
    u32_(&b, s->version);
    u64_(&b, (uint64_t)s->n_t);
    u64_(&b, s->n_kv + (s->alignment ? 1 : 0));
    if (s->alignment)
        key_(&kv, "general.alignment", GG_U32), u32_(&kv, s->alignment);
    if (s->kvs)
        s->kvs(&kv);
    put(&b, kv.p, kv.n);
    free(kv.p);
    for (int i = 0; i < s->n_t; i++) {
        const tspec *t = &s->t[i];
        off = (off + align - 1) / align * align;
        offs[i] = t->offset < 0 ? off : (uint64_t)t->offset;
        off = offs[i] + t->size;
        str_(&b, t->name);
        u32_(&b, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            u64_(&b, t->ne[d]);
        u32_(&b, t->type);
        u64_(&b, offs[i]);
    }
    size_t data = (b.n + align - 1) / align * align;
    for (int i = 0; i < s->n_t; i++) {
        if (offs[i] > (1u << 24))
            continue; /* an offset past the end, on purpose */
        size_t end = data + offs[i] + s->t[i].size;
        while (b.n < end)
            u8_(&b, 0);
        memcpy(b.p + data + offs[i], s->t[i].data, s->t[i].size);
    }
    return b;
}

/* ---- the reference file: every value type, tensors with exactly representable values ---- */
static void all_kvs(buf *b)
{
    key_(b, "t.u8", GG_U8), u8_(b, 200);
    key_(b, "t.i8", GG_I8), u8_(b, (uint8_t)-100);
    key_(b, "t.u16", GG_U16), u16_(b, 60000);
    key_(b, "t.i16", GG_I16), u16_(b, (uint16_t)-30000);
    key_(b, "t.u32", GG_U32), u32_(b, 4000000000u);
    key_(b, "t.i32", GG_I32), u32_(b, (uint32_t)-2000000000);
    key_(b, "t.f32", GG_F32), f32_(b, 1.5f);
    key_(b, "t.bool", GG_BOOL), u8_(b, 1);
    key_(b, "t.str", GG_STRING), str_(b, "h\xc3\xa9llo");
    key_(b, "t.u64", GG_U64), u64_(b, (uint64_t)1 << 40);
    key_(b, "t.i64", GG_I64), u64_(b, (uint64_t)-((int64_t)1 << 40));
    double d = 0.1;
    uint64_t du;
    memcpy(&du, &d, 8);
    key_(b, "t.f64", GG_F64), u64_(b, du);
    key_(b, "t.arr.str", GG_ARRAY), u32_(b, GG_STRING), u64_(b, 3);
    str_(b, "a"), str_(b, ""), str_(b, "\xc4\xa0\xc4\xa0 b");
    key_(b, "t.arr.i32", GG_ARRAY), u32_(b, GG_I32), u64_(b, 3);
    u32_(b, 1), u32_(b, (uint32_t)-2), u32_(b, 3);
    key_(b, "t.arr.f32", GG_ARRAY), u32_(b, GG_F32), u64_(b, 2), f32_(b, 0.5f), f32_(b, -0.25f);
    key_(b, "t.arr.bool", GG_ARRAY), u32_(b, GG_BOOL), u64_(b, 2), u8_(b, 0), u8_(b, 1);
    key_(b, "t.arr.empty", GG_ARRAY), u32_(b, GG_U64), u64_(b, 0);
}
#define ALL_KVS 17

static const float F32V[6] = {1.0f, -2.5f, 0.0f, 1e-3f, 3.4e38f, -0.0f};
static const uint16_t Q8D[4] = {0x3800, 0xb400, 0x0001, 0x4000}; /* 0.5, -0.25, 2^-24, 2 */
static const float Q8DF[4] = {0.5f, -0.25f, 0x1p-24f, 2.0f};
static const uint16_t Q4D[3][2] = {{0x3400, 0xbc00}, {0x3c00, 0x3800}, {0xc000, 0x0000}};
static const float Q4DF[3][2] = {{0.25f, -1.0f}, {1.0f, 0.5f}, {-2.0f, 0.0f}}; /* d, m */
static unsigned char f32_data[24], q8_data[4 * 34], q4_data[3 * 20], q6k_data[210];

static void fill_data(void)
{
    for (int i = 0; i < 6; i++)
        memcpy(f32_data + 4 * i, &F32V[i], 4); /* the test hosts are little-endian */
    for (int b = 0; b < 4; b++) {
        q8_data[34 * b] = Q8D[b] & 0xff, q8_data[34 * b + 1] = Q8D[b] >> 8;
        for (int j = 0; j < 32; j++)
            q8_data[34 * b + 2 + j] = (uint8_t)(int8_t)(j * 8 - 128 + b);
    }
    for (int b = 0; b < 3; b++) {
        for (int k = 0; k < 2; k++)
            q4_data[20 * b + 2 * k] = Q4D[b][k] & 0xff, q4_data[20 * b + 2 * k + 1] = Q4D[b][k] >> 8;
        for (int j = 0; j < 16; j++) /* element j: j, element j + 16: 15 - j (low nibble first) */
            q4_data[20 * b + 4 + j] = (uint8_t)(j | ((15 - j) << 4));
    }
}

static tspec all_tensors[4] = {
    {"w.f32", 2, GG_TYPE_F32, {3, 2}, f32_data, sizeof f32_data, -1},
    {"w.q8", 2, GG_TYPE_Q8_0, {64, 2}, q8_data, sizeof q8_data, -1},
    {"w.q4", 3, GG_TYPE_Q4_1, {32, 3, 1}, q4_data, sizeof q4_data, -1},
    {"w.q6k", 1, GG_TYPE_Q6_K, {256}, q6k_data, sizeof q6k_data, -1},
};

static fspec full_spec(void)
{
    return (fspec){3, 64, all_kvs, ALL_KVS, all_tensors, 4};
}

static tt_status open_buf(const buf *b, gg_file **f, char *msg)
{
    return gg_open_memory(b->p, b->n, f, msg, 256);
}

START_TEST(test_parse_full)
{
    fspec s = full_spec();
    buf b = make(&s);
    gg_file *f;
    char msg[256] = "";
    ck_assert_msg(open_buf(&b, &f, msg) == TT_SUCCESS, "%s", msg);
    ck_assert_uint_eq(gg_version(f), 3);
    ck_assert_uint_eq(gg_alignment(f), 64);
    ck_assert_uint_eq(gg_kv_count(f), ALL_KVS + 1);
    ck_assert_uint_eq(gg_tensor_count(f), 4);
    ck_assert_uint_eq(gg_data_offset(f) % 64, 0);
    for (int i = 0; i < 4; i++) {
        const gg_tensor *t = gg_find_tensor(f, all_tensors[i].name);
        ck_assert_ptr_eq(t, gg_tensor_at(f, (uint64_t)i));
        ck_assert_uint_eq(t->type, all_tensors[i].type);
        ck_assert_uint_eq(t->n_dims, all_tensors[i].n_dims);
        ck_assert_uint_eq(t->ne[0], all_tensors[i].ne[0]);
        ck_assert_uint_eq(t->ne[3], 1);
        ck_assert_uint_eq(t->offset % 64, 0);
        ck_assert_uint_eq(t->size, all_tensors[i].size);
        ck_assert(memcmp(t->data, all_tensors[i].data, t->size) == 0);
    }
    ck_assert_ptr_null(gg_find_tensor(f, "w.f3"));
    ck_assert_str_eq(gg_tensor_type_name(GG_TYPE_Q4_1), "Q4_1");
    ck_assert_str_eq(gg_tensor_type_name(77), "type#77");
    gg_close(f);
    /* Without general.alignment the default of 32 applies. */
    s.alignment = 0;
    buf b2 = make(&s);
    ck_assert_msg(open_buf(&b2, &f, msg) == TT_SUCCESS, "%s", msg);
    ck_assert_uint_eq(gg_alignment(f), 32);
    ck_assert_uint_eq(gg_data_offset(f) % 32, 0);
    gg_close(f);
    /* Metadata only, no tensors: the file may end without padding. */
    fspec m = {3, 0, all_kvs, ALL_KVS, NULL, 0};
    buf b3 = make(&m);
    ck_assert_msg(open_buf(&b3, &f, msg) == TT_SUCCESS, "%s", msg);
    ck_assert_uint_eq(gg_data_offset(f), b3.n);
    gg_close(f);
    free(b.p), free(b2.p), free(b3.p);
}
END_TEST

START_TEST(test_metadata)
{
    fspec s = full_spec();
    buf b = make(&s);
    gg_file *f;
    char msg[256];
    ck_assert_int_eq(open_buf(&b, &f, msg), TT_SUCCESS);
    uint32_t u;
    float x;
    int flag;
    gg_str str;
    const gg_kv *a;
    ck_assert_int_eq(gg_get_u32(f, "t.u8", &u), TT_SUCCESS);
    ck_assert_uint_eq(u, 200);
    ck_assert_int_eq(gg_get_u32(f, "t.u16", &u), TT_SUCCESS);
    ck_assert_uint_eq(u, 60000);
    ck_assert_int_eq(gg_get_u32(f, "t.u32", &u), TT_SUCCESS);
    ck_assert_uint_eq(u, 4000000000u);
    ck_assert_int_eq(gg_get_u32(f, "t.i8", &u), TT_ERR_FORMAT); /* negative */
    ck_assert_int_eq(gg_get_u32(f, "t.u64", &u), TT_ERR_FORMAT); /* > u32 */
    ck_assert_int_eq(gg_get_u32(f, "t.str", &u), TT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(gg_error(f), "string"));
    ck_assert_int_eq(gg_get_u32(f, "nope", &u), TT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(gg_error(f), "missing"));
    ck_assert_int_eq(gg_get_f32(f, "t.f32", &x), TT_SUCCESS);
    ck_assert(x == 1.5f);
    ck_assert_int_eq(gg_get_f32(f, "t.f64", &x), TT_SUCCESS);
    ck_assert(x == 0.1f);
    ck_assert_int_eq(gg_get_bool(f, "t.bool", &flag), TT_SUCCESS);
    ck_assert_int_eq(flag, 1);
    ck_assert_int_eq(gg_get_string(f, "t.str", &str), TT_SUCCESS);
    ck_assert(gg_str_eq(str, "h\xc3\xa9llo"));
    const gg_kv *kv = gg_find_kv(f, "t.i16");
    ck_assert_uint_eq(kv->type, GG_I16);
    ck_assert_int_eq((int16_t)(kv->data[0] | kv->data[1] << 8), -30000);
    ck_assert_int_eq(gg_get_array(f, "t.arr.str", GG_STRING, &a), TT_SUCCESS);
    ck_assert_uint_eq(a->count, 3);
    ck_assert(gg_str_eq(a->strs[0], "a") && a->strs[1].len == 0);
    ck_assert(gg_str_eq(a->strs[2], "\xc4\xa0\xc4\xa0 b"));
    ck_assert_int_eq(gg_get_array(f, "t.arr.i32", GG_I32, &a), TT_SUCCESS);
    ck_assert(gg_array_int(a, 0) == 1 && gg_array_int(a, 1) == -2 && gg_array_int(a, 2) == 3);
    ck_assert_int_eq(gg_get_array(f, "t.arr.f32", GG_F32, &a), TT_SUCCESS);
    ck_assert(gg_array_float(a, 0) == 0.5 && gg_array_float(a, 1) == -0.25);
    ck_assert_int_eq(gg_get_array(f, "t.arr.bool", GG_BOOL, &a), TT_SUCCESS);
    ck_assert(gg_array_int(a, 0) == 0 && gg_array_int(a, 1) == 1);
    ck_assert_int_eq(gg_get_array(f, "t.arr.empty", UINT32_MAX, &a), TT_SUCCESS);
    ck_assert_uint_eq(a->count, 0);
    ck_assert_int_eq(gg_get_array(f, "t.arr.i32", GG_STRING, &a), TT_ERR_FORMAT);
    ck_assert_int_eq(gg_get_array(f, "t.u8", UINT32_MAX, &a), TT_ERR_FORMAT);
    kv = gg_find_kv(f, "t.i64");
    ck_assert_uint_eq(kv->type, GG_I64);
    gg_llama_params p;
    ck_assert_int_eq(gg_llama_read(f, &p), TT_ERR_FORMAT); /* no general.architecture */
    gg_close(f);
    free(b.p);
}
END_TEST

START_TEST(test_dequant_exact)
{
    fspec s = full_spec();
    buf b = make(&s);
    gg_file *f;
    char msg[256];
    float out[256];
    ck_assert_int_eq(open_buf(&b, &f, msg), TT_SUCCESS);
    ck_assert_int_eq(gg_dequant(f, gg_find_tensor(f, "w.f32"), out), TT_SUCCESS);
    for (int i = 0; i < 6; i++)
        ck_assert(memcmp(&out[i], &F32V[i], 4) == 0); /* bitwise: -0.0 stays -0.0 */
    ck_assert_int_eq(gg_dequant(f, gg_find_tensor(f, "w.q8"), out), TT_SUCCESS);
    for (int i = 0; i < 128; i++)
        ck_assert(out[i] == Q8DF[i / 32] * (float)(i % 32 * 8 - 128 + i / 32));
    const gg_tensor *q4 = gg_find_tensor(f, "w.q4");
    ck_assert_int_eq(gg_dequant(f, q4, out), TT_SUCCESS);
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 32; j++)
            ck_assert(out[32 * r + j] ==
                      Q4DF[r][0] * (float)(j < 16 ? j : 31 - j) + Q4DF[r][1]);
    /* A row range: rows 1..2 of w.q4 are the second and third blocks. */
    float rows[64];
    ck_assert_int_eq(gg_dequant_rows(f, q4, 1, 2, rows), TT_SUCCESS);
    ck_assert(memcmp(rows, out + 32, sizeof rows) == 0);
    ck_assert_int_eq(gg_dequant_rows(f, q4, 2, 2, rows), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(gg_dequant_rows(f, q4, 4, 0, rows), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(gg_dequant_rows(f, q4, 3, 0, rows), TT_SUCCESS);
    ck_assert_int_eq(gg_dequant(f, gg_find_tensor(f, "w.q6k"), out), TT_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(gg_error(f), "Q6_K"));
    gg_close(f);
    free(b.p);
}
END_TEST

START_TEST(test_half)
{
    static const struct {
        uint16_t h;
        float f;
    } cases[] = {{0x3c00, 1.0f},     {0xc000, -2.0f},     {0x7bff, 65504.0f}, {0x0001, 0x1p-24f},
                 {0x03ff, 0x3ffp-24f}, {0x0400, 0x1p-14f}, {0x3555, 0x1.554p-2f}, {0x0000, 0.0f}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(gg_half_to_float(cases[i].h) == cases[i].f, "0x%04x", cases[i].h);
    ck_assert(gg_half_to_float(0x7c00) > 3e38f && gg_half_to_float(0xfc00) < -3e38f);
    ck_assert(gg_half_to_float(0x7e00) != gg_half_to_float(0x7e00)); /* NaN */
    float nz = gg_half_to_float(0x8000);
    ck_assert(nz == 0.0f && signbit(nz));
}
END_TEST

/* Every proper prefix of a valid file is TT_ERR_TRUNCATED (each copied to a buffer of exactly
 * that size, so a sanitizer would see any read past the end). */
START_TEST(test_truncated_everywhere)
{
    fspec s = full_spec();
    buf b = make(&s);
    for (size_t n = 0; n < b.n; n++) {
        unsigned char *p = malloc(n ? n : 1);
        memcpy(p, b.p, n);
        gg_file *f = (gg_file *)p;
        char msg[256] = "";
        tt_status st = gg_open_memory(p, n, &f, msg, sizeof msg);
        ck_assert_msg(st == TT_ERR_TRUNCATED, "prefix %zu of %zu: %s (%s)", n, b.n,
                      tt_status_name(st), msg);
        ck_assert_ptr_null(f);
        ck_assert(msg[0] != '\0');
        free(p);
    }
    free(b.p);
}
END_TEST

/* Builds spec s and expects status want, with want_text in the message. */
static void expect_bad(const fspec *s, tt_status want, const char *want_text)
{
    buf b = make(s);
    gg_file *f;
    char msg[256] = "";
    tt_status st = open_buf(&b, &f, msg);
    ck_assert_msg(st == want, "%s, expected %s (%s)", tt_status_name(st), tt_status_name(want),
                  msg);
    ck_assert_msg(strstr(msg, want_text), "message '%s' lacks '%s'", msg, want_text);
    free(b.p);
}

static void patch_u32(buf *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->p[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

START_TEST(test_bad_header)
{
    fspec s = full_spec();
    buf b = make(&s);
    gg_file *f;
    char msg[256];
    b.p[0] = 'g';
    ck_assert_int_eq(open_buf(&b, &f, msg), TT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(msg, "magic"));
    b.p[0] = 'G';
    const uint32_t versions[] = {0, 1, 4, 0x03000000};
    for (int i = 0; i < 4; i++) {
        patch_u32(&b, 4, versions[i]);
        ck_assert_int_eq(open_buf(&b, &f, msg), TT_ERR_VERSION);
        ck_assert_ptr_nonnull(strstr(msg, "version"));
    }
    patch_u32(&b, 4, 2); /* version 2 has the same layout */
    ck_assert_int_eq(open_buf(&b, &f, msg), TT_SUCCESS);
    gg_close(f);
    free(b.p);
    ck_assert_int_eq(gg_open_memory(NULL, 0, &f, msg, sizeof msg), TT_ERR_TRUNCATED);
    ck_assert_int_eq(gg_open("/nonexistent/model.gguf", &f, msg, sizeof msg), TT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, "/nonexistent/model.gguf"));
    ck_assert_int_eq(gg_open("/", &f, msg, sizeof msg), TT_ERR_IO);
}
END_TEST

static void zero_align(buf *b) { key_(b, "general.alignment", GG_U32), u32_(b, 0); }
static void u64_align(buf *b) { key_(b, "general.alignment", GG_U64), u64_(b, 64); }

START_TEST(test_bad_alignment)
{
    fspec s = full_spec();
    const uint32_t bad[] = {3, 48, 1u << 21}; /* not powers of two; beyond the 1 MiB limit */
    for (int i = 0; i < 3; i++) {
        s.alignment = bad[i];
        expect_bad(&s, TT_ERR_FORMAT, "general.alignment");
    }
    fspec z = {3, 0, zero_align, 1, NULL, 0};
    expect_bad(&z, TT_ERR_FORMAT, "power of two");
    z.kvs = u64_align;
    expect_bad(&z, TT_ERR_FORMAT, "expected u32");
}
END_TEST

/* Variants of the reference directory: tensor i changed by fn, expecting want / text. */
static void bad_tensor(int i, void (*fn)(tspec *), tt_status want, const char *text)
{
    tspec t[4];
    memcpy(t, all_tensors, sizeof t);
    fn(&t[i]);
    fspec s = full_spec();
    s.t = t;
    expect_bad(&s, want, text);
}
static void t_unaligned(tspec *t) { t->offset = 32; }
static void t_past_end(tspec *t) { t->offset = (int64_t)1 << 40; }
static void t_overlap(tspec *t) { t->offset = 0; }
static void t_zero_dim(tspec *t) { t->ne[1] = 0; }
static void t_five_dims(tspec *t) { t->n_dims = 5, t->ne[2] = t->ne[3] = t->ne[4] = 1; }
static void t_no_dims(tspec *t) { t->n_dims = 0; }
static void t_removed_type(tspec *t) { t->type = 4; }
static void t_huge_type(tspec *t) { t->type = 1000; }
static void t_partial_block(tspec *t) { t->ne[0] = 16, t->ne[1] = 8; }
static void t_dup_name(tspec *t) { t->name = "w.f32"; }
static void t_empty_name(tspec *t) { t->name = ""; }
static void t_huge(tspec *t) { t->n_dims = 3, t->ne[0] = t->ne[1] = t->ne[2] = (uint64_t)1 << 20; }

START_TEST(test_bad_tensors)
{
    bad_tensor(1, t_unaligned, TT_ERR_FORMAT, "not a multiple of 64");
    bad_tensor(3, t_past_end, TT_ERR_TRUNCATED, "past the end");
    bad_tensor(1, t_overlap, TT_ERR_FORMAT, "overlap");
    bad_tensor(0, t_zero_dim, TT_ERR_FORMAT, "dimension 1 is 0");
    bad_tensor(0, t_five_dims, TT_ERR_FORMAT, "5 dimensions");
    bad_tensor(0, t_no_dims, TT_ERR_FORMAT, "0 dimensions");
    bad_tensor(2, t_removed_type, TT_ERR_FORMAT, "invalid tensor type 4");
    bad_tensor(2, t_huge_type, TT_ERR_FORMAT, "invalid tensor type 1000");
    bad_tensor(1, t_partial_block, TT_ERR_FORMAT, "not a multiple of Q8_0's block");
    bad_tensor(2, t_dup_name, TT_ERR_FORMAT, "duplicate tensor name 'w.f32'");
    bad_tensor(2, t_empty_name, TT_ERR_FORMAT, "empty name");
    bad_tensor(0, t_huge, TT_ERR_TOO_LARGE, "elements");
}
END_TEST

/* Damaged metadata, one case per value of kv_case. */
static int kv_case;
static void bad_kvs(buf *b)
{
    switch (kv_case) {
    case 0: key_(b, "a", GG_U8), u8_(b, 1), key_(b, "a", GG_U8), u8_(b, 2); break;
    case 1: key_(b, "a", 13), u8_(b, 1); break;
    case 2: key_(b, "a", GG_ARRAY), u32_(b, GG_ARRAY), u64_(b, 1), u32_(b, GG_U8), u64_(b, 0); break;
    case 3: key_(b, "a", GG_ARRAY), u32_(b, 99), u64_(b, 0); break;
    case 4: key_(b, "a", GG_BOOL), u8_(b, 2); break;
    case 5: key_(b, "a", GG_STRING), u64_(b, (uint64_t)1 << 40); break;
    case 6: key_(b, "a", GG_ARRAY), u32_(b, GG_U32), u64_(b, (uint64_t)1 << 40); break;
    case 7: key_(b, "a", GG_ARRAY), u32_(b, GG_U32), u64_(b, 1000), u32_(b, 7); break;
    case 8: key_(b, "a", GG_ARRAY), u32_(b, GG_STRING), u64_(b, 2), str_(b, "x"), u64_(b, 50); break;
    case 9: key_(b, "", GG_U8), u8_(b, 1); break;
    }
}

START_TEST(test_bad_metadata)
{
    static const struct {
        tt_status st;
        const char *text;
    } want[] = {{TT_ERR_FORMAT, "duplicate metadata key 'a'"},
                {TT_ERR_FORMAT, "unknown value type 13"},
                {TT_ERR_UNSUPPORTED, "arrays of arrays"},
                {TT_ERR_FORMAT, "unknown array element type 99"},
                {TT_ERR_FORMAT, "bool value 2"},
                {TT_ERR_TOO_LARGE, "length 1099511627776"},
                {TT_ERR_TOO_LARGE, "count 1099511627776"},
                {TT_ERR_TRUNCATED, "array element count 1000"},
                {TT_ERR_TRUNCATED, "array string"},
                {TT_ERR_FORMAT, "has length 0"}};
    for (kv_case = 0; kv_case < 10; kv_case++) {
        fspec s = {3, 0, bad_kvs, kv_case == 0 ? 2 : 1, NULL, 0};
        expect_bad(&s, want[kv_case].st, want[kv_case].text);
    }
    fspec s = {3, 0, NULL, (uint64_t)1 << 40, NULL, 0};
    expect_bad(&s, TT_ERR_TOO_LARGE, "metadata count");
    s.n_kv = 1000;
    expect_bad(&s, TT_ERR_TRUNCATED, "metadata count 1000");
}
END_TEST

START_TEST(test_open_file)
{
    fspec s = full_spec();
    buf b = make(&s);
    char path[] = "/tmp/tt-gguf-XXXXXX", msg[256] = "";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, b.p, b.n), (ssize_t)b.n);
    close(fd);
    gg_file *f;
    tt_status st = gg_open(path, &f, msg, sizeof msg);
    unlink(path);
    ck_assert_msg(st == TT_SUCCESS, "%s", msg);
    float out[96];
    ck_assert_int_eq(gg_dequant(f, gg_find_tensor(f, "w.q4"), out), TT_SUCCESS);
    ck_assert(out[17] == 0.25f * 14 - 1.0f);
    gg_close(f);
    free(b.p);
}
END_TEST

/* ---- the real SmolLM2 file ---- */
static char model_path[4096];

START_TEST(test_real_model)
{
    gg_file *f;
    char msg[256] = "";
    ck_assert_msg(gg_open(model_path, &f, msg, sizeof msg) == TT_SUCCESS, "%s", msg);
    ck_assert_uint_eq(gg_version(f), 3);
    ck_assert_uint_eq(gg_alignment(f), 32);
    ck_assert_uint_eq(gg_kv_count(f), 33);
    ck_assert_uint_eq(gg_tensor_count(f), 272);
    gg_llama_params p;
    ck_assert_msg(gg_llama_read(f, &p) == TT_SUCCESS, "%s", gg_error(f));
    ck_assert_uint_eq(p.n_layer, 30);
    ck_assert_uint_eq(p.dim, 576);
    ck_assert_uint_eq(p.n_head, 9);
    ck_assert_uint_eq(p.n_head_kv, 3);
    ck_assert_uint_eq(p.head_dim, 64);
    ck_assert_uint_eq(p.rope_dim, 64);
    ck_assert_uint_eq(p.ffn_dim, 1536);
    ck_assert_uint_eq(p.context_length, 8192);
    ck_assert_uint_eq(p.vocab_size, 49152);
    ck_assert_int_eq(p.tied_output, 1);
    ck_assert(p.rope_base == 100000.0f && p.norm_eps == 1e-5f);
    int count[GG_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < gg_tensor_count(f); i++)
        count[gg_tensor_at(f, i)->type]++;
    ck_assert_int_eq(count[GG_TYPE_F32], 61);
    ck_assert_int_eq(count[GG_TYPE_Q4_1], 210);
    ck_assert_int_eq(count[GG_TYPE_Q8_0], 1);
    ck_assert_uint_eq(gg_find_tensor(f, "token_embd.weight")->type, GG_TYPE_Q8_0);
    /* Reference values from gguf-py 0.19.0: tools/tokenizer/hf_reference.py MODEL tensor NAME ROW 4 */
    static const struct {
        const char *name;
        uint64_t row;
        float v[4];
    } ref[] = {
        {"token_embd.weight", 100,
         {0.019052505493164062f, -0.08437538146972656f, -0.1660289764404297f,
          -0.10070610046386719f}},
        {"output_norm.weight", 0, {1.7578125f, 1.8203125f, 1.78125f, 1.6015625f}},
        {"blk.29.ffn_down.weight", 575,
         {-0.22918701171875f, -0.03912353515625f, -0.276702880859375f, 0.2459716796875f}},
        {"blk.0.attn_k.weight", 191,
         {0.015869140625f, -0.4342041015625f, 0.015869140625f, -0.7342529296875f}},
    };
    float row[1536];
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        const gg_tensor *t = gg_find_tensor(f, ref[i].name);
        ck_assert_int_eq(gg_dequant_rows(f, t, ref[i].row, 1, row), TT_SUCCESS);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(row[j] == ref[i].v[j], "%s[%d]: %.9g", ref[i].name, j, row[j]);
    }
    gg_close(f);
}
END_TEST

int main(void)
{
    fill_data();
    Suite *s = suite_create("gguf");
    TCase *tc = tcase_create("synthetic");
    tcase_add_test(tc, test_parse_full);
    tcase_add_test(tc, test_metadata);
    tcase_add_test(tc, test_dequant_exact);
    tcase_add_test(tc, test_half);
    tcase_add_test(tc, test_truncated_everywhere);
    tcase_add_test(tc, test_bad_header);
    tcase_add_test(tc, test_bad_alignment);
    tcase_add_test(tc, test_bad_tensors);
    tcase_add_test(tc, test_bad_metadata);
    tcase_add_test(tc, test_open_file);
    suite_add_tcase(s, tc);
    if (gg_model_path(GG_SMOLLM2_FILE, model_path, sizeof model_path) == 1) {
        TCase *real = tcase_create("smollm2");
        tcase_set_timeout(real, 120);
        tcase_add_test(real, test_real_model);
        suite_add_tcase(s, real);
    } else {
        printf("# %s not in the model cache: real-model checks skipped "
               "(tools/model-get/get-smollm2.sh fetches it)\n", GG_SMOLLM2_FILE);
        fflush(stdout);
    }
    return tt_test_run(s);
}

/* test-table-file.c — table file format v1: save/load round trip, every truncation and byte flip
 * failing cleanly, each validation rule's status, import of the reference text files, the atomic
 * writer under injected faults, and per-device selection from a directory. No device needed. */
#include "support.h"
#include "table_file.h"
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char dir[256]; /* per-test temp directory (checked fixture) */

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/tt-table-file-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[512];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

static const char *in_dir(const char *name)
{
    static char path[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(path[i], sizeof path[i], "%s/%s", dir, name);
    return path[i];
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*size + 1);
    ck_assert_uint_eq(fread(buf, 1, *size, f), *size);
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static int count_temp_files(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static tt_table_meta full_meta(void)
{
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.placement = TT_PLACE_REL;
    m.sigma = 0.25f;
    m.score_precision = 16;
    m.n_layers = 3;
    m.n_heads = 4;
    m.n_kv_heads = 2;
    m.head_dim = 8;
    strcpy(m.model_name, "stories260K");
    m.model_hash = 0x0123456789abcdefull;
    strcpy(m.device_name, "Test Device");
    m.samples = 4242;
    strcpy(m.token_hash, HASH64);
    m.created_unix = 1712345678;
    m.tac = 1;
    return m;
}

/* 3 layers x 4 heads; curve (l, h) has (4l + h) % 5 samples, D̂ on odd heads; k on layers 1, 2. */
static tt_table *full_table(void)
{
    tt_table_meta m = full_meta();
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(t, 1, 16), TT_SUCCESS);
    ck_assert_int_eq(tt_table_set_layer_k(t, 2, 1 << 24), TT_SUCCESS);
    for (int l = 0; l < 3; l++)
        for (int h = 0; h < 4; h++) {
            int count = (4 * l + h) % 5, ns[4];
            float th[4], dh[4];
            for (int i = 0; i < count; i++) {
                ns[i] = 17 + 100 * i + l + (i == 3 ? (1 << 24) - 400 : 0);
                th[i] = -1.5f + 0.37f * (float)(i + l * h);
                dh[i] = 1e-3f * (float)(i + 1) * (float)(h + 1);
            }
            ck_assert_int_eq(tt_table_set_curve(t, l, h, count, ns, th, h % 2 ? dh : NULL),
                             TT_SUCCESS);
        }
    return t;
}

static void assert_tables_equal(const tt_table *a, const tt_table *b)
{
    tt_table_meta x, y;
    ck_assert_int_eq(tt_table_get_meta(a, &x), TT_SUCCESS);
    ck_assert_int_eq(tt_table_get_meta(b, &y), TT_SUCCESS);
    ck_assert_int_eq(x.placement, y.placement);
    ck_assert(memcmp(&x.sigma, &y.sigma, sizeof x.sigma) == 0);
    ck_assert_int_eq(x.score_precision, y.score_precision);
    ck_assert_int_eq(x.n_layers, y.n_layers);
    ck_assert_int_eq(x.n_heads, y.n_heads);
    ck_assert_int_eq(x.n_kv_heads, y.n_kv_heads);
    ck_assert_int_eq(x.head_dim, y.head_dim);
    ck_assert_str_eq(x.model_name, y.model_name);
    ck_assert_uint_eq(x.model_hash, y.model_hash);
    ck_assert_str_eq(x.device_name, y.device_name);
    ck_assert_uint_eq(x.samples, y.samples);
    ck_assert_str_eq(x.token_hash, y.token_hash);
    ck_assert_int_eq(x.created_unix, y.created_unix);
    ck_assert_int_eq(x.tac, y.tac);
    for (int l = 0; l < x.n_layers; l++) {
        int ka, kb;
        ck_assert_int_eq(tt_table_get_layer_k(a, l, &ka), TT_SUCCESS);
        ck_assert_int_eq(tt_table_get_layer_k(b, l, &kb), TT_SUCCESS);
        ck_assert_int_eq(ka, kb);
        for (int h = 0; h < x.n_heads; h++) {
            int ca, cb, na[8], nb[8];
            float ta[8], tb[8], da[8], db[8];
            ck_assert_int_eq(tt_table_get_curve(a, l, h, &ca, na, ta, da), TT_SUCCESS);
            ck_assert_int_eq(tt_table_get_curve(b, l, h, &cb, nb, tb, db), TT_SUCCESS);
            ck_assert_int_eq(ca, cb);
            for (int i = 0; i < ca; i++) {
                ck_assert_int_eq(na[i], nb[i]);
                ck_assert(memcmp(&ta[i], &tb[i], sizeof ta[i]) == 0);
                ck_assert(isnan(da[i]) ? isnan(db[i]) : memcmp(&da[i], &db[i], 4) == 0);
            }
        }
    }
}

/* The saved bytes of full_table(), and the offset of its per-layer k array. */
static uint8_t *saved_bytes(size_t *size, size_t *k_off)
{
    tt_table *t = full_table();
    ck_assert_int_eq(tt_table_save(t, in_dir("t.ttt")), TT_SUCCESS);
    tt_table_destroy(t);
    tt_table_meta m = full_meta();
    *k_off = 64 + 6 + strlen(m.model_name) + strlen(m.device_name) + strlen(m.token_hash);
    return read_all(in_dir("t.ttt"), size);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Patches a u32 and re-seals the checksum, so that the check under test is the one that fires. */
static tt_status load_patched(const uint8_t *good, size_t size, size_t off, uint32_t v)
{
    uint8_t *buf = malloc(size);
    memcpy(buf, good, size);
    put32(buf + off, v);
    put32(buf + size - 4, tt__crc32(buf, size - 4));
    tt_table *t = (tt_table *)buf;
    tt_status st = tt_table_load_memory(buf, size, &t);
    ck_assert_msg(t == NULL, "patch at %zu = 0x%x was accepted", off, v);
    ck_assert_str_ne(tt_last_error(NULL), "");
    free(buf);
    return st;
}

START_TEST(test_round_trip)
{
    tt_table *t = full_table(), *back = NULL;
    ck_assert_int_eq(tt_table_save(t, in_dir("rt.ttt")), TT_SUCCESS);
    ck_assert_int_eq(tt_table_load(in_dir("rt.ttt"), &back), TT_SUCCESS);
    assert_tables_equal(t, back);
    /* Saving the loaded table gives the same bytes: the encoding is canonical. */
    ck_assert_int_eq(tt_table_save(back, in_dir("rt2.ttt")), TT_SUCCESS);
    size_t s1, s2;
    uint8_t *b1 = read_all(in_dir("rt.ttt"), &s1), *b2 = read_all(in_dir("rt2.ttt"), &s2);
    ck_assert_uint_eq(s1, s2);
    ck_assert(memcmp(b1, b2, s1) == 0);
    ck_assert(memcmp(b1, "TTHT\1\0\0\0", 8) == 0);
    tt_table *mem = NULL;
    ck_assert_int_eq(tt_table_load_memory(b1, s1, &mem), TT_SUCCESS);
    assert_tables_equal(t, mem);
    float th, dh;
    ck_assert_int_eq(tt_table_lookup(mem, 1, 3, 17 + 1, &th, &dh), TT_SUCCESS);
    ck_assert_float_eq(th, -1.5f + 0.37f * 3.0f);
    struct stat sb;
    ck_assert_int_eq(stat(in_dir("rt.ttt"), &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0644);
    ck_assert_int_eq(count_temp_files(), 0);
    free(b1);
    free(b2);
    tt_table_destroy(t);
    tt_table_destroy(back);
    tt_table_destroy(mem);
}
END_TEST

START_TEST(test_every_truncation)
{
    size_t size, k_off;
    uint8_t *good = saved_bytes(&size, &k_off);
    for (size_t len = 0; len < size; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees any over-read */
        memcpy(copy, good, len);
        tt_table *t = (tt_table *)good;
        tt_status st = tt_table_load_memory(copy, len, &t);
        /* Every proper prefix of a valid file reads as truncated (docs/TABLE_FORMAT.md). */
        ck_assert_msg(st == TT_ERR_TRUNCATED, "length %zu: %s", len, tt_status_name(st));
        ck_assert_ptr_null(t);
        free(copy);
    }
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_load_memory(NULL, 0, &t), TT_ERR_TRUNCATED);
    free(good);
}
END_TEST

START_TEST(test_every_byte_flip)
{
    size_t size, k_off;
    uint8_t *good = saved_bytes(&size, &k_off), *copy = malloc(size);
    static const uint8_t masks[] = {0x01, 0x80, 0xFF};
    for (size_t i = 0; i < size; i++)
        for (int m = 0; m < 3; m++) {
            memcpy(copy, good, size);
            copy[i] ^= masks[m];
            tt_table *t = (tt_table *)good;
            tt_status st = tt_table_load_memory(copy, size, &t);
            ck_assert_msg(st != TT_SUCCESS, "flip 0x%02x at byte %zu was accepted", masks[m], i);
            ck_assert_ptr_null(t);
        }
    /* Random multi-byte damage, as a small built-in fuzz pass. */
    unsigned rng = tt_test_seed();
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(copy, good, size);
        int edits = 1 + (int)tt_test_uniform(&rng, 0, 8);
        for (int e = 0; e < edits; e++)
            copy[(size_t)tt_test_uniform(&rng, 0, (float)size) % size] =
                (uint8_t)tt_test_uniform(&rng, 0, 256);
        size_t len = iter % 3 ? size : (size_t)tt_test_uniform(&rng, 0, (float)size) % size;
        tt_table *t = NULL;
        if (tt_table_load_memory(copy, len, &t) == TT_SUCCESS) /* edits may cancel out */
            ck_assert(len == size && memcmp(copy, good, size) == 0);
        tt_table_destroy(t);
    }
    free(copy);
    free(good);
}
END_TEST

START_TEST(test_validation_statuses)
{
    size_t size, k_off;
    uint8_t *good = saved_bytes(&size, &k_off);
    const size_t curve0 = k_off + 4 * 3; /* layer 0 head 0: 0 samples */
    const size_t curve1 = curve0 + 8;     /* layer 0 head 1: 1 sample, with D̂ */
    ck_assert_int_eq(load_patched(good, size, 4, 2), TT_ERR_VERSION);
    ck_assert_int_eq(load_patched(good, size, 4, 0), TT_ERR_VERSION);
    ck_assert_int_eq(load_patched(good, size, 0, 0x5448545A), TT_ERR_FORMAT); /* magic */
    ck_assert_int_eq(load_patched(good, size, 8, 3), TT_ERR_BAD_ENUM);       /* placement */
    ck_assert_int_eq(load_patched(good, size, 12, 0x7fc00000), TT_ERR_NONFINITE); /* sigma */
    ck_assert_int_eq(load_patched(good, size, 16, 24), TT_ERR_BAD_ENUM);  /* precision */
    ck_assert_int_eq(load_patched(good, size, 20, 5000), TT_ERR_TOO_LARGE); /* layers */
    ck_assert_int_eq(load_patched(good, size, 24, 0x80000000u), TT_ERR_TOO_LARGE);
    ck_assert_int_eq(load_patched(good, size, 20, 0), TT_ERR_FORMAT);
    ck_assert_int_eq(load_patched(good, size, 28, 3), TT_ERR_FORMAT); /* 4 heads, 3 KV heads */
    ck_assert_int_eq(load_patched(good, size, 36, 2), TT_ERR_BAD_ENUM); /* tac */
    ck_assert_int_eq(load_patched(good, size, 64, 0xFFFF), TT_ERR_TOO_LARGE); /* name length */
    ck_assert_int_eq(load_patched(good, size, 66, 0x01020304), TT_ERR_FORMAT); /* control bytes */
    ck_assert_int_eq(load_patched(good, size, k_off + 4, (1 << 24) + 1), TT_ERR_TOO_LARGE);
    ck_assert_int_eq(load_patched(good, size, curve0, (1 << 20) + 1), TT_ERR_TOO_LARGE);
    ck_assert_int_eq(load_patched(good, size, curve0, 1 << 20), TT_ERR_TRUNCATED);
    ck_assert_int_eq(load_patched(good, size, curve0, 0xFFFFFFFFu), TT_ERR_TOO_LARGE);
    ck_assert_int_eq(load_patched(good, size, curve0 + 4, 1), TT_ERR_FORMAT); /* D̂, no samples */
    ck_assert_int_eq(load_patched(good, size, curve1 + 4, 3), TT_ERR_FORMAT); /* unknown flag */
    ck_assert_int_eq(load_patched(good, size, curve1 + 8, 0), TT_ERR_FORMAT); /* n = 0 */
    ck_assert_int_eq(load_patched(good, size, curve1 + 8, (1 << 24) + 1), TT_ERR_TOO_LARGE);
    ck_assert_int_eq(load_patched(good, size, curve1 + 12, 0x7f800000), TT_ERR_NONFINITE);
    ck_assert_int_eq(load_patched(good, size, curve1 + 16, 0xffc00000), TT_ERR_NONFINITE);
    /* Layer 0 head 2 has 2 samples (n = 17, 117) and no D̂: make them equal. */
    const size_t curve2 = curve1 + 8 + 12;
    ck_assert_int_eq(load_patched(good, size, curve2 + 12, 17), TT_ERR_FORMAT);
    /* Trailing bytes, and a valid value that the checksum alone catches. */
    uint8_t *longer = malloc(size + 1);
    memcpy(longer, good, size);
    longer[size] = 0;
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_load_memory(longer, size + 1, &t), TT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), "trailing"));
    put32(longer + curve2 + 16, 0x3f800000); /* θ = 1.0 */
    ck_assert_int_eq(tt_table_load_memory(longer, size, &t), TT_ERR_FORMAT);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), "checksum"));
    put32(longer + size - 4, tt__crc32(longer, size - 4));
    ck_assert_int_eq(tt_table_load_memory(longer, size, &t), TT_SUCCESS);
    tt_table_destroy(t);
    t = NULL;
    ck_assert_int_eq(tt_table_load(in_dir("missing.ttt"), &t), TT_ERR_IO);
    ck_assert_int_eq(tt_table_load(dir, &t), TT_ERR_IO); /* a directory */
    ck_assert_int_eq(tt_table_load_memory(good, size, NULL), TT_ERR_NULL_ARGUMENT);
    free(longer);
    free(good);
}
END_TEST

START_TEST(test_save_rejects)
{
    tt_table_meta m = full_meta();
    m.score_precision = 0; /* the format knows 16 and 32 only */
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_save(t, in_dir("bad.ttt")), TT_ERR_BAD_ENUM);
    ck_assert_int_eq(access(in_dir("bad.ttt"), F_OK), -1);
    tt_table_destroy(t);
    m = full_meta();
    strcpy(m.token_hash, "abc");
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_save(t, in_dir("bad.ttt")), TT_ERR_FORMAT);
    tt_table_destroy(t);
    m = full_meta();
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    const int ns[] = {(1 << 24) + 1};
    const float v[] = {1};
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 1, ns, v, NULL), TT_SUCCESS);
    ck_assert_int_eq(tt_table_save(t, in_dir("bad.ttt")), TT_ERR_TOO_LARGE);
    ck_assert_int_eq(tt_table_save(t, "/nonexistent-dir/x.ttt"), TT_ERR_TOO_LARGE);
    ck_assert_int_eq(tt_table_save(NULL, in_dir("bad.ttt")), TT_ERR_NULL_ARGUMENT);
    tt_table_destroy(t);
    t = full_table();
    ck_assert_int_eq(tt_table_save(t, "/nonexistent-dir/x.ttt"), TT_ERR_IO);
    ck_assert_int_eq(count_temp_files(), 0);
    tt_table_destroy(t);
}
END_TEST

START_TEST(test_atomic_write_faults)
{
    tt_table *t = full_table();
    char path[512];
    snprintf(path, sizeof path, "%s", in_dir("atomic.ttt")); /* in_dir's buffers rotate */
    ck_assert_int_eq(tt_table_save(t, path), TT_SUCCESS);
    size_t size;
    uint8_t *before = read_all(path, &size);
    const int ns[] = {5, 6};
    const float v[] = {9, 10};
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 2, ns, v, NULL), TT_SUCCESS); /* new content */
    static const char *const steps[] = {"", "write", "fsync", "rename"};
    for (int fault = 1; fault <= 3; fault++) {
        tt__table_file_fault(fault);
        tt_status st = tt_table_save(t, path);
        tt__table_file_fault(0);
        ck_assert_int_eq(st, TT_ERR_IO);
        ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), steps[fault]));
        size_t now;
        uint8_t *after = read_all(path, &now);
        ck_assert_uint_eq(now, size);
        ck_assert_msg(memcmp(before, after, size) == 0, "fault %d changed the file", fault);
        ck_assert_int_eq(count_temp_files(), 0);
        free(after);
        /* With no file there before, a failed save leaves none behind. */
        tt__table_file_fault(fault);
        ck_assert_int_eq(tt_table_save(t, in_dir("fresh.ttt")), TT_ERR_IO);
        tt__table_file_fault(0);
        ck_assert_int_eq(access(in_dir("fresh.ttt"), F_OK), -1);
        ck_assert_int_eq(count_temp_files(), 0);
    }
    /* Without a fault the same save replaces the file, keeping its mode. */
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(tt_table_save(t, path), TT_SUCCESS);
    tt_table *back = NULL;
    ck_assert_int_eq(tt_table_load(path, &back), TT_SUCCESS);
    assert_tables_equal(t, back);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640);
    free(before);
    tt_table_destroy(back);
    tt_table_destroy(t);
}
END_TEST

/* ---- Import --------------------------------------------------------------------------------- */
static tt_table_meta import_meta(void)
{
    tt_table_meta m = full_meta();
    m.samples = 0;
    return m;
}

START_TEST(test_import_reference)
{
    write_text(in_dir("th.txt"), "# theta, written by a script\n"
                                 "L1_H2:40 4.0 7 16\n"
                                 "L1_H2:10 1.0 9 16\n"
                                 "  L1_H2:20\t2.0   8\n"
                                 "L0_H0:33 -0.5 3\n"
                                 "\n"
                                 "L2_H3:100 1e-3 0 32\r\n");
    write_text(in_dir("sdc.txt"), "L2_H3:100 7.5 0\n"
                                  "L1_H2:10 1.5 9\n"
                                  "L1_H2:20 2.5 8 16\n"
                                  "L1_H2:40 3.5 7\n"
                                  "L0_H0:33 0.5 3\n");
    tt_table_meta m = import_meta();
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), in_dir("sdc.txt"), &m, 8, &t),
                     TT_SUCCESS);
    int k, count, ns[4];
    float th[4], dh[4];
    ck_assert_int_eq(tt_table_get_layer_k(t, 0, &k), TT_SUCCESS);
    ck_assert_int_eq(k, 8); /* default */
    ck_assert_int_eq(tt_table_get_layer_k(t, 1, &k), TT_SUCCESS);
    ck_assert_int_eq(k, 16);
    ck_assert_int_eq(tt_table_get_layer_k(t, 2, &k), TT_SUCCESS);
    ck_assert_int_eq(k, 32);
    ck_assert_int_eq(tt_table_get_curve(t, 1, 2, &count, ns, th, dh), TT_SUCCESS);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(ns[0], 10);
    ck_assert_int_eq(ns[1], 20);
    ck_assert_int_eq(ns[2], 40);
    ck_assert_float_eq(th[0], 1.0f);
    ck_assert_float_eq(th[2], 4.0f);
    ck_assert_float_eq(dh[1], 2.5f);
    ck_assert_int_eq(tt_table_get_curve(t, 2, 3, &count, ns, th, dh), TT_SUCCESS);
    ck_assert_int_eq(count, 1);
    ck_assert_float_eq(th[0], 1e-3f);
    ck_assert_float_eq(dh[0], 7.5f);
    ck_assert_int_eq(tt_table_get_curve(t, 0, 1, &count, NULL, NULL, NULL), TT_SUCCESS);
    ck_assert_int_eq(count, 0);
    tt_table_meta got;
    ck_assert_int_eq(tt_table_get_meta(t, &got), TT_SUCCESS);
    ck_assert_uint_eq(got.samples, 24); /* 9 + 8 + 7 rows for L1_H2 */
    /* An imported table saves and loads like any other. */
    tt_table *back = NULL;
    ck_assert_int_eq(tt_table_save(t, in_dir("imported.ttt")), TT_SUCCESS);
    ck_assert_int_eq(tt_table_load(in_dir("imported.ttt"), &back), TT_SUCCESS);
    assert_tables_equal(t, back);
    tt_table_destroy(back);
    tt_table_destroy(t);
    /* Without sdc and with default k 0, layers without a k stay dense. */
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), NULL, &m, 0, &t), TT_SUCCESS);
    ck_assert_int_eq(tt_table_get_layer_k(t, 0, &k), TT_SUCCESS);
    ck_assert_int_eq(k, 0);
    ck_assert_int_eq(tt_table_get_curve(t, 1, 2, &count, ns, th, dh), TT_SUCCESS);
    ck_assert(isnan(dh[0]));
    tt_table_destroy(t);
}
END_TEST

static const struct bad_import {
    const char *text;
    tt_status status;
    const char *where; /* must appear in the message */
} bad_imports[] = {
    {"L1_H2 40 4.0 7\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L0_H0:10 1 2\nL1_H2:40 4.0\n", TT_ERR_FORMAT, "th.txt:2:"},
    {"L1_H2:40 4.0 7 16 9\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L1_H2:40 abc 7\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L1_H2:40 4.0x 7\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L1_H2:40 nan 7\n", TT_ERR_NONFINITE, "th.txt:1:"},
    {"\nL1_H2:40 -inf 7\n", TT_ERR_NONFINITE, "th.txt:2:"},
    {"L1_H2:40 1e99 7\n", TT_ERR_NONFINITE, "th.txt:1:"},
    {"L1_H2:40 1.0 -3\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L1_H2:40 1.0 2.5\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L3_H0:40 1.0 3\n", TT_ERR_TABLE_SHAPE, "th.txt:1:"},
    {"L0_H4:40 1.0 3\n", TT_ERR_TABLE_SHAPE, "th.txt:1:"},
    {"L-1_H0:40 1.0 3\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L0_H0:0 1.0 3\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L0_H0:16777217 1.0 3\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L0_H0:10 1.0 3\n# x\nL0_H0:10 2.0 3\n", TT_ERR_FORMAT, "th.txt:3:"},
    {"L0_H0:10 1.0 3 8\nL0_H1:20 1.0 3 9\n", TT_ERR_FORMAT, "th.txt:2:"},
    {"L0_H0:10 1.0 3 0\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L0_H0:10 1.0 3 \x01\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"l0_h0:10 1.0 3\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L0_H0:10 1.0 99999999999999999999999999\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"L99999999999999999999_H0:10 1.0 3\n", TT_ERR_FORMAT, "th.txt:1:"},
    {"# only a comment\n\n", TT_ERR_FORMAT, "th.txt: no data lines"},
    {"", TT_ERR_FORMAT, "th.txt: no data lines"},
};

START_TEST(test_import_malformed)
{
    const struct bad_import *b = &bad_imports[_i];
    write_text(in_dir("th.txt"), b->text);
    tt_table_meta m = import_meta();
    tt_table *t = (tt_table *)&m;
    tt_status st = tt_table_import_ref(in_dir("th.txt"), NULL, &m, 8, &t);
    ck_assert_msg(st == b->status, "case %d: %s instead of %s (%s)", _i, tt_status_name(st),
                  tt_status_name(b->status), tt_last_error(NULL));
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(tt_last_error(NULL), b->where) != NULL, "case %d: message \"%s\"", _i,
                  tt_last_error(NULL));
}
END_TEST

START_TEST(test_import_sdc_mismatch)
{
    tt_table_meta m = import_meta();
    tt_table *t = NULL;
    write_text(in_dir("th.txt"), "L0_H0:10 1 3\nL0_H0:20 2 3\n");
    write_text(in_dir("sdc.txt"), "L0_H0:10 1 3\n");
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), in_dir("sdc.txt"), &m, 8, &t),
                     TT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), "th.txt:2:"));
    write_text(in_dir("sdc.txt"), "L0_H0:10 1 3\nL0_H0:20 2 3\nL0_H1:20 2 3\n");
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), in_dir("sdc.txt"), &m, 8, &t),
                     TT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), "sdc.txt:3:"));
    write_text(in_dir("sdc.txt"), "L0_H0:10 1 3\nL0_H0:30 2 3\n");
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), in_dir("sdc.txt"), &m, 8, &t),
                     TT_ERR_FORMAT);
    /* A k in the sdc file is checked only against a k the th file gives for that layer. */
    write_text(in_dir("sdc.txt"), "L0_H0:10 1 3 4\nL0_H0:20 2 3\n");
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), in_dir("sdc.txt"), &m, 8, &t),
                     TT_SUCCESS);
    tt_table_destroy(t);
    t = NULL;
    write_text(in_dir("th.txt"), "L0_H0:10 1 3 8\nL0_H0:20 2 3\n");
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), in_dir("sdc.txt"), &m, 8, &t),
                     TT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), "sdc.txt:1:"));
    ck_assert_ptr_null(t);
    ck_assert_int_eq(tt_table_import_ref(in_dir("none.txt"), NULL, &m, 8, &t), TT_ERR_IO);
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), in_dir("none.txt"), &m, 8, &t),
                     TT_ERR_IO);
    ck_assert_int_eq(tt_table_import_ref(in_dir("th.txt"), NULL, &m, -1, &t), TT_ERR_BAD_K);
    ck_assert_int_eq(tt_table_import_ref(NULL, NULL, &m, 8, &t), TT_ERR_NULL_ARGUMENT);
}
END_TEST

/* ---- Selection ------------------------------------------------------------------------------ */
static void save_variant(const char *name, const char *device, int precision, int layers,
                         tt_placement placement, int64_t created)
{
    tt_table_meta m = full_meta();
    strcpy(m.device_name, device);
    m.score_precision = precision;
    m.n_layers = layers;
    m.placement = placement;
    m.created_unix = created;
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    const int ns[] = {10};
    const float v[] = {1};
    ck_assert_int_eq(tt_table_set_curve(t, 0, 0, 1, ns, v, NULL), TT_SUCCESS);
    ck_assert_int_eq(tt_table_save(t, in_dir(name)), TT_SUCCESS);
    tt_table_destroy(t);
}

static tt_status pick(const char *device, int precision, char *path, char *reason)
{
    tt_device_info dev;
    memset(&dev, 0, sizeof dev);
    if (device)
        snprintf(dev.name, sizeof dev.name, "%s", device);
    tt_table_meta want = full_meta();
    want.score_precision = precision;
    want.model_hash = 0; /* unknown: matches any */
    return tt_table_select(dir, device ? &dev : NULL, &want, path, 512, reason, 512);
}

static int picked(const char *path, const char *name)
{
    const char *slash = strrchr(path, '/');
    return slash && strcmp(slash + 1, name) == 0;
}

START_TEST(test_select)
{
    char path[512], reason[512];
    save_variant("a_generic32.ttt", "", 32, 3, TT_PLACE_REL, 100);
    save_variant("b_other32.ttt", "Other GPU", 32, 3, TT_PLACE_REL, 100);
    save_variant("c_exact16.ttt", "My GPU", 16, 3, TT_PLACE_REL, 100);
    save_variant("d_shape.ttt", "My GPU", 32, 4, TT_PLACE_REL, 200);
    save_variant("e_place.ttt", "My GPU", 32, 3, TT_PLACE_POST, 200);
    save_variant("f_other16.ttt", "Other GPU 2", 16, 3, TT_PLACE_REL, 100);
    write_text(in_dir("g_garbage.ttt"), "not a table at all");
    write_text(in_dir("notes.txt"), "ignored: not *.ttt");

    /* Exact device beats the same precision class. */
    ck_assert_int_eq(pick("My GPU", 32, path, reason), TT_SUCCESS);
    ck_assert_msg(picked(path, "c_exact16.ttt"), "%s", reason);
    ck_assert_ptr_nonnull(strstr(reason, "exact device match"));
    ck_assert_ptr_nonnull(strstr(reason, "1 unreadable"));
    ck_assert_ptr_nonnull(strstr(reason, "2 of another model or placement"));
    ck_assert_int_eq(pick("  My GPU ", 32, path, reason), TT_SUCCESS); /* padded by a driver */
    ck_assert(picked(path, "c_exact16.ttt"));
    /* Another device of the same precision beats generic; another precision does not qualify. */
    ck_assert_int_eq(pick("Third GPU", 32, path, reason), TT_SUCCESS);
    ck_assert_msg(picked(path, "b_other32.ttt"), "%s", reason);
    ck_assert_ptr_nonnull(strstr(reason, "same score precision"));
    ck_assert_int_eq(pick("Third GPU", 16, path, reason), TT_SUCCESS);
    ck_assert_msg(picked(path, "c_exact16.ttt"), "%s", reason); /* tie with f: file name */
    ck_assert_int_eq(pick(NULL, 32, path, reason), TT_SUCCESS);
    ck_assert(picked(path, "b_other32.ttt"));
    /* Generic is the fallback. */
    unlink(in_dir("b_other32.ttt"));
    ck_assert_int_eq(pick("Third GPU", 32, path, reason), TT_SUCCESS);
    ck_assert_msg(picked(path, "a_generic32.ttt"), "%s", reason);
    ck_assert_ptr_nonnull(strstr(reason, "generic"));
    /* Of two generic tables the newer wins. */
    save_variant("z_generic32_new.ttt", "", 32, 3, TT_PLACE_REL, 300);
    ck_assert_int_eq(pick("Third GPU", 32, path, reason), TT_SUCCESS);
    ck_assert(picked(path, "z_generic32_new.ttt"));
    /* A damaged winner is passed over. */
    size_t size;
    uint8_t *bytes = read_all(in_dir("c_exact16.ttt"), &size);
    bytes[size - 6] ^= 0x40;
    FILE *f = fopen(in_dir("c_exact16.ttt"), "wb");
    fwrite(bytes, 1, size, f);
    fclose(f);
    free(bytes);
    ck_assert_int_eq(pick("My GPU", 16, path, reason), TT_SUCCESS);
    ck_assert_msg(picked(path, "f_other16.ttt"), "%s", reason);
    /* Errors. */
    char small[8];
    tt_table_meta want = full_meta();
    want.model_hash = 0;
    ck_assert_int_eq(tt_table_select(dir, NULL, &want, small, sizeof small, NULL, 0),
                     TT_ERR_BUFFER_TOO_SMALL);
    want.n_heads = 8;
    ck_assert_int_eq(tt_table_select(dir, NULL, &want, path, sizeof path, reason, sizeof reason),
                     TT_ERR_NO_TABLE);
    ck_assert_str_eq(path, "");
    ck_assert_ptr_nonnull(strstr(reason, "no table"));
    want = full_meta();
    want.model_hash = 1; /* another model of the same shape */
    ck_assert_int_eq(tt_table_select(dir, NULL, &want, path, sizeof path, NULL, 0),
                     TT_ERR_NO_TABLE);
    ck_assert_int_eq(tt_table_select(in_dir("nope"), NULL, &want, path, sizeof path, NULL, 0),
                     TT_ERR_IO);
    ck_assert_int_eq(tt_table_select(dir, NULL, NULL, path, sizeof path, NULL, 0),
                     TT_ERR_NULL_ARGUMENT);
}
END_TEST

static Suite *table_file_suite(void)
{
    Suite *s = suite_create("table-file");
    TCase *tc = tcase_create("format");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_every_byte_flip);
    tcase_add_test(tc, test_validation_statuses);
    tcase_add_test(tc, test_save_rejects);
    tcase_add_test(tc, test_atomic_write_faults);
    suite_add_tcase(s, tc);
    tc = tcase_create("import");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_import_reference);
    tcase_add_loop_test(tc, test_import_malformed, 0,
                        (int)(sizeof bad_imports / sizeof bad_imports[0]));
    tcase_add_test(tc, test_import_sdc_mismatch);
    suite_add_tcase(s, tc);
    tc = tcase_create("select");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_select);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tt_test_run(table_file_suite()); }

/* test-cache.c — the on-disk program binary cache and the prebuilt-binary path: SHA-256 vectors,
 * hits across contexts, the key's inputs, both off switches, corrupted / truncated / foreign /
 * unloadable entries rejected and rebuilt, interrupted writes (fault injection) that leave no
 * temp file and no damage, and prebuilt binaries on a device that pretends to have no compiler. */
#include "support.h"
#include "internal.h"
#include "program_cache.h"
#include "sha256.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define H 4
#define G 2
#define DIM 16
#define N 64

static char root[64], cache_dir[128], other_dir[128];
static int P; /* programs one call builds (the dispatch may use more than one) */
static float q[H * DIM], kk[G * N * DIM], vv[G * N * DIM], ref_out[H * DIM];

static void rm_tree(const char *path)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

/* Files in dir whose name ends in suffix (".bin"), or, with suffix NULL, leftover temp files. */
static int count_files(const char *dir, const char *suffix, char *first, size_t cap)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        int match = suffix ? l > 4 && !strcmp(e->d_name + l - strlen(suffix), suffix)
                           : strstr(e->d_name, ".tmp") != NULL;
        if (match && first && n == 0)
            snprintf(first, cap, "%s/%s", dir, e->d_name);
        n += match;
    }
    if (d)
        closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    ck_assert_uint_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void spill(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static tt_context *make_ctx(void)
{
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    return ctx;
}

/* One dense decode call; returns its status and writes the output. */
static tt_status run(tt_context *ctx, float *out)
{
    tt_attn_shape s = {1, H, G, DIM, 1, N, TT_DTYPE_F32};
    tt_attn_params p;
    tt_attn_params_init(&p);
    return tt_attention_host(ctx, &s, &p, q, kk, vv, out, NULL, NULL);
}

/* A fresh context runs the call; the output must equal the first uncached run bit for bit. */
static void run_fresh_and_compare(void)
{
    tt_context *ctx = make_ctx();
    float out[H * DIM];
    ck_assert_msg(run(ctx, out) == TT_SUCCESS, "%s", tt_last_error(ctx));
    ck_assert_mem_eq(out, ref_out, sizeof out);
    tt_context_destroy(ctx);
}

static tt__pcache_stats stats(void)
{
    tt__pcache_stats s;
    tt__pcache_get_stats(&s);
    return s;
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/tt-cache-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(cache_dir, sizeof cache_dir, "%s/cache", root);
    snprintf(other_dir, sizeof other_dir, "%s/other", root);
    char tune[128];
    snprintf(tune, sizeof tune, "%s/no-tune.txt", root);
    setenv("TOPTHETA_CACHE_DIR", cache_dir, 1);
    setenv("TOPTHETA_TUNE_FILE", tune, 1); /* keep a user's overlay out of these tests */
    unsetenv("TOPTHETA_CACHE");
    unsetenv("TOPTHETA_TUNE");
    unsetenv("TT_WG");
    tt__pcache_set_fault(TT_PCACHE_FAULT_NONE);
    tt__pcache_pretend_no_compiler(0);
    unsigned st = 12345;
    for (int i = 0; i < H * DIM; i++)
        q[i] = tt_test_uniform(&st, -1, 1);
    for (int i = 0; i < G * N * DIM; i++) {
        kk[i] = tt_test_uniform(&st, -1, 1);
        vv[i] = tt_test_uniform(&st, -1, 1);
    }
    /* The reference output comes from a build with the cache off. */
    tt_context *ctx = make_ctx();
    tt_context_set_cache(ctx, 0);
    ck_assert_int_eq(run(ctx, ref_out), TT_SUCCESS);
    P = ctx->n_programs;
    ck_assert_int_ge(P, 1);
    tt_context_destroy(ctx);
    ck_assert_int_eq(count_files(cache_dir, ".bin", NULL, 0), 0);
    tt__pcache_reset_stats();
}

static void teardown(void)
{
    tt__pcache_set_fault(TT_PCACHE_FAULT_NONE);
    tt__pcache_pretend_no_compiler(0);
    rm_tree(root);
}

START_TEST(test_sha256_vectors)
{
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    unsigned char dg[32];
    char hex[65];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tt__hsha256(v[i].msg, strlen(v[i].msg), dg);
        tt__hsha256_hex(dg, hex);
        ck_assert_str_eq(hex, v[i].hex);
    }
    /* A million 'a' fed in uneven pieces exercises the block buffering. */
    static char a[1024];
    memset(a, 'a', sizeof a);
    tt__hsha256_ctx s;
    tt__hsha256_init(&s);
    size_t left = 1000000, piece = 1;
    while (left) {
        size_t take = piece < left ? piece : left;
        tt__hsha256_update(&s, a, take);
        left -= take;
        piece = piece % 997 + 13;
    }
    tt__hsha256_final(&s, dg);
    tt__hsha256_hex(dg, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(test_hit_on_second_context)
{
    run_fresh_and_compare();
    tt__pcache_stats s = stats();
    ck_assert_uint_eq(s.misses, P);
    ck_assert_uint_eq(s.stores, P);
    ck_assert_uint_eq(s.hits, 0);
    ck_assert_int_eq(count_files(cache_dir, ".bin", NULL, 0), P);
    run_fresh_and_compare();
    s = stats();
    ck_assert_uint_eq(s.hits, P);
    ck_assert_uint_eq(s.misses, P);
    ck_assert_uint_eq(s.rejected, 0);
}
END_TEST

START_TEST(test_key_inputs)
{
    const char *t1[] = {"ab", "c"}, *t2[] = {"a", "bc"};
    size_t l1[] = {2, 1}, l2[] = {1, 2};
    unsigned char base[32], k[32];
    tt__pcache_key(t1, l1, 2, "-DX=1", "dev", "drv", "plat", base);
    tt__pcache_key(t1, l1, 2, "-DX=1", "dev", "drv", "plat", k);
    ck_assert_mem_eq(base, k, 32);
#define DIFFERS(...)                                                                               \
    do {                                                                                           \
        tt__pcache_key(__VA_ARGS__, k);                                                            \
        ck_assert_msg(memcmp(base, k, 32) != 0, "key ignores: %s", #__VA_ARGS__);                 \
    } while (0)
    DIFFERS(t2, l2, 2, "-DX=1", "dev", "drv", "plat");
    DIFFERS(t1, l1, 1, "-DX=1", "dev", "drv", "plat");
    DIFFERS(t1, l1, 2, "-DX=2", "dev", "drv", "plat");
    DIFFERS(t1, l1, 2, "-DX=1", "dev2", "drv", "plat");
    DIFFERS(t1, l1, 2, "-DX=1", "dev", "drv2", "plat");
    DIFFERS(t1, l1, 2, "-DX=1", "dev", "drv", "plat2");
    DIFFERS(t1, l1, 2, "-DX=1dev", "", "drv", "plat");
    /* Through the library: other build options make another entry. */
    run_fresh_and_compare();
    tt_context *ctx = make_ctx();
    ck_assert_int_eq(tt_context_set_build_options(ctx, "-DTT_CACHE_TEST_EXTRA=1"), TT_SUCCESS);
    float out[H * DIM];
    ck_assert_int_eq(run(ctx, out), TT_SUCCESS);
    tt_context_destroy(ctx);
    ck_assert_int_eq(count_files(cache_dir, ".bin", NULL, 0), 2 * P);
    ck_assert_uint_eq(stats().misses, 2 * P);
}
END_TEST

START_TEST(test_switched_off)
{
    setenv("TOPTHETA_CACHE", "0", 1);
    run_fresh_and_compare();
    run_fresh_and_compare();
    unsetenv("TOPTHETA_CACHE");
    tt__pcache_stats s = stats();
    ck_assert_uint_eq(s.hits + s.misses + s.stores, 0);
    ck_assert_int_eq(count_files(cache_dir, ".bin", NULL, 0), 0);
    /* The context switch, and switching back on. */
    tt_context *ctx = make_ctx();
    float out[H * DIM];
    ck_assert_int_eq(tt_context_set_cache(ctx, 0), TT_SUCCESS);
    ck_assert_int_eq(run(ctx, out), TT_SUCCESS);
    ck_assert_int_eq(count_files(cache_dir, ".bin", NULL, 0), 0);
    ck_assert_int_eq(tt_context_set_cache(ctx, 1), TT_SUCCESS);
    tt_context_set_build_options(ctx, NULL); /* drops the in-memory program: rebuild */
    ck_assert_int_eq(run(ctx, out), TT_SUCCESS);
    ck_assert_int_eq(count_files(cache_dir, ".bin", NULL, 0), P);
    tt_context_destroy(ctx);
    ck_assert_int_eq(tt_context_set_cache(NULL, 1), TT_ERR_NULL_ARGUMENT);
}
END_TEST

/* Damages one entry with fn, then checks: rejected, rebuilt with identical output, and the
 * rewritten entry is good again (a third context hits every program). */
static void damage_and_check(void (*fn)(const char *path))
{
    run_fresh_and_compare();
    char path[512];
    ck_assert_int_eq(count_files(cache_dir, ".bin", path, sizeof path), P);
    fn(path);
    tt__pcache_reset_stats();
    run_fresh_and_compare();
    tt__pcache_stats s = stats();
    ck_assert_uint_eq(s.rejected, 1);
    ck_assert_uint_eq(s.hits, P - 1);
    ck_assert_uint_eq(s.stores, 1);
    run_fresh_and_compare();
    ck_assert_uint_eq(stats().hits, 2 * P - 1);
    ck_assert_uint_eq(stats().rejected, 1);
}

static void flip_binary_byte(const char *path)
{
    size_t len;
    unsigned char *b = slurp(path, &len);
    b[len / 2] ^= 0x40;
    spill(path, b, len);
    free(b);
}

static void truncate_half(const char *path) { ck_assert_int_eq(truncate(path, 1000), 0); }
static void truncate_header(const char *path) { ck_assert_int_eq(truncate(path, 10), 0); }
static void empty_file(const char *path) { spill(path, "", 0); }

/* Rewrites the entry with a valid checksum but another device name inside. */
static void other_device(const char *path)
{
    size_t len;
    unsigned char *b = slurp(path, &len);
    unsigned nl = b[44] | b[45] << 8;
    size_t off = 56 + nl, bl = len - off - 32;
    ck_assert_int_eq(tt__pcache_write_entry(cache_dir, b + 12, "Another Device", b + off, bl),
                     TT_SUCCESS);
    free(b);
}

/* Right key, device and checksum, but a binary no driver accepts. */
static void garbage_binary(const char *path)
{
    size_t len;
    unsigned char *b = slurp(path, &len);
    tt_device_info info;
    tt_context *ctx = make_ctx();
    tt_context_device_info(ctx, &info);
    tt_context_destroy(ctx);
    static const char junk[] = "this is not a program binary";
    ck_assert_int_eq(tt__pcache_write_entry(cache_dir, b + 12, info.name, junk, sizeof junk),
                     TT_SUCCESS);
    free(b);
}

START_TEST(test_corrupted_entry) { damage_and_check(flip_binary_byte); }
END_TEST
START_TEST(test_truncated_entry)
{
    damage_and_check(truncate_half);
    rm_tree(cache_dir);
    damage_and_check(truncate_header);
    rm_tree(cache_dir);
    damage_and_check(empty_file);
}
END_TEST
START_TEST(test_foreign_device_entry) { damage_and_check(other_device); }
END_TEST
START_TEST(test_unloadable_binary) { damage_and_check(garbage_binary); }
END_TEST

START_TEST(test_foreign_key_entry)
{
    /* An entry of options A copied over every entry of options B: B must not load it. */
    run_fresh_and_compare();
    char a_path[512], b_path[512];
    count_files(cache_dir, ".bin", a_path, sizeof a_path);
    size_t a_len;
    unsigned char *a = slurp(a_path, &a_len);
    rm_tree(cache_dir);
    tt_context *ctx = make_ctx();
    tt_context_set_build_options(ctx, "-DTT_CACHE_TEST_EXTRA=2");
    float out_b[H * DIM], out[H * DIM];
    ck_assert_int_eq(run(ctx, out_b), TT_SUCCESS);
    tt_context_destroy(ctx);
    for (int i = 0; i < P; i++) { /* each pass overwrites one more B entry with A's bytes */
        DIR *d = opendir(cache_dir);
        struct dirent *e;
        int seen = 0;
        while ((e = readdir(d)))
            if (strstr(e->d_name, ".bin") && seen++ == i)
                snprintf(b_path, sizeof b_path, "%s/%s", cache_dir, e->d_name);
        closedir(d);
        spill(b_path, a, a_len);
    }
    free(a);
    tt__pcache_reset_stats();
    ctx = make_ctx();
    tt_context_set_build_options(ctx, "-DTT_CACHE_TEST_EXTRA=2");
    ck_assert_int_eq(run(ctx, out), TT_SUCCESS);
    tt_context_destroy(ctx);
    ck_assert_uint_eq(stats().rejected, P);
    ck_assert_uint_eq(stats().hits, 0);
    ck_assert_mem_eq(out, out_b, sizeof out);
}
END_TEST

START_TEST(test_interrupted_writes)
{
    const int faults[] = {TT_PCACHE_FAULT_WRITE, TT_PCACHE_FAULT_RENAME};
    for (int i = 0; i < 2; i++) { /* on a miss: the build succeeds, nothing is left behind */
        tt__pcache_set_fault(faults[i]);
        run_fresh_and_compare();
        ck_assert_int_eq(count_files(cache_dir, ".bin", NULL, 0), 0);
        ck_assert_int_eq(count_files(cache_dir, NULL, NULL, 0), 0);
    }
    ck_assert_uint_eq(stats().write_failures, 2 * P);
    tt__pcache_set_fault(TT_PCACHE_FAULT_NONE);
    run_fresh_and_compare();
    char path[512];
    ck_assert_int_eq(count_files(cache_dir, ".bin", path, sizeof path), P);
    size_t len, len2;
    unsigned char *before = slurp(path, &len);
    for (int i = 0; i < 2; i++) { /* over an existing entry: it stays byte for byte */
        tt__pcache_set_fault(faults[i]);
        ck_assert_int_eq(tt__pcache_write_entry(cache_dir, before + 12, "x", "junk", 4),
                         TT_ERR_IO);
        unsigned char *after = slurp(path, &len2);
        ck_assert_uint_eq(len2, len);
        ck_assert_mem_eq(after, before, len);
        free(after);
        ck_assert_int_eq(count_files(cache_dir, NULL, NULL, 0), 0);
    }
    free(before);
    tt__pcache_set_fault(TT_PCACHE_FAULT_NONE);
    run_fresh_and_compare();
    ck_assert_uint_eq(stats().hits, P);
    /* A cache directory that cannot exist (a file is in the way) never fails a build. */
    char blocked[256];
    snprintf(blocked, sizeof blocked, "%s/file/cache", root);
    snprintf(path, sizeof path, "%s/file", root);
    spill(path, "x", 1);
    setenv("TOPTHETA_CACHE_DIR", blocked, 1);
    run_fresh_and_compare();
    ck_assert_uint_eq(stats().write_failures, 3 * P);
}
END_TEST

START_TEST(test_prebuilt_binaries)
{
    tt_context *ctx = make_ctx();
    float out[H * DIM];
    ck_assert_int_eq(run(ctx, out), TT_SUCCESS);
    int count = -1;
    ck_assert_int_eq(tt_context_export_binaries(ctx, other_dir, &count), TT_SUCCESS);
    ck_assert_int_eq(count, P);
    tt_context_destroy(ctx);
    ck_assert_int_eq(count_files(other_dir, ".bin", NULL, 0), P);
    tt__pcache_pretend_no_compiler(1);
    /* From the exported directory and from the cache's own directory, compiler-less. */
    const char *dirs[] = {other_dir, cache_dir};
    for (int i = 0; i < 2; i++) {
        tt__pcache_reset_stats();
        ctx = make_ctx();
        ck_assert_int_eq(tt_context_set_cache(ctx, 0), TT_SUCCESS);
        ck_assert_int_eq(tt_context_load_binaries(ctx, dirs[i]), TT_SUCCESS);
        ck_assert_msg(run(ctx, out) == TT_SUCCESS, "%s", tt_last_error(ctx));
        ck_assert_mem_eq(out, ref_out, sizeof out);
        ck_assert_uint_eq(stats().prebuilt_hits, P);
        tt_context_destroy(ctx);
    }
    /* No entry and no compiler: a clear failure, not a compile attempt. */
    char empty[256];
    snprintf(empty, sizeof empty, "%s/empty", root);
    mkdir(empty, 0700);
    ctx = make_ctx();
    tt_context_set_cache(ctx, 0);
    ck_assert_int_eq(tt_context_load_binaries(ctx, empty), TT_SUCCESS);
    ck_assert_int_eq(run(ctx, out), TT_ERR_KERNEL_SOURCE);
    ck_assert_ptr_nonnull(strstr(tt_last_error(ctx), "prebuilt"));
    ck_assert_int_eq(tt_context_load_binaries(ctx, NULL), TT_SUCCESS);
    ck_assert_int_eq(run(ctx, out), TT_ERR_KERNEL_SOURCE);
    tt__pcache_pretend_no_compiler(0);
    ck_assert_int_eq(run(ctx, out), TT_SUCCESS); /* with a compiler the source path is back */
    ck_assert_int_eq(tt_context_load_binaries(ctx, "/nonexistent/tt-prebuilt"), TT_ERR_IO);
    tt_context_destroy(ctx);
    ck_assert_int_eq(tt_context_load_binaries(NULL, empty), TT_ERR_NULL_ARGUMENT);
    ck_assert_int_eq(tt_context_export_binaries(NULL, empty, NULL), TT_ERR_NULL_ARGUMENT);
}
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("program binary cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_hit_on_second_context);
    tcase_add_test(tc, test_key_inputs);
    tcase_add_test(tc, test_switched_off);
    tcase_add_test(tc, test_corrupted_entry);
    tcase_add_test(tc, test_truncated_entry);
    tcase_add_test(tc, test_foreign_device_entry);
    tcase_add_test(tc, test_unloadable_binary);
    tcase_add_test(tc, test_foreign_key_entry);
    tcase_add_test(tc, test_interrupted_writes);
    tcase_add_test(tc, test_prebuilt_binaries);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}

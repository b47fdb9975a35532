/* test-tune.c — the per-device launch-parameter database: name normalisation (both PoCL forms,
 * NVIDIA architectures, AMD / Intel vendor aliases), fallback levels, the overlay file (good,
 * malformed, missing, rewritten), the TOPTHETA_TUNE override, capability clamps, the plan using
 * WG and CHUNK, and `toptheta tune --dry-run` / a real run writing the overlay. */
#include "support.h"
#include "internal.h"
#include "attention_plan.h"
#include "decode.h"
#include "tune_db.h"
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[64], overlay[128];
/* One program cache for the whole suite, so the plan tests and the CLI runs share their builds. */
static char suite_cache[64];

static void spill(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/tt-tune-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    snprintf(overlay, sizeof overlay, "%s/sub/tune.txt", root);
    setenv("TOPTHETA_TUNE_FILE", overlay, 1);
    setenv("TOPTHETA_CACHE_DIR", suite_cache, 1);
    unsetenv("TOPTHETA_TUNE");
    unsetenv("TT_WG");
}

static void teardown(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

static tt__tune_device norm(const char *name, const char *vendor, cl_device_type type)
{
    tt__tune_device d;
    tt__tune_normalise(name, vendor, type, &d);
    return d;
}

#define CHECK_DEV(d, n, a, v)                                                                      \
    do {                                                                                           \
        ck_assert_str_eq((d).name, n);                                                             \
        ck_assert_str_eq((d).arch, a);                                                             \
        ck_assert_str_eq((d).vendor, v);                                                           \
    } while (0)

START_TEST(test_normalise_pocl)
{
    const cl_device_type cpu = CL_DEVICE_TYPE_CPU;
    CHECK_DEV(norm("pthread-haswell-AMD EPYC", "AuthenticAMD", cpu), "haswell-AMD EPYC", "haswell",
              "PoCL-CPU");
    CHECK_DEV(norm("cpu-haswell-AMD EPYC", "AuthenticAMD", cpu), "haswell-AMD EPYC", "haswell",
              "PoCL-CPU");
    CHECK_DEV(norm("cpu-skylake-avx512-Intel(R) Xeon(R) Processor", "GenuineIntel", cpu),
              "skylake-avx512-Intel(R) Xeon(R) Processor", "skylake-avx512", "PoCL-CPU");
    CHECK_DEV(norm("  pthread-znver3-AMD   EPYC 7B13 \n", "AuthenticAMD", cpu),
              "znver3-AMD EPYC 7B13", "znver3", "PoCL-CPU");
    CHECK_DEV(norm("cpu-x86-64-v3-AMD Ryzen 9", "AuthenticAMD", cpu), "x86-64-v3-AMD Ryzen 9",
              "x86-64-v3", "PoCL-CPU");
    CHECK_DEV(norm("pthread-haswell", "AuthenticAMD", cpu), "haswell", "haswell", "PoCL-CPU");
    /* A GPU whose name happens to start with "cpu-" is not PoCL's CPU device. */
    CHECK_DEV(norm("cpu-like GPU", "Foo Inc.", CL_DEVICE_TYPE_GPU), "cpu-like GPU", "", "Foo Inc.");
}
END_TEST

START_TEST(test_normalise_vendors)
{
    const cl_device_type gpu = CL_DEVICE_TYPE_GPU;
    CHECK_DEV(norm("NVIDIA H200", "NVIDIA Corporation", gpu), "NVIDIA H200", "Hopper", "NVIDIA");
    CHECK_DEV(norm("NVIDIA  H100 80GB HBM3", "NVIDIA Corporation", gpu), "NVIDIA H100 80GB HBM3",
              "Hopper", "NVIDIA");
    ck_assert_str_eq(norm("Tesla V100-SXM2-16GB", "NVIDIA Corporation", gpu).arch, "Volta");
    ck_assert_str_eq(norm("NVIDIA A100-SXM4-80GB", "NVIDIA Corporation", gpu).arch, "Ampere");
    ck_assert_str_eq(norm("NVIDIA A10", "NVIDIA Corporation", gpu).arch, "Ampere");
    ck_assert_str_eq(norm("NVIDIA GeForce RTX 4090", "NVIDIA Corporation", gpu).arch, "Ada");
    ck_assert_str_eq(norm("NVIDIA GeForce RTX 3060", "NVIDIA Corporation", gpu).arch, "Ampere");
    ck_assert_str_eq(norm("NVIDIA GeForce GTX 1080", "NVIDIA Corporation", gpu).arch, "Pascal");
    ck_assert_str_eq(norm("NVIDIA RTX 6000 Ada Generation", "NVIDIA Corporation", gpu).arch,
                     "Ada");
    ck_assert_str_eq(norm("NVIDIA Mystery 9000", "NVIDIA Corporation", gpu).arch, "");
    CHECK_DEV(norm("gfx90a:sramecc+:xnack-", "Advanced Micro Devices, Inc.", gpu), "gfx90a",
              "gfx90a", "AMD");
    CHECK_DEV(norm("Intel(R) UHD Graphics 620", "Intel(R) Corporation", gpu),
              "Intel(R) UHD Graphics 620", "", "Intel");
    ck_assert_str_eq(norm("x", " Intel   Corporation ", gpu).vendor, "Intel");
    ck_assert_str_eq(norm("x", "Some  New   Vendor", gpu).vendor, "Some New Vendor");
}
END_TEST

static tt__tune_level level_of(const char *name, const char *vendor, cl_device_type type,
                               tt__tune_params *p)
{
    tt__tune_device d = norm(name, vendor, type);
    tt__tune_level level = TT_TUNE_FORCED;
    const char *key = NULL;
    ck_assert_int_eq(tt__tune_lookup_builtin(&d, p, &level, &key), TT_SUCCESS);
    ck_assert_ptr_nonnull(key);
    return level;
}

START_TEST(test_fallback_levels)
{
    tt__tune_params p;
    ck_assert_int_eq(level_of("NVIDIA H200", "NVIDIA Corporation", CL_DEVICE_TYPE_GPU, &p),
                     TT_TUNE_DEVICE);
    ck_assert_int_eq(level_of("NVIDIA H100 PCIe", "NVIDIA Corporation", CL_DEVICE_TYPE_GPU, &p),
                     TT_TUNE_ARCH);
    ck_assert_int_eq(level_of("pthread-haswell-AMD EPYC", "AuthenticAMD", CL_DEVICE_TYPE_CPU, &p),
                     TT_TUNE_VENDOR);
    ck_assert_int_eq(level_of("cpu-skylake-avx512-Intel(R) Xeon(R) Processor", "GenuineIntel",
                              CL_DEVICE_TYPE_CPU, &p),
                     TT_TUNE_VENDOR);
    ck_assert_int_eq(level_of("gfx1100", "Advanced Micro Devices, Inc.", CL_DEVICE_TYPE_GPU, &p),
                     TT_TUNE_TYPE);
    /* Every device type has a default; nothing is guessed. */
    const cl_device_type types[] = {CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_GPU,
                                    CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_CUSTOM,
                                    CL_DEVICE_TYPE_DEFAULT};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(level_of("Unknown Device", "Unknown Vendor", types[i], &p), TT_TUNE_TYPE);
        ck_assert_int_ge(p.wg, 1);
    }
    tt__tune_device d = norm("x", "y", 0);
    tt__tune_level level;
    const char *key;
    ck_assert_int_eq(tt__tune_lookup_builtin(&d, &p, &level, &key), TT_INVALID_DEVICE);
}
END_TEST

START_TEST(test_overlay_parsing)
{
    tt__tune_params p;
    int found = -1;
    char msg[512];
    /* Missing: not an error, nothing found. */
    ck_assert_int_eq(tt__tune_overlay_find(overlay, "NVIDIA H200", &p, &found, msg, sizeof msg),
                     TT_SUCCESS);
    ck_assert_int_eq(found, 0);
    char good[128];
    snprintf(good, sizeof good, "%s/good.txt", root);
    spill(good, "# comment\n\n  device=haswell-AMD EPYC WG=32 CHUNK=256\r\n"
                "device=NVIDIA   H200  WG=128   CHUNK=1024  \n# end");
    ck_assert_int_eq(tt__tune_overlay_find(good, "haswell-AMD EPYC", &p, &found, msg, sizeof msg),
                     TT_SUCCESS);
    ck_assert(found && p.wg == 32 && p.chunk == 256);
    ck_assert_int_eq(tt__tune_overlay_find(good, "NVIDIA H200", &p, &found, msg, sizeof msg),
                     TT_SUCCESS);
    ck_assert(found && p.wg == 128 && p.chunk == 1024);
    ck_assert_int_eq(tt__tune_overlay_find(good, "Other", &p, &found, msg, sizeof msg),
                     TT_SUCCESS);
    ck_assert_int_eq(found, 0);
    static const char *const bad[] = {
        "device=X WG=48 CHUNK=0\n",          "device=X WG=32\n",
        "device=X CHUNK=0\n",                "device=X WG=32 CHUNK=-1\n",
        "device=X WG=32 CHUNK=12abc\n",      "device=X WG=32 CHUNK=0 FOO=1\n",
        "device= WG=32 CHUNK=0\n",           "dev=X WG=32 CHUNK=0\n",
        "device=X WG=32 WG=64 CHUNK=0\n",    "device=X WG=0 CHUNK=0\n",
        "device=X WG=8192 CHUNK=0\n",        "device=X WG=32 CHUNK=99999999\n",
        "device=X WG=32 CHUNK=0\ndevice=X WG=64 CHUNK=0\n",
        "# ok\ndevice=Y WG=32 CHUNK=0\nWG=32\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        spill(good, bad[i]);
        tt_status st = tt__tune_overlay_find(good, "Y", &p, &found, msg, sizeof msg);
        ck_assert_msg(st == TT_ERR_FORMAT, "accepted: %s", bad[i]);
        ck_assert_int_eq(found, 0);
        ck_assert_ptr_nonnull(strstr(msg, "good.txt:")); /* names the file and line */
    }
    char longline[2100] = "device=";
    memset(longline + 7, 'x', 2000);
    strcpy(longline + 2007, " WG=32 CHUNK=0\n");
    spill(good, longline);
    ck_assert_int_eq(tt__tune_overlay_find(good, "Y", &p, &found, msg, sizeof msg),
                     TT_ERR_FORMAT);
}
END_TEST

START_TEST(test_override)
{
    tt__tune_params p = {64, 0};
    char msg[256];
    ck_assert_int_eq(tt__tune_override_parse("WG=32,CHUNK=256", &p, msg, sizeof msg), TT_SUCCESS);
    ck_assert(p.wg == 32 && p.chunk == 256);
    ck_assert_int_eq(tt__tune_override_parse("CHUNK=512", &p, msg, sizeof msg), TT_SUCCESS);
    ck_assert(p.wg == 32 && p.chunk == 512);
    ck_assert_int_eq(tt__tune_override_parse("WG=128", &p, msg, sizeof msg), TT_SUCCESS);
    ck_assert(p.wg == 128 && p.chunk == 512);
    static const char *const bad[] = {"WG=33",    "WG=32;CHUNK=1", "FOO=1", "WG=",
                                      "WG=32,,CHUNK=1", "wg=32",   "WG=32,WG=64", " WG=32"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(tt__tune_override_parse(bad[i], &p, msg, sizeof msg) == TT_ERR_FORMAT,
                      "accepted %s", bad[i]);
        ck_assert_ptr_nonnull(strstr(msg, "TOPTHETA_TUNE"));
        ck_assert(p.wg == 128 && p.chunk == 512); /* untouched */
    }
}
END_TEST

static tt_device_info fake_device(const char *name, const char *vendor, cl_device_type type)
{
    tt_device_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.name, sizeof info.name, "%s", name);
    snprintf(info.vendor, sizeof info.vendor, "%s", vendor);
    info.type = type;
    info.max_work_group_size = 1024;
    info.local_mem_size = 48 * 1024;
    return info;
}

START_TEST(test_full_lookup)
{
    tt_device_info info = fake_device("NVIDIA H200", "NVIDIA Corporation", CL_DEVICE_TYPE_GPU);
    tt__tune_result r;
    ck_assert_int_eq(tt__tune_lookup(&info, &r), TT_SUCCESS);
    ck_assert_int_eq(r.level, TT_TUNE_DEVICE);
    ck_assert_int_eq(r.overlay_status, TT_SUCCESS);
    mkdir(strcat(strcpy((char[128]){0}, root), "/sub"), 0700);
    spill(overlay, "device=NVIDIA H200 WG=256 CHUNK=2048\n");
    ck_assert_int_eq(tt__tune_lookup(&info, &r), TT_SUCCESS);
    ck_assert_int_eq(r.level, TT_TUNE_OVERLAY);
    ck_assert(r.params.wg == 256 && r.params.chunk == 2048);
    setenv("TOPTHETA_TUNE", "CHUNK=512", 1);
    ck_assert_int_eq(tt__tune_lookup(&info, &r), TT_SUCCESS);
    ck_assert(r.env_override && r.params.wg == 256 && r.params.chunk == 512);
    setenv("TOPTHETA_TUNE", "WG=3", 1); /* bad override: ignored, reason kept */
    ck_assert_int_eq(tt__tune_lookup(&info, &r), TT_SUCCESS);
    ck_assert_int_eq(r.override_status, TT_ERR_FORMAT);
    ck_assert(!r.env_override && r.params.wg == 256 && r.override_message[0]);
    unsetenv("TOPTHETA_TUNE");
    spill(overlay, "device=NVIDIA H200 WG=256 CHUNK=2048\ngarbage\n"); /* bad overlay: ignored */
    ck_assert_int_eq(tt__tune_lookup(&info, &r), TT_SUCCESS);
    ck_assert_int_eq(r.overlay_status, TT_ERR_FORMAT);
    ck_assert_int_eq(r.level, TT_TUNE_DEVICE);
    ck_assert_ptr_nonnull(strstr(r.overlay_message, "tune.txt:2"));
}
END_TEST

START_TEST(test_clamp)
{
    tt_device_info info = fake_device("d", "v", CL_DEVICE_TYPE_GPU);
    ck_assert_int_eq(tt__tune_clamp_wg(&info, 64, 128, 4), 64);
    ck_assert_int_eq(tt__tune_clamp_wg(&info, 48, 128, 4), 32); /* power of two */
    ck_assert_int_eq(tt__tune_clamp_wg(&info, 1 << 20, 128, 4), 1024);
    info.max_work_group_size = 16;
    ck_assert_int_eq(tt__tune_clamp_wg(&info, 64, 128, 4), 16);
    info.max_work_group_size = 1024;
    /* Local memory: WG 64 needs more than the device has, WG 32 fits. */
    info.local_mem_size = tt__attention_local_bytes(128, 4, 32);
    ck_assert_int_eq(tt__tune_clamp_wg(&info, 256, 128, 4), 32);
    info.local_mem_size = 16;
    ck_assert_int_eq(tt__tune_clamp_wg(&info, 256, 128, 4), 1);
}
END_TEST

/* Plans a dense decode (H 4, G 2, d 16, n 1024) on a fresh context with TOPTHETA_TUNE = tune and,
 * if local_limit > 0, that much local memory; returns the status and the plan's choices. */
static tt_status plan_with(const char *tune, cl_ulong local_limit, tt__plan *plan)
{
    enum { H = 4, G = 2, D = 16, N = 1024 };
    setenv("TOPTHETA_TUNE", tune, 1);
    tt_context *ctx;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    if (local_limit)
        tt__context_limit_local_mem(ctx, local_limit);
    cl_context cx;
    cl_command_queue queue;
    tt_context_cl(ctx, &cx, NULL, &queue);
    cl_int err;
    cl_mem b[4];
    const size_t sz[4] = {H * D * 4, G * N * D * 4, G * N * D * 4, H * D * 4};
    for (int i = 0; i < 4; i++)
        b[i] = clCreateBuffer(cx, CL_MEM_READ_WRITE, sz[i], NULL, &err);
    tt_tensor tq = tt_tensor_head_major(b[0], H, 1, D), tk = tt_tensor_head_major(b[1], G, N, D);
    tt_tensor tv = tt_tensor_head_major(b[2], G, N, D), to = tt_tensor_head_major(b[3], H, 1, D);
    tt_attn_shape s = {1, H, G, D, 1, N, TT_DTYPE_F32};
    tt_attn_params p;
    tt_attn_params_init(&p);
    tt_status st = tt__plan_attention(ctx, queue, &s, &p, &tq, &tk, &tv, &to, NULL, NULL, 0, NULL,
                                      plan);
    if (st == TT_SUCCESS)
        clReleaseProgram(plan->program);
    for (int i = 0; i < 4; i++)
        clReleaseMemObject(b[i]);
    tt_context_destroy(ctx);
    unsetenv("TOPTHETA_TUNE");
    return st;
}

/* The plan takes WG and CHUNK from the database (here through TOPTHETA_TUNE) and clamps them. */
START_TEST(test_plan_uses_db)
{
    if (!tt_test_have_device())
        return;
    tt__plan plan;
    ck_assert_int_eq(plan_with("WG=32,CHUNK=100", 0, &plan), TT_SUCCESS);
    ck_assert_int_eq(plan.wg, 32);
    ck_assert_int_eq(plan.chunk_len, 128); /* CHUNK rounded up to a multiple of WG */
    ck_assert_int_eq(plan.n_chunks, 1024 / 128);
    ck_assert_int_eq(plan_with("WG=32,CHUNK=4096", 0, &plan), TT_SUCCESS);
    ck_assert_int_eq(plan.n_chunks, 1); /* never longer than the row */
    /* Less local memory gives a smaller work-group, not a failure. */
    ck_assert_int_eq(plan_with("WG=256", tt__attention_local_bytes(16, 2, 64), &plan),
                     TT_SUCCESS);
    ck_assert_int_eq(plan.wg, 64);
    /* TT_WG stays the developer override on top of the database. */
    setenv("TT_WG", "32", 1);
    ck_assert_int_eq(plan_with("WG=128", 0, &plan), TT_SUCCESS);
    unsetenv("TT_WG");
    ck_assert_int_eq(plan.wg, 32);
}
END_TEST

START_TEST(test_overlay_write)
{
    char msg[512];
    tt__tune_params p = {64, 1024};
    ck_assert_int_eq(tt__tune_overlay_write(overlay, "Dev A", p, msg, sizeof msg), TT_SUCCESS);
    char *text = slurp(overlay);
    ck_assert_ptr_nonnull(strstr(text, "device=Dev A WG=64 CHUNK=1024\n"));
    spill(overlay, "# mine\ndevice=Dev B WG=32 CHUNK=0\ndevice=Dev A WG=8 CHUNK=0\n");
    p = (tt__tune_params){128, 0};
    ck_assert_int_eq(tt__tune_overlay_write(overlay, "Dev  A", p, msg, sizeof msg), TT_SUCCESS);
    ck_assert_str_eq(slurp(overlay), "# mine\ndevice=Dev B WG=32 CHUNK=0\n"
                                     "device=Dev A WG=128 CHUNK=0\n");
    /* A malformed overlay is not rewritten. */
    spill(overlay, "device=Dev B WG=31 CHUNK=0\n");
    ck_assert_int_eq(tt__tune_overlay_write(overlay, "Dev A", p, msg, sizeof msg), TT_ERR_FORMAT);
    ck_assert_str_eq(slurp(overlay), "device=Dev B WG=31 CHUNK=0\n");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/sub", root);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(!strstr(e->d_name, ".tmp"), "temp file left: %s", e->d_name);
    closedir(d);
}
END_TEST

/* Runs the CLI next to this test executable; returns its exit status (-1 if it is not built). */
static int run_cli(const char *args)
{
    char self[PATH_MAX], cmd[PATH_MAX + 512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(cmd, sizeof cmd, "%s/../tools/cli/toptheta", self);
    if (access(cmd, X_OK) != 0)
        return -1;
    snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " tune %s >'%s/out.txt' 2>&1", args,
             root);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

START_TEST(test_tune_cli)
{
    if (!tt_test_have_device())
        return;
    /* The plan tests' shape and work-groups, so most programs come from the suite's cache. */
    const char *small = "--len 512 --heads 4 --kv-heads 2 --head-dim 16 --dtype f32 --reps 2 "
                        "--wgs 32,64 --chunks 0,256";
    char args[256];
    snprintf(args, sizeof args, "%s --dry-run", small);
    int rc = run_cli(args);
    if (rc == -1) {
        printf("# toptheta CLI not built: tune CLI checks skipped\n");
        return;
    }
    ck_assert_msg(rc == 0, "tune --dry-run failed: %s", slurp(strcat(strcpy((char[128]){0}, root),
                                                                      "/out.txt")));
    ck_assert_ptr_null(slurp(overlay));
    /* A real run keeps the other devices' lines and adds this device's. */
    mkdir(strcat(strcpy((char[128]){0}, root), "/sub"), 0700);
    spill(overlay, "device=Some Other Device WG=32 CHUNK=0\n");
    ck_assert_int_eq(run_cli(small), 0);
    tt_context *ctx;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    tt_device_info info;
    tt_context_device_info(ctx, &info);
    tt_context_destroy(ctx);
    tt__tune_result r;
    ck_assert_int_eq(tt__tune_lookup(&info, &r), TT_SUCCESS);
    ck_assert_int_eq(r.level, TT_TUNE_OVERLAY);
    ck_assert(r.params.wg == 32 || r.params.wg == 64);
    ck_assert(r.params.chunk == 0 || r.params.chunk == 256);
    ck_assert_ptr_nonnull(strstr(slurp(overlay), "device=Some Other Device WG=32 CHUNK=0\n"));
}
END_TEST

/* The decode chunk a GPU launch takes (host/decode.c): 132 compute units, WG 128, 512-key start
 * as the H100 / H200 entries. Short batch-1 contexts halve the chunk until the launch has as
 * many work-groups as units (or a chunk is one key per work-item); full launches double it. */
START_TEST(test_decode_gpu_chunk)
{
    const size_t cu = 132, kv8 = 8; /* batch 1 × 8 KV heads */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, kv8, 1024), 128);  /* 64 groups at 128 */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, kv8, 4096), 128);  /* 256 */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, kv8, 8192), 256);  /* 256 >= 132 */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, kv8, 16384), 512); /* already 256 */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, kv8, 32768), 512); /* 256 at 1024 */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, 64, 32768), 1024); /* batch 8: 1024 */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, 64, 131072), 1024);
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, cu, 1, 1), 128);       /* never below wg */
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 64, cu, 1, 1), 64);
    ck_assert_int_eq(tt__decode_gpu_chunk(512, 128, 0, 1, 1024), 512);     /* unknown units: 1 */
    ck_assert_int_eq(tt__decode_gpu_chunk(256, 128, 4, 4, 1024), 256);     /* 4 × 2 < 16, 4 × 4 >= 4 */
    ck_assert_int_eq(tt__decode_gpu_chunk(256, 128, 4, 8, 1024), 512);     /* 8 × 2 = 16: doubled */
}
END_TEST

int main(void)
{
    snprintf(suite_cache, sizeof suite_cache, "/tmp/tt-tune-cache-XXXXXX");
    if (!mkdtemp(suite_cache))
        return 1;
    Suite *s = suite_create("tune");
    TCase *tc = tcase_create("launch parameter database");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_normalise_pocl);
    tcase_add_test(tc, test_decode_gpu_chunk);
    tcase_add_test(tc, test_normalise_vendors);
    tcase_add_test(tc, test_fallback_levels);
    tcase_add_test(tc, test_overlay_parsing);
    tcase_add_test(tc, test_override);
    tcase_add_test(tc, test_full_lookup);
    tcase_add_test(tc, test_clamp);
    tcase_add_test(tc, test_plan_uses_db);
    tcase_add_test(tc, test_overlay_write);
    tcase_add_test(tc, test_tune_cli);
    suite_add_tcase(s, tc);
    int rc = tt_test_run(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", suite_cache);
    return system(cmd) == 0 ? rc : 1;
}

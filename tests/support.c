/* support.c — see support.h. The runner uses Check's CK_ENV so meson's TAP settings apply, and
 * unloads the platform compiler at the end so valgrind/LeakSanitizer runs end clean. */
#include "support.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tt_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tt_test_teardown_cl();
    return failed ? 1 : 0;
}

/* Set once a suite has touched OpenCL (tt_test_have_device is every device suite's first call),
 * so that host-only suites do not load the ICD and PoCL just to unload the compiler. */
static int cl_touched;

void tt_test_teardown_cl(void)
{
    cl_platform_id p;
    cl_device_id d;
    if (cl_touched && tt_device_select(NULL, &p, &d) == TT_SUCCESS)
        clUnloadPlatformCompiler(p);
}

int tt_test_small(void)
{
    const char *e = getenv("TT_TEST_LEVEL");
    return e && strcmp(e, "small") == 0;
}

int tt_test_skip(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    return 0;
}

int tt_test_have_device(void)
{
    cl_platform_id p;
    cl_device_id d;
    cl_touched = 1;
    return tt_device_select(NULL, &p, &d) == TT_SUCCESS;
}

const char *tt_test_shared_dir(void)
{
    const char *d = getenv("TT_SHARED_DIR");
    if (!d || !*d)
        d = "../shared";
    struct stat st;
    return stat(d, &st) == 0 && S_ISDIR(st.st_mode) ? d : NULL;
}

const char *tt_test_shared_file(const char *rel)
{
    static char buf[4096];
    const char *d = tt_test_shared_dir();
    if (!d)
        return NULL;
    snprintf(buf, sizeof buf, "%s/%s", d, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

unsigned tt_test_seed(void)
{
    static unsigned seed;
    static int done;
    if (!done) {
        const char *e = getenv("TT_TEST_SEED");
        seed = e && *e ? (unsigned)strtoul(e, NULL, 0) : (unsigned)time(NULL) ^ (unsigned)clock();
        if (!seed)
            seed = 1;
        printf("# seed %u (replay with TT_TEST_SEED=%u)\n", seed, seed);
        done = 1;
    }
    return seed;
}

float tt_test_uniform(unsigned *state, float lo, float hi)
{
    unsigned x = *state ? *state : 1u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return lo + (hi - lo) * (float)((x >> 8) * (1.0 / 16777216.0));
}

void tt_test_mkdtemp(char *buf, size_t cap, const char *prefix)
{
    snprintf(buf, cap, "/tmp/%s-XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

void tt_test_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[4096];
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

unsigned char *tt_test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            unsigned char *grown = realloc(buf, cap *= 2);
            if (!grown)
                free(buf);
            buf = grown;
        }
    }
    fclose(f);
    *size = n;
    return buf;
}

void tt_test_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

int tt_test_count_files(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
             (!needle || strstr(e->d_name, needle));
    if (d)
        closedir(d);
    return n;
}

void tt_test_fill_kv(void *k, void *v, size_t n, tt_dtype dt, unsigned *state)
{
    for (size_t i = 0; i < n; i++) {
        const float kv[2] = {tt_test_uniform(state, -2, 2), tt_test_uniform(state, -1, 1)};
        if (dt == TT_DTYPE_F16) {
            ((uint16_t *)k)[i] = tt_f32_to_f16(kv[0]);
            ((uint16_t *)v)[i] = tt_f32_to_f16(kv[1]);
        } else {
            ((float *)k)[i] = kv[0];
            ((float *)v)[i] = kv[1];
        }
    }
}

cl_command_queue tt_test_out_of_order_queue(tt_context *ctx)
{
    cl_context cx;
    cl_device_id dev;
    tt_context_cl(ctx, &cx, &dev, NULL);
    cl_command_queue_properties props = 0;
    clGetDeviceInfo(dev, CL_DEVICE_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (!(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)) {
        printf("# skipped: the device has no out-of-order queues\n");
        return NULL;
    }
    cl_int err;
    cl_command_queue q = clCreateCommandQueue(cx, dev, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE,
                                              &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return q;
}

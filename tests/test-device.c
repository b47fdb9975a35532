/* test-device.c — device discovery and contexts: the list and probe, the selector grammar
 * (indices, types, name substrings, TOPTHETA_DEVICE), clear errors for selectors that match
 * nothing, adopting a caller's cl_context + cl_device_id, destroy(NULL), and the warp-shuffle
 * capability probe. */
#include "support.h"
#include "internal.h"
#include <stdlib.h>
#include <string.h>

START_TEST(test_list_and_probe)
{
    tt_device_info infos[16];
    size_t n = 0;
    ck_assert_int_eq(tt_device_list(infos, 16, &n), TT_SUCCESS);
    ck_assert_uint_ge(n, 1);
    ck_assert_int_gt(strlen(infos[0].name), 0);
    ck_assert_uint_ge(infos[0].max_work_group_size, 1);
    ck_assert_uint_gt(infos[0].local_mem_size, 0);
    ck_assert_int_ge(infos[0].opencl_c_major, 1);
    ck_assert_int_eq(infos[0].platform_index, 0);
}
END_TEST

START_TEST(test_selectors)
{
    cl_platform_id p;
    cl_device_id d, d2;
    ck_assert_int_eq(tt_device_select("0:0", &p, &d), TT_SUCCESS);
    tt_device_info info;
    ck_assert_int_eq(tt_device_probe(d, &info), TT_SUCCESS);
    /* the device's own name as a substring, in another case, selects it */
    char sub[8] = {0};
    memcpy(sub, info.name, strlen(info.name) < 4 ? strlen(info.name) : 4);
    for (char *c = sub; *c; c++)
        *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    ck_assert_int_eq(tt_device_select(sub, &p, &d2), TT_SUCCESS);
    const char *type = (info.type & CL_DEVICE_TYPE_GPU) ? "gpu" : (info.type & CL_DEVICE_TYPE_CPU) ? "cpu" : "accelerator";
    ck_assert_int_eq(tt_device_select(type, &p, &d2), TT_SUCCESS);
    ck_assert_int_eq(tt_device_select("no-such-device-xyz", &p, &d2), TT_DEVICE_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), "no-such-device-xyz"));
    ck_assert_int_eq(tt_device_select("9:9", &p, &d2), TT_DEVICE_NOT_FOUND);
    ck_assert_int_eq(tt_device_select(NULL, NULL, &d2), TT_ERR_NULL_ARGUMENT);
}
END_TEST

START_TEST(test_environment_selector)
{
    setenv("TOPTHETA_DEVICE", "no-such-device-xyz", 1);
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_DEVICE_NOT_FOUND);
    ck_assert_ptr_null(ctx);
    /* an explicit selector wins over the environment */
    ck_assert_int_eq(tt_context_create("0:0", &ctx), TT_SUCCESS);
    tt_context_destroy(ctx);
    unsetenv("TOPTHETA_DEVICE");
}
END_TEST

START_TEST(test_adopt_caller_context)
{
    cl_platform_id p;
    cl_device_id d;
    ck_assert_int_eq(tt_device_select(NULL, &p, &d), TT_SUCCESS);
    cl_int err;
    cl_context cx = clCreateContext(NULL, 1, &d, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create_from_cl(cx, d, &ctx), TT_SUCCESS);
    clReleaseContext(cx); /* the library holds its own reference */
    cl_context got;
    cl_device_id gd;
    ck_assert_int_eq(tt_context_cl(ctx, &got, &gd, NULL), TT_SUCCESS);
    ck_assert_ptr_eq(got, cx);
    ck_assert_ptr_eq(gd, d);
    /* a dense call works on the adopted context */
    tt_attn_shape s = {1, 2, 1, 8, 1, 5, TT_DTYPE_F32};
    tt_attn_params prm;
    tt_attn_params_init(&prm);
    float q[16] = {0}, k[40] = {0}, v[40], o[16];
    for (int i = 0; i < 40; i++)
        v[i] = (float)(i % 8);
    ck_assert_int_eq(tt_attention_host(ctx, &s, &prm, q, k, v, o, NULL, NULL), TT_SUCCESS);
    ck_assert_float_eq_tol(o[3], 3.0f, 1e-5f); /* uniform weights: mean of v = its column */
    tt_context_destroy(ctx);
    ck_assert_int_eq(tt_context_create_from_cl(NULL, d, &ctx), TT_ERR_NULL_ARGUMENT);
    tt_context_destroy(NULL);
}
END_TEST

/* host/shfl.c answers once per context; on a device without cl_nv_device_attribute_query
 * (PoCL) it says no without a build, and it never leaves its own error behind. */
START_TEST(test_warp_shuffle_probe)
{
    tt_context *ctx;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    tt__fail(ctx, TT_ERR_INTERNAL, "earlier error");
    const int first = tt__warp_shuffle(ctx);
    ck_assert(first == 0 || first == 1);
    ck_assert_int_eq(tt__warp_shuffle(ctx), first);
    ck_assert_str_eq(tt_last_error(ctx), "earlier error");
    char ext[8192] = "";
    clGetDeviceInfo(ctx->device, CL_DEVICE_EXTENSIONS, sizeof ext - 1, ext, NULL);
    if (!strstr(ext, "cl_nv_device_attribute_query"))
        ck_assert_int_eq(first, 0);
    tt_context_destroy(ctx);
    setenv("TT_DEC_SHFL", "0", 1); /* the switch that turns the shuffle path off */
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    ck_assert_int_eq(tt__warp_shuffle(ctx), 0);
    tt_context_destroy(ctx);
    unsetenv("TT_DEC_SHFL");
}
END_TEST

/* host/mma.c likewise: one answer per context, no on a device without NVIDIA's attributes (PoCL)
 * and without a build, no error left behind, and TT_DEC_MMA=0 turns it off. */
START_TEST(test_tensor_mma_probe)
{
    tt_context *ctx;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    tt__fail(ctx, TT_ERR_INTERNAL, "earlier error");
    const int first = tt__tensor_mma(ctx);
    ck_assert(first == 0 || first == 1);
    ck_assert_int_eq(tt__tensor_mma(ctx), first);
    ck_assert_str_eq(tt_last_error(ctx), "earlier error");
    if (!tt__nv_warp32(ctx))
        ck_assert_int_eq(first, 0);
    tt_context_destroy(ctx);
    setenv("TT_DEC_MMA", "0", 1);
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    ck_assert_int_eq(tt__tensor_mma(ctx), 0);
    tt_context_destroy(ctx);
    unsetenv("TT_DEC_MMA");
}
END_TEST

/* The probe's own build and launch path, on any device: shfl.cl with its portable stand-in
 * (TT_PTX_STUB) must build with the options the probe uses and run, and the stand-in hands back
 * the caller's own value. (The probe once built without the head size common.cl requires, and so
 * answered no on every device without anyone noticing.) A missing source is a clean no. */
START_TEST(test_ptx_probe_builds)
{
    tt_context *ctx;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    float got[128];
    for (int i = 0; i < 128; i++)
        got[i] = -1.0f;
    ck_assert_int_eq(tt__ptx_run(ctx, "shfl.cl", "-DTT_PTX_STUB", "tt_shfl_probe", got, 128, 64),
                     1);
    for (int t = 0; t < 64; t++)
        ck_assert_float_eq(got[2 * t], (float)t);
    /* mma.cl's probe with its stand-in (which adds nothing): every lane returns C = 1, so the
     * host's exact check of A·B + 1 would say no. */
    ck_assert_int_eq(tt__ptx_run(ctx, "mma.cl", "-DTT_PTX_STUB", "tt_mma_probe", got, 128, 32), 1);
    for (int i = 0; i < 128; i++)
        ck_assert_float_eq(got[i], 1.0f);
    ck_assert_int_eq(tt__ptx_run(ctx, "no-such.cl", "", "k", got, 1, 1), 0);
    tt_context_destroy(ctx);
}
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("device");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_list_and_probe);
    tcase_add_test(tc, test_selectors);
    tcase_add_test(tc, test_environment_selector);
    tcase_add_test(tc, test_adopt_caller_context);
    tcase_add_test(tc, test_warp_shuffle_probe);
    tcase_add_test(tc, test_tensor_mma_probe);
    tcase_add_test(tc, test_ptx_probe_builds);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}

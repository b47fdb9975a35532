/* test-kernel-pool.c — kernel objects reused across calls (host/kernel_pool.c): a second call
 * gets the first call's kernels back instead of new ones, and a kernel reused with another call's
 * arguments gives that call's results bit for bit; the pool holds only kernels of cached programs,
 * is bounded, and lets go of everything when the programs go (new build options, eviction). */
#include "support.h"
#include "internal.h"
#include <stdlib.h>
#include <string.h>

#define H 4
#define G 2
#define D 32

typedef struct call {
    tt_attn_shape sh;
    float *q, *o;
    void *k, *v;
} call;

static void make_call(call *c, int kv_len, unsigned seed)
{
    c->sh = (tt_attn_shape){1, H, G, D, 1, kv_len, TT_DTYPE_F16};
    const size_t qn = (size_t)H * D, kn = (size_t)G * kv_len * D;
    c->q = malloc(qn * 4), c->o = malloc(qn * 4), c->k = malloc(kn * 2), c->v = malloc(kn * 2);
    ck_assert(c->q && c->o && c->k && c->v);
    unsigned st = seed;
    for (size_t i = 0; i < qn; i++)
        c->q[i] = tt_test_uniform(&st, -2, 2);
    tt_test_fill_kv(c->k, c->v, kn, TT_DTYPE_F16, &st);
}

static void free_call(call *c)
{
    free(c->q), free(c->o), free(c->k), free(c->v);
}

static void run(tt_context *ctx, call *c)
{
    tt_attn_params p;
    tt_attn_params_init(&p);
    memset(c->o, 0xff, (size_t)H * D * 4); /* poisoned: every output must be written */
    tt_status st = tt_attention_host(ctx, &c->sh, &p, c->q, c->k, c->v, c->o, NULL, NULL);
    ck_assert_msg(st == TT_SUCCESS, "%s: %s", tt_status_name(st), tt_last_error(ctx));
}

/* Every pooled kernel belongs to a program the context still caches. */
static void check_invariant(tt_context *ctx)
{
    ck_assert_int_le(ctx->n_kernel_pool, TT_KERNEL_POOL);
    for (int i = 0; i < ctx->n_kernel_pool; i++) {
        int cached = 0;
        for (int j = 0; j < ctx->n_programs; j++)
            cached |= ctx->programs[j].program == ctx->kernel_pool[i].program;
        ck_assert_msg(cached, "pooled kernel %s of a program no longer cached",
                      ctx->kernel_pool[i].name);
    }
}

START_TEST(reused_with_new_arguments)
{
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    call a, b;
    make_call(&a, 300, tt_test_seed() + 1u);
    make_call(&b, 77, tt_test_seed() + 2u);
    run(ctx, &a);
    float *first = malloc((size_t)H * D * 4);
    ck_assert_ptr_nonnull(first);
    memcpy(first, a.o, (size_t)H * D * 4);
    const int pooled = ctx->n_kernel_pool;
    ck_assert_int_ge(pooled, 1); /* the call's kernels went back to the pool */
    cl_kernel before[TT_KERNEL_POOL];
    for (int i = 0; i < pooled; i++)
        before[i] = ctx->kernel_pool[i].kernel;
    check_invariant(ctx);
    const int programs = ctx->n_programs;

    run(ctx, &b); /* other arguments (another length), possibly the same kernels */
    run(ctx, &a); /* a again: the same kernels, a's results exactly */
    ck_assert_int_eq(memcmp(first, a.o, (size_t)H * D * 4), 0);
    /* both lengths compile to the same programs here, so no call had to create a kernel: the
     * pool holds what it held after the first call, not a second set beside it */
    ck_assert_int_eq(ctx->n_programs, programs);
    ck_assert_int_eq(ctx->n_kernel_pool, pooled);
    /* a's kernels came back out of the pool: the ones pooled after the first call are there
     * again (nothing was created and released in their place). */
    for (int i = 0; i < pooled; i++) {
        int found = 0;
        for (int j = 0; j < ctx->n_kernel_pool; j++)
            found |= ctx->kernel_pool[j].kernel == before[i];
        ck_assert_msg(found, "pooled kernel %d was not reused", i);
    }
    check_invariant(ctx);

    /* New build options drop every program and, with them, every pooled kernel. */
    ck_assert_int_eq(tt_context_set_build_options(ctx, "-cl-mad-enable"), TT_SUCCESS);
    ck_assert_int_eq(ctx->n_kernel_pool, 0);
    run(ctx, &a);
    ck_assert_int_ge(ctx->n_kernel_pool, 1);
    check_invariant(ctx);
    free(first);
    free_call(&a), free_call(&b);
    tt_context_destroy(ctx); /* releases the pool (the valgrind setup checks for leaks) */
}
END_TEST

START_TEST(bounded_and_only_cached_programs)
{
    tt_context *ctx = NULL;
    ck_assert_int_eq(tt_context_create(NULL, &ctx), TT_SUCCESS);
    call a;
    make_call(&a, 64, tt_test_seed() + 3u);
    run(ctx, &a);
    ck_assert_int_ge(ctx->n_kernel_pool, 1);
    const cl_program prog = ctx->kernel_pool[0].program;
    char name[sizeof ctx->kernel_pool[0].name];
    strcpy(name, ctx->kernel_pool[0].name);

    /* take: the pooled kernel leaves the pool; a name the pool does not hold gives NULL */
    const int n0 = ctx->n_kernel_pool;
    cl_kernel k = tt__kernel_pool_take(ctx, prog, name);
    ck_assert_ptr_nonnull(k);
    ck_assert_int_eq(ctx->n_kernel_pool, n0 - 1);
    ck_assert_ptr_null(tt__kernel_pool_take(ctx, prog, "tt_no_such_kernel"));
    tt__put_kernel(ctx, prog, name, k);
    ck_assert_int_eq(ctx->n_kernel_pool, n0);

    /* more kernels than the pool holds: the surplus is released, the pool stays bounded */
    for (int i = 0; i < TT_KERNEL_POOL + 5; i++) {
        cl_int err;
        cl_kernel x = clCreateKernel(prog, name, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        tt__put_kernel(ctx, prog, name, x);
    }
    ck_assert_int_eq(ctx->n_kernel_pool, TT_KERNEL_POOL);
    check_invariant(ctx);

    /* a kernel of a program the context does not cache, or with a name too long to keep, is
     * released rather than pooled */
    cl_context cx;
    cl_device_id dev;
    ck_assert_int_eq(tt_context_cl(ctx, &cx, &dev, NULL), TT_SUCCESS);
    const char *src = "__kernel void tt_pool_probe(__global int *x) { x[0] = 1; }";
    cl_int err;
    cl_program other = clCreateProgramWithSource(cx, 1, &src, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    ck_assert_int_eq(clBuildProgram(other, 1, &dev, "", NULL, NULL), CL_SUCCESS);
    tt__kernel_pool_drop_locked(ctx, prog); /* only prog's kernels go (one thread: no lock) */
    for (int i = 0; i < ctx->n_kernel_pool; i++)
        ck_assert_ptr_ne(ctx->kernel_pool[i].program, prog);
    tt__kernel_pool_drop_locked(ctx, NULL); /* and now all */
    ck_assert_int_eq(ctx->n_kernel_pool, 0);
    cl_kernel x = clCreateKernel(other, "tt_pool_probe", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tt__put_kernel(ctx, other, "tt_pool_probe", x);
    ck_assert_int_eq(ctx->n_kernel_pool, 0);
    char longname[80];
    memset(longname, 'k', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    x = clCreateKernel(prog, name, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    tt__put_kernel(ctx, prog, longname, x);
    ck_assert_int_eq(ctx->n_kernel_pool, 0);
    clReleaseProgram(other);

    /* and the next call still works (it creates its kernels again) */
    run(ctx, &a);
    check_invariant(ctx);
    free_call(&a);
    tt_context_destroy(ctx);
}
END_TEST

int main(void)
{
    if (!tt_test_have_device())
        return tt_test_skip("no OpenCL device");
    Suite *s = suite_create("kernel-pool");
    TCase *tc = tcase_create("kernel-pool");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, reused_with_new_arguments);
    tcase_add_test(tc, bounded_and_only_cached_programs);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}

/* decode.c — host side of kernels/decode/: the split-KV decode path for calls with one query row
 * per head. Picks the vector width and chunk length, uploads the per-head thresholds, and chains
 * tt_dec_chunk → (tt_select for top-k) → (tt_dec_pv for cuts that need the row max/sum) →
 * tt_dec_merge with events. Dense and pre-softmax Top-θ take two launches. */
#include "decode.h"
#include "tune_db.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define RI_N 5

static int pick_vec(int d, int wg)
{
    for (int vec = 8; vec > 1; vec /= 2)
        if (d % vec == 0 && d / vec <= wg)
            return vec;
    return 1;
}

static size_t local_bytes(int d, int group, int wg, int ch, int vec)
{
    return 4u * ((size_t)group * d + (size_t)group * ch + (size_t)group * wg + wg + ch +
                 (size_t)wg * vec);
}

int tt__decode_eligible(const tt_context *ctx, const tt_attn_shape *s, int wg)
{
    (void)ctx;
    const char *e = getenv("TT_DECODE_GENERIC");
    if (e && *e == '1')
        return 0;
    return s->q_len == 1 && s->head_dim / pick_vec(s->head_dim, wg) <= wg;
}

typedef struct {
    cl_mem lay, scores, part_m, part_z, part_acc, part_ms, part_ds, part_dm, part_kept,
        part_union, rowinfo, thetas, dhats, vmean;
} dec_bufs;

static cl_mem mkbuf(tt_context *ctx, size_t bytes, const void *host, tt_status *st)
{
    if (*st != TT_SUCCESS)
        return NULL;
    cl_int err;
    cl_mem m = clCreateBuffer(ctx->context,
                              host ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_READ_WRITE,
                              bytes ? bytes : 4, (void *)host, &err);
    if (err != CL_SUCCESS)
        *st = tt__fail(ctx, (tt_status)err, "decode: buffer of %zu bytes: %s", bytes,
                       tt_status_name(err));
    return m;
}

/* Sets kernel arguments from a list of (size, pointer) pairs. */
static tt_status set_args(tt_context *ctx, cl_kernel kern, const char *name, int n,
                          const size_t *sizes, const void *const *vals)
{
    for (int i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(kern, (cl_uint)i, sizes[i], vals[i]);
        TT_RETURN_IF(ctx, err != CL_SUCCESS, (tt_status)err, "decode: %s argument %d: %s", name,
                     i, tt_status_name(err));
    }
    return TT_SUCCESS;
}

#define ARGS(...)                                                                                  \
    const void *vals_[] = {__VA_ARGS__};                                                           \
    size_t sizes_[sizeof vals_ / sizeof vals_[0]];
#define M_ sizeof(cl_mem)
#define I_ sizeof(int)
#define F_ sizeof(float)

static tt_status launch(tt_context *ctx, cl_command_queue queue, cl_kernel kern, const char *name,
                        size_t gx, size_t gy, size_t wg, cl_uint nw, const cl_event *wl,
                        cl_event *ev)
{
    size_t g[2] = {gx, gy}, l[2] = {wg, 1};
    cl_int err = clEnqueueNDRangeKernel(queue, kern, 2, NULL, g, l, nw, wl, ev);
    TT_RETURN_IF(ctx, err != CL_SUCCESS, (tt_status)err, "decode: enqueue %s: %s", name,
                 tt_status_name(err));
    return TT_SUCCESS;
}

tt_status tt__decode_enqueue(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                             const tt_attn_params *p, const tt__plan *plan, const tt_tensor *q,
                             const tt_tensor *k, const tt_tensor *v, const tt_tensor *o,
                             cl_mem vsum, cl_mem stats, cl_uint num_wait,
                             const cl_event *wait_list, cl_event *event)
{
    const int D = s->head_dim, G = s->n_kv_heads, H = s->n_heads, B = s->batch;
    const int wg = plan->wg, group = plan->group, vec = pick_vec(D, wg);
    int ch = ctx->info.local_mem_is_dedicated ? 256 : 1024;
    tt__tune_params tp; /* the tuning database's chunk length wins over the built-in guess */
    if (tt__tune_context(ctx, &tp) == TT_SUCCESS && tp.chunk > 0)
        ch = tp.chunk;
    const char *e = getenv("TT_DEC_CH");
    if (e && atoi(e) > 0)
        ch = atoi(e);
    ch = (ch + wg - 1) / wg * wg;
    while (ch > wg && local_bytes(D, group, wg, ch, vec) > ctx->info.local_mem_size)
        ch -= wg;
    TT_RETURN_IF(ctx, local_bytes(D, group, wg, ch, vec) > ctx->info.local_mem_size,
                 TT_ERR_LOCAL_MEMORY,
                 "decode: needs %zu bytes of local memory (head size %d, %d heads per group), the "
                 "device has %llu",
                 local_bytes(D, group, wg, ch, vec), D, group,
                 (unsigned long long)ctx->info.local_mem_size);
    const int nc = (s->kv_len + ch - 1) / ch;
    TT_RETURN_IF(ctx, (size_t)nc * 4 + 16u * wg > ctx->info.local_mem_size, TT_ERR_LOCAL_MEMORY,
                 "decode: %d chunks of %d keys need more local memory in the merge than the device "
                 "has; raise the chunk length (TOPTHETA_TUNE=CHUNK=...)", nc, ch);
    const int kind = p->mode == TT_MODE_DENSE || s->kv_len <= plan->k_eff || plan->k_eff <= 0
                         ? 0
                         : p->mode == TT_MODE_TOPK ? 2 : 1;
    const int store = kind == 2 || (kind == 1 && p->placement != TT_PLACE_PRE);
    const int use_vmc = p->vmc && p->mode != TT_MODE_DENSE;

    char opts[256];
    snprintf(opts, sizeof opts, "-DD=%d -DGROUP=%d -DWG=%d -DKV_F16=%d -DCH=%d -DVEC=%d", D,
             group, wg, s->kv_dtype == TT_DTYPE_F16, ch, vec);
    const char *srcs[] = {"decode.cl", "decode_merge.cl", "select.cl", "vmean.cl"};
    cl_program prog = NULL;
    tt_status st = tt__get_program(ctx, srcs, 4, opts, &prog);
    if (st != TT_SUCCESS)
        return st;

    /* Per-head θ and D̂ at n = kv_len (the same for every sequence of the batch). */
    float th[TT_MAX_HEADS_DECODE], dh[TT_MAX_HEADS_DECODE];
    for (int h = 0; h < H && h < TT_MAX_HEADS_DECODE; h++) {
        th[h] = dh[h] = 0.0f;
        if (kind == 1 || (p->sdc == TT_SDC_OFFLINE && p->table))
            if ((st = tt_table_lookup(p->table, p->layer, h, s->kv_len, &th[h], &dh[h])))
                st = tt__fail(ctx, st, "decode: %s", tt_last_error(NULL));
    }
    const size_t rows = (size_t)B * H, nchk = (size_t)nc;
    dec_bufs b = {0};
    b.lay = mkbuf(ctx, sizeof plan->layout, plan->layout, &st);
    b.scores = mkbuf(ctx, store ? rows * s->kv_len * 4 : 4, NULL, &st);
    b.part_m = mkbuf(ctx, rows * nchk * 4, NULL, &st);
    b.part_z = mkbuf(ctx, rows * nchk * 4, NULL, &st);
    b.part_acc = mkbuf(ctx, rows * nchk * D * 4, NULL, &st);
    b.part_ms = mkbuf(ctx, rows * nchk * 4, NULL, &st);
    b.part_ds = mkbuf(ctx, rows * nchk * 4, NULL, &st);
    b.part_dm = mkbuf(ctx, rows * nchk * 4, NULL, &st);
    b.part_kept = mkbuf(ctx, rows * nchk * 4, NULL, &st);
    b.part_union = mkbuf(ctx, (size_t)B * G * nchk * 4, NULL, &st);
    b.rowinfo = kind == 2 ? mkbuf(ctx, rows * RI_N * 4, NULL, &st) : NULL;
    b.thetas = mkbuf(ctx, (size_t)H * 4, th, &st);
    b.dhats = mkbuf(ctx, (size_t)H * 4, dh, &st);
    b.vmean = use_vmc && !vsum ? mkbuf(ctx, (size_t)B * G * D * 4, NULL, &st) : NULL;

    cl_kernel kc = NULL, ksel = NULL, kpv = NULL, km = NULL, kvm = NULL;
    cl_event ev[5];
    int n_ev = 0;
    const float scale = p->scale > 0 ? p->scale : 1.0f / sqrtf((float)D);
    const int kv_len = s->kv_len, one = 1, zero = 0, mode = (int)p->mode, place = (int)p->placement;
    const int sdc = (int)p->sdc, have_vsum = vsum != NULL, k_eff = plan->k_eff;
    const float lambda = p->sdc_lambda;
    const cl_mem null_mem = NULL;
    const size_t bg = (size_t)B * G;
    if (st == TT_SUCCESS && b.vmean) { /* VMC without a running sum: O(n·d) means, once */
        if (!(st = tt__create_kernel(ctx, prog, "tt_vmean", &kvm))) {
            ARGS(&v->buf, &b.lay, &G, &one, &kv_len, &B, &null_mem, &zero, &b.vmean)
            size_t sz[] = {M_, M_, I_, I_, I_, I_, M_, I_, M_};
            (void)sizes_;
            st = set_args(ctx, kvm, "tt_vmean", 9, sz, vals_);
        }
        if (!st)
            st = launch(ctx, queue, kvm, "tt_vmean", (size_t)(D + wg - 1) / wg * wg, bg, wg,
                        num_wait, wait_list, &ev[n_ev]);
        if (!st)
            n_ev++;
    }
    const cl_mem vsum_adv = use_vmc ? vsum : NULL; /* advanced by the chunk holding row n-1 */
    if (st == TT_SUCCESS && !(st = tt__create_kernel(ctx, prog, "tt_dec_chunk", &kc))) {
        ARGS(&q->buf, &k->buf, &v->buf, &b.lay, &H, &kv_len, &nc, &scale, &store, &kind, &place,
             &b.thetas, &vsum_adv, &b.scores, &b.part_m, &b.part_z, &b.part_acc, &b.part_ms,
             &b.part_ds, &b.part_dm, &b.part_kept, &b.part_union)
        size_t sz[] = {M_, M_, M_, M_, I_, I_, I_, F_, I_, I_, I_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_};
        (void)sizes_;
        st = set_args(ctx, kc, "tt_dec_chunk", 22, sz, vals_);
        if (!st)
            st = launch(ctx, queue, kc, "tt_dec_chunk", nchk * wg, bg, wg, n_ev ? 1 : num_wait,
                        n_ev ? &ev[n_ev - 1] : wait_list, &ev[n_ev]);
        if (!st)
            n_ev++;
    }
    if (st == TT_SUCCESS && kind == 2 && !(st = tt__create_kernel(ctx, prog, "tt_select", &ksel))) {
        ARGS(&q->buf, &k->buf, &b.lay, &H, &G, &one, &kv_len, &nc, &ch, &scale, &one, &b.scores,
             &b.part_m, &b.part_z, &mode, &k_eff, &b.thetas, &null_mem, &b.rowinfo)
        size_t sz[] = {M_, M_, M_, I_, I_, I_, I_, I_, I_, F_, I_, M_, M_, M_, I_, I_, M_, M_, M_};
        (void)sizes_;
        st = set_args(ctx, ksel, "tt_select", 19, sz, vals_);
        if (!st)
            st = launch(ctx, queue, ksel, "tt_select", wg, rows, wg, 1, &ev[n_ev - 1], &ev[n_ev]);
        if (!st)
            n_ev++;
    }
    if (st == TT_SUCCESS && store && !(st = tt__create_kernel(ctx, prog, "tt_dec_pv", &kpv))) {
        ARGS(&v->buf, &b.lay, &H, &kv_len, &nc, &kind, &place, &b.thetas, &b.rowinfo, &b.scores,
             &b.part_m, &b.part_z, &b.part_acc, &b.part_ms, &b.part_ds, &b.part_dm, &b.part_kept,
             &b.part_union)
        size_t sz[] = {M_, M_, I_, I_, I_, I_, I_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_};
        (void)sizes_;
        st = set_args(ctx, kpv, "tt_dec_pv", 18, sz, vals_);
        if (!st)
            st = launch(ctx, queue, kpv, "tt_dec_pv", nchk * wg, bg, wg, 1, &ev[n_ev - 1], &ev[n_ev]);
        if (!st)
            n_ev++;
    }
    if (st == TT_SUCCESS && !(st = tt__create_kernel(ctx, prog, "tt_dec_merge", &km))) {
        ARGS(&b.lay, &H, &kv_len, &nc, &kind, &place, &sdc, &lambda, &use_vmc, &b.thetas, &b.dhats,
             &b.rowinfo, &vsum, &have_vsum, &b.vmean, &b.part_acc, &b.part_ms, &b.part_ds,
             &b.part_dm, &b.part_kept, &b.part_union, &o->buf, &stats, &B, NULL)
        size_t sz[] = {M_, I_, I_, I_, I_, I_, I_, F_, I_, M_, M_, M_, M_, I_, M_, M_, M_, M_, M_, M_, M_, M_, M_, I_,
                       nchk * sizeof(float)};
        (void)sizes_;
        st = set_args(ctx, km, "tt_dec_merge", 25, sz, vals_);
        if (!st)
            st = launch(ctx, queue, km, "tt_dec_merge", wg, rows, wg, 1, &ev[n_ev - 1], &ev[n_ev]);
        if (!st)
            n_ev++;
    }
    if (st == TT_SUCCESS && event) {
        *event = ev[n_ev - 1];
        clRetainEvent(*event);
    }
    for (int x = 0; x < n_ev; x++)
        clReleaseEvent(ev[x]);
    cl_kernel kerns[] = {kc, ksel, kpv, km, kvm};
    for (size_t x = 0; x < sizeof kerns / sizeof kerns[0]; x++)
        if (kerns[x])
            clReleaseKernel(kerns[x]);
    cl_mem *mems = (cl_mem *)&b;
    for (size_t x = 0; x < sizeof b / sizeof(cl_mem); x++)
        if (mems[x])
            clReleaseMemObject(mems[x]);
    clReleaseProgram(prog);
    return st;
}

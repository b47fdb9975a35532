/* prefill.c — host side of kernels/prefill/prefill.cl, prefill_kth.cl (GPUs) and
 * prefill_rows.cl (CPUs): the prefill path for chunks of two or more query rows in dense, Top-θ
 * and top-k modes. Chains the running-V-mean scan (VMC), the row-statistics pass (exact
 * post-softmax and max-relative cuts) or top-k's k-th largest passes, and the attention pass.
 * TT_PF_DEFS is appended to the kernel build options (experiments). */
#include "prefill.h"
#include "scratch.h"
#include "thresholds.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PF_NT 128
#define PF_BK 32
#define PF_LQ 8 /* work-items per work-group of tt_pf_rows */
#define PF_SLOT 12 /* first scratch slot of prefill (decode takes 0-11, scratch.h) */

static int bq_of(int group) { return group >= 32 ? 1 : 32 / group; }

/* Local memory of tt_pf_attn: Q and K/V tiles at a float4 pitch of d + 4 for 32 score rows, the
 * weights (key-major at a pitch of 36, the larger of the two layouts), per-thread partial
 * maxima / sums / kept bits, per-row scalars and kept masks, two flags and two tile masks. */
static size_t pf_local_bytes(int d, int group)
{
    (void)group;
    const size_t sr = 32;
    return 4u * (sr * (d + 4) + PF_BK * (size_t)(d + 4) + PF_BK * 36 + 3 * sr * 8 + 5 * sr +
                 5);
}

/* The same with Q·Kᵀ on tensor cores (PF_MMA): Q's fp16 hi and lo halves at a pitch of d / 2 + 4
 * uints and a scale per row instead of the float4 Q tile; emulated, 6 uints per work-item more. */
static size_t pf_mma_local_bytes(int d, int group, int emulated)
{
    const size_t sr = 32;
    return pf_local_bytes(d, group) - 4u * sr * (d + 4) + 4u * (sr * (size_t)(d + 8) + sr) +
           (emulated ? 4u * 6 * PF_NT : 0);
}

/* Local memory of tt_pf_fa: two stages of 32-key K and V tiles at a pitch of d / 2 + 4 uints;
 * groups not dividing 16, the kept bits of the unions; emulated, the multiply-add's and the
 * shuffles' scratch and the warps' step masks. Query positions per work-group: 4 warps of
 * 16 / group positions (16 rows, some unused where the group does not divide 16). */
static size_t pf_fa_local_bytes(int d, int group, int emulated)
{
    return 4u * 4 * 32 * (size_t)(d / 2 + 4) + (16 % group ? 4u * 4 * 16 * 4 : 0) +
           (emulated ? 4u * (7 * PF_NT + 4) : 0);
}
#define PF_FA_BQ(group) (4 * (16 / (group)))

/* Which kernel takes a prefill call: PF_NONE (the generic path), PF_TILED (tt_pf_attn) or PF_ROWS
 * (tt_pf_rows). CPU devices run the row kernel, others the tiled one where its local memory fits;
 * a one-pass post-softmax call the tiled kernel cannot take (head size 256 in the H200's 48 KiB)
 * runs on the row kernel too, since the generic path only knows the exact cut (it once answered
 * such calls with the exact result: the H200's selftest, 2026-12-05). TT_PF_ROWS=0/1 overrides
 * (CI checks the tiled kernel on PoCL). */
enum { PF_NONE, PF_TILED, PF_ROWS };
static int pf_kernel(const tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p)
{
    const int group = s->n_heads / s->n_kv_heads;
    const char *e = getenv("TT_PF_ROWS");
    const int rows_ok = ctx->info.max_work_group_size >= PF_LQ; /* no local memory */
    const int tiled_ok = ctx->info.max_work_group_size >= PF_NT &&
                         pf_local_bytes(s->head_dim, group) <= ctx->info.local_mem_size;
    const int onepass = p->mode == TT_MODE_THETA && p->placement == TT_PLACE_POST &&
                        p->post_variant == TT_POST_ONEPASS;
    int want_rows = e && *e ? *e == '1' : (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    if (!want_rows && !tiled_ok && onepass)
        want_rows = 1;
    if (want_rows)
        return rows_ok ? PF_ROWS : PF_NONE;
    return tiled_ok ? PF_TILED : PF_NONE;
}

int tt__prefill_eligible(const tt_context *ctx, const tt_attn_shape *s, const tt_attn_params *p)
{
    const char *e = getenv("TT_PREFILL_GENERIC");
    if (e && *e == '1')
        return 0;
    const int group = s->n_heads / s->n_kv_heads;
    if (!(s->q_len >= 2 && s->head_dim % 4 == 0 && group <= 32))
        return 0;
    return pf_kernel(ctx, s, p) != PF_NONE;
}

static tt_status set_all(tt_context *ctx, cl_kernel kern, int n, const size_t *sz,
                         const void *const *val)
{
    for (int i = 0; i < n; i++) {
        cl_int err = clSetKernelArg(kern, (cl_uint)i, sz[i], val[i]);
        TT_RETURN_IF(ctx, err != CL_SUCCESS, (tt_status)err, "prefill: argument %d: %s", i,
                     tt_status_name(err));
    }
    return TT_SUCCESS;
}

static tt_status launch(tt_context *ctx, cl_command_queue queue, cl_kernel kern, size_t ox,
                        size_t gx, size_t gy, size_t wg, cl_uint nw, const cl_event *wl,
                        cl_event *ev)
{
    size_t o[2] = {ox, 0}, g[2] = {gx, gy}, l[2] = {wg, 1};
    cl_int err = clEnqueueNDRangeKernel(queue, kern, 2, ox ? o : NULL, g, l, nw, wl, ev);
    TT_RETURN_IF(ctx, err != CL_SUCCESS, (tt_status)err, "prefill: enqueue: %s",
                 tt_status_name(err));
    return TT_SUCCESS;
}

#define M_ sizeof(cl_mem)
#define I_ sizeof(int)
#define F_ sizeof(float)

tt_status tt__prefill_enqueue(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                              const tt_attn_params *p, const tt__plan *plan, const tt_tensor *q,
                              const tt_tensor *k, const tt_tensor *v, const tt_tensor *o,
                              cl_mem vsum, cl_mem stats, cl_uint num_wait,
                              const cl_event *wait_list, cl_event *event)
{
    const int D = s->head_dim, G = s->n_kv_heads, H = s->n_heads, B = s->batch, QL = s->q_len;
    const int KL = s->kv_len, group = plan->group, k_eff = plan->k_eff;
    const int theta_rows = p->mode == TT_MODE_THETA && k_eff > 0 && KL > k_eff;
    const int onepass = theta_rows && p->placement == TT_PLACE_POST &&
                        p->post_variant == TT_POST_ONEPASS;
    const int two_pass = theta_rows && !onepass && p->placement != TT_PLACE_PRE;
    const int use_vmc = p->vmc && p->mode != TT_MODE_DENSE;
    const int topk_rows = p->mode == TT_MODE_TOPK && k_eff > 0 && KL > k_eff;
    const size_t nqt = (size_t)(QL + bq_of(group) - 1) / bq_of(group), bg = (size_t)B * G;
    /* P·V on the 4-row register tile (PF_PV2 in prefill.cl): H200 8K dense 38.3 → 32.7 ms, Top-θ
     * 33.3 → 31.2; PoCL 1K dense 780-900 → 451-601 ms, Top-θ unchanged within the noise (four
     * runs each: 458-545 vs 474-605 ms). TT_PF_PV2=0 keeps the one-row mapping (experiments). */
    const char *epv = getenv("TT_PF_PV2");
    const int pv2 = !(epv && *epv == '0');
    /* CPU devices run tt_pf_rows (prefill_rows.cl): a work-item per PQ query positions and KV
     * head, vector arithmetic on a work-item's own rows, no local memory or barrier. PoCL 1K
     * fp16 against the tiled kernel's CPU forms: own dense 216 → 69-72 ms, Top-θ keep 0.1 211 →
     * 48-51 ms; 8K: 12.8 s → 4.4 s dense. PQ = 32 / GROUP rows of K/V reuse per work-item (at
     * most 8 positions; 1 for one-pass post, whose tile order is per row): 1K 1 → 8 positions
     * 89 → 69-72 ms, 8K 5.8 → 4.4 s. TT_PF_ROWS=0/1 overrides (CI checks the GPUs' kernel
     * on PoCL), TT_PF_PQ=1..8 sets PQ (experiments). */
    const int rows = pf_kernel(ctx, s, p) == PF_ROWS;
    const char *epq = getenv("TT_PF_PQ");
    int pq = epq && *epq ? atoi(epq) : (group >= 32 ? 1 : 32 / group);
    if (pq > 8)
        pq = 8;
    if (pq * group * D > 4096) /* a work-item's accumulators stay within 16 KB of stack */
        pq = 4096 / (group * D);
    if (onepass || pq < 1)
        pq = 1;
    /* Q·Kᵀ on tensor cores in the tiled kernel (PF_MMA, prefill.cl) where the device runs PTX's
     * mma.m16n8k16 (mma.c's probe) on fp16 K whose rows start on 16-byte boundaries, and with
     * it P·V by warps (PF_PVW). H100, 8K keep 0.1, one call (docs/PERFORMANCE.md, 2026-12-05,
     * fourth): dense / Top-θ 33.6 / 31.6 ms without either, 24.5 / 22.5 with PF_MMA, 36.4 / 32.6
     * with PF_PVW alone, 21.5 / 18.0 with both. TT_PF_MMA=0 and TT_PF_PVW=0 turn them off.
     * TT_PF_MMA_LOCAL=1 emulates the multiply-add through local memory (PF_PVW follows it), so
     * that CI checks the fragment bookkeeping and the warp P·V on any device. */
    const char *epm = getenv("TT_PF_MMA"), *epl = getenv("TT_PF_MMA_LOCAL");
    const char *epw = getenv("TT_PF_PVW");
    const int mma_fits = !rows && s->kv_dtype == TT_DTYPE_F16 && D % 16 == 0 &&
                         tt__plan_kv_aligned(plan, 8);
    const int mma_local = mma_fits && epl && *epl == '1' &&
                          pf_mma_local_bytes(D, group, 1) <= ctx->info.local_mem_size;
    const int mma = mma_fits && !mma_local && !(epm && *epm == '0') &&
                    pf_mma_local_bytes(D, group, 0) <= ctx->info.local_mem_size &&
                    tt__tensor_mma(ctx);
    const int pvw = epw && *epw ? *epw == '1' : mma || mma_local;
    /* P·V on tensor cores (PF_PVM, prefill.cl; replaces PF_PVW) with the tensor-core Q·Kᵀ,
     * head sizes 64 and 128. H100, 8K keep 0.1, one call (docs/PERFORMANCE.md, 2026-12-05,
     * fifth): dense 21.8 → 13.1 ms, Top-θ 18.6 → 13.7 ms (warp P·V for Top-θ only: 19.0).
     * Top-θ skips only 16-key blocks no row of the tile kept, so on scattered kept sets it costs
     * what dense does. TT_PF_PVM=0 turns it off, =dense keeps it to dense calls. */
    const char *epx = getenv("TT_PF_PVM");
    const int pvm_want = !epx || !*epx                 ? 1
                         : strcmp(epx, "dense") == 0 ? p->mode == TT_MODE_DENSE
                                                     : *epx == '1';
    const int pvm = (mma || mma_local) && (D == 64 || D == 128) && pvm_want;
    /* The FlashAttention-2 form (tt_pf_fa, prefill_fa.cl) where the tensor cores and the warp
     * shuffles run: Q, scores, weights and output in registers, 32-key K/V tiles in two
     * stages (16-key steps no row kept are multiplied all the same: PF_FA_SKIP, prefill_fa.cl).
     * Head sizes 64 and 128, GQA groups up to 16, dense
     * and θ cuts other than one-pass post-softmax, and top-k's last pass (its k-th largest
     * scores still come from tt_pf_attn and tt_pf_kth_select, a second program). H100, 8K,
     * keep 0.1, one call (docs/PERFORMANCE.md, 2026-12-06, ninth): dense 12.96 → 7.74 ms,
     * Top-θ 13.59 → 9.04 ms; 4K 3.64 → 2.23, 3.86 → 2.61. TT_PF_FA=0 turns it off; with the
     * emulated multiply-add (TT_PF_MMA_LOCAL=1) TT_PF_FA=1 turns it on, so that CI checks it. Groups
     * that do not divide 16 (3, 5, 6, 7, 9..: unused rows, unions through local memory) take
     * it too: H100, 8K, one call (2026-12-06, eleventh): SmolLM2's 9 / 3 heads, d 64, dense
     * 3.76 → 1.41 ms, Top-θ 3.96 → 1.45; 28 / 4 heads, d 128, 12.99 → 5.41, 13.96 → 5.35. */
    const char *efa = getenv("TT_PF_FA");
    const int fa_on = efa && *efa == '1', fa_off = efa && *efa == '0';
    const int fa_fits = (D == 64 || D == 128) && group <= 16 && !onepass &&
                        pf_fa_local_bytes(D, group, mma_local) <= ctx->info.local_mem_size;
    const int fa = fa_fits && (mma ? !fa_off && tt__warp_shuffle(ctx) : mma_local && fa_on);
    /* tt_pf_fa compiled for the call's cuts (PF_FA_CUT in prefill_fa.cl): 2 every row dense,
     * 1 fixed cuts (pre-softmax θ or top-k, without the exact dropped sum), 0 any. H100, 8K,
     * one call (docs/PERFORMANCE.md, 2026-12-06, tenth): dense 7.61 ms in form 0, 6.11 in
     * form 1, 5.23 in form 2; Top-θ keep 0.1 8.58 in form 0, 5.91 in form 1. TT_PF_FA_CUT=0 or
     * 1 caps it (experiments: a more general form, never a narrower one). */
    const char *ecut = getenv("TT_PF_FA_CUT");
    int fa_cut = !fa                                                           ? 0
                 : !theta_rows && !topk_rows                                   ? 2
                 : (topk_rows || p->placement == TT_PLACE_PRE) && p->sdc != TT_SDC_EXACT ? 1
                                                                               : 0;
    if (ecut && (*ecut == '0' || *ecut == '1') && *ecut - '0' < fa_cut)
        fa_cut = *ecut - '0';
    const char *defs = getenv("TT_PF_DEFS"); /* experiments: variants of the kernel */
    /* top-k's k-th largest pass scores a group's heads together (one fp16 conversion of each K
     * tile) while their queries fit in registers as tt_pf_rows' rows do */
    const int kth_hb = group * D <= 2048 ? group : 1;
    /* With tt_pf_fa for top-k's last pass, its k-th largest scores come from tt_pf_attn's
     * pass 2 and tt_pf_kth_select, which only the program without PF_FA holds: a second
     * program (the one a call without tt_pf_fa builds, so they share the cache). H100, 32 / 8
     * heads, d 128, keep 0.1, one call (docs/PERFORMANCE.md, 2026-12-06, thirteenth): top-k 8K
     * 33.07 → 25.02 ms, 4K 8.15 → 5.82 (a local copy of each row in tt_pf_kth_select: 28.2). */
    const int kth_own = fa && topk_rows;
    cl_program prog = NULL, kprog = NULL;
    tt_status st = TT_SUCCESS;
    for (int which = 0; which <= kth_own && st == TT_SUCCESS; which++) {
        const int f = which ? 0 : fa, fcut = which ? 0 : fa_cut;
        char opts[512];
        snprintf(opts, sizeof opts,
                 "-DD=%d -DGROUP=%d -DWG=%d -DKV_F16=%d -DPF_PV2=%d -DLQ=%d -DPQ=%d -DPF_MMA=%d "
                 "-DPF_MMA_LOCAL=%d -DPF_PVW=%d -DPF_PVM=%d -DKTH_HB=%d -DPF_FA=%d -DPF_FA_CUT=%d "
                 "%.260s",
                 D, group, PF_NT, s->kv_dtype == TT_DTYPE_F16, pv2, PF_LQ, pq, mma || mma_local,
                 mma_local, pvw, pvm, kth_hb, f, fcut, defs ? defs : "");
        const char *files[7];
        int n_files = 0;
        if (rows) {
            files[n_files++] = "rows.cl";
            files[n_files++] = "prefill_rows.cl";
        } else {
            if (mma || mma_local)
                files[n_files++] = mma ? "mma.cl" : "mma_local.cl";
            if (f && mma)
                files[n_files++] = "shfl.cl";
            files[n_files++] = "prefill.cl"; /* with PF_FA only its helpers */
            if (!f) /* top-k's passes: never with tt_pf_fa */
                files[n_files++] = "prefill_kth.cl";
            files[n_files++] = "prefill_fa.cl"; /* empty unless PF_FA */
        }
        files[n_files++] = "vmean.cl";
        st = tt__get_program(ctx, files, n_files, opts, which ? &kprog : &prog);
    }
    if (st != TT_SUCCESS) {
        if (prog)
            clReleaseProgram(prog);
        return st;
    }
    if (!kprog) {
        kprog = prog;
        clRetainProgram(kprog);
    }
    const char *attn_name = rows ? "tt_pf_rows" : fa ? "tt_pf_fa" : "tt_pf_attn";
    /* Device buffers from the queue's scratch pool (slots after decode's) and the thresholds and
     * layout by non-blocking writes: nothing is created per call and the host never waits for the
     * device. Per-call CL_MEM_COPY_HOST_PTR buffers did both, and the H200's prefill bench, which
     * holds the queue behind a delay kernel while it enqueues, ran past every limit (2026-12-05). */
    float *th = NULL, *dh = NULL;
    st = tt__row_thresholds(ctx, s, p, &th, &dh);
    size_t sbytes[TT_SCRATCH_SLOTS] = {0};
    sbytes[PF_SLOT + 0] = sizeof plan->layout;
    sbytes[PF_SLOT + 1] = sbytes[PF_SLOT + 2] = (size_t)H * QL * 4;
    sbytes[PF_SLOT + 3] = two_pass ? (size_t)B * H * QL * 8 : 0;
    sbytes[PF_SLOT + 4] = use_vmc ? (size_t)B * G * QL * D * 4 : 0;
    sbytes[PF_SLOT + 5] = topk_rows ? (size_t)B * H * QL * 4 : 0;
    /* top-k's k-th largest pass. Row kernel: a row of kv_len scores per work-item, at most ~64 MB
     * of them. Tiled kernel: the scores of a slice of query tiles (32 rows each, every KV head),
     * at most ~256 MB and half the largest allocation: at 8K keys 32 of the 1024 tiles, so 64
     * launches more. */
    const size_t row_bytes = (size_t)B * G * kth_hb * KL * 4, tile_bytes = bg * 32u * KL * 4;
    size_t n_slots = ((size_t)64 << 20) / (row_bytes ? row_bytes : 1);
    n_slots = n_slots < 1 ? 1 : n_slots > (size_t)QL ? (size_t)QL : n_slots;
    size_t slice_cap = (size_t)256 << 20;
    if (ctx->info.max_mem_alloc_size / 2 < slice_cap)
        slice_cap = (size_t)(ctx->info.max_mem_alloc_size / 2);
    size_t n_slice = slice_cap / tile_bytes;
    n_slice = n_slice < 1 ? 1 : n_slice > nqt ? nqt : n_slice;
    sbytes[PF_SLOT + 6] = !topk_rows ? 0 : rows ? n_slots * row_bytes : n_slice * tile_bytes;
    tt__scratch_set scr;
    memset(&scr, 0, sizeof scr);
    if (st == TT_SUCCESS)
        st = tt__scratch_acquire(ctx, queue, sbytes, TT_SCRATCH_SLOTS, &scr);
    const cl_mem lay = scr.mem[PF_SLOT], thetas = scr.mem[PF_SLOT + 1];
    const cl_mem dhats = scr.mem[PF_SLOT + 2], rowstat = scr.mem[PF_SLOT + 3];
    const cl_mem vmean = scr.mem[PF_SLOT + 4], kth = scr.mem[PF_SLOT + 5];
    const cl_mem kth_scores = scr.mem[PF_SLOT + 6];
    /* In an in-order queue commands follow each other: the caller's wait list goes to the first
     * one and nothing else waits on events (explicit waits cost ~40 us each on the H200, see
     * decode.c). Out of order, every kernel waits for what it reads. */
    cl_command_queue_properties qprops = 0;
    clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qprops, &qprops, NULL);
    const int chain = (qprops & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) != 0;
    cl_event uploaded = NULL; /* out of order: what the first kernel waits for */
    void *lay_copy = st == TT_SUCCESS ? malloc(sizeof plan->layout) : NULL;
    if (st == TT_SUCCESS && !lay_copy)
        st = tt__fail(ctx, TT_OUT_OF_HOST_MEMORY, "prefill: out of host memory");
    if (st == TT_SUCCESS) {
        memcpy(lay_copy, plan->layout, sizeof plan->layout);
        const cl_mem dst[3] = {lay, thetas, dhats};
        void *owned[3] = {lay_copy, th, dh};
        st = tt__scratch_upload(ctx, queue, chain, 3, dst, owned, &sbytes[PF_SLOT], num_wait,
                                wait_list, &uploaded);
        th = dh = NULL;
    }
    free(th);
    free(dh);
    /* Each kernel after the first waits for the one before (out of order) or follows it (in
     * order); `last` is the latest launch's event. */
    cl_event last = NULL;
#define NEXT_NW (last ? (cl_uint)chain : (uploaded ? 1u : 0u))
#define NEXT_WL (last ? (chain ? &last : NULL) : (uploaded ? &uploaded : NULL))
#define LAUNCHED(ev)                                                                           \
    do {                                                                                       \
        if (last)                                                                              \
            clReleaseEvent(last);                                                              \
        last = (ev);                                                                           \
    } while (0)
    cl_kernel ka = NULL, kv = NULL, kk = NULL, kp = NULL;
    cl_event ev = NULL;
    /* the running V means (CPUs: a work-item per KV head over whole rows, tt_vmean_rows) */
    if (st == TT_SUCCESS && use_vmc &&
        !(st = tt__create_kernel(ctx, prog, rows ? "tt_vmean_rows" : "tt_vmean", &kv))) {
        const int have = vsum != NULL;
        const void *val[] = {&v->buf, &lay, &G, &QL, &KL, &B, &vsum, &have, &vmean};
        const size_t sz[] = {M_, M_, I_, I_, I_, I_, M_, I_, M_};
        if (!(st = set_all(ctx, kv, 9, sz, val)) &&
            !(st = launch(ctx, queue, kv, 0, rows ? 1 : (size_t)(D + PF_NT - 1) / PF_NT * PF_NT,
                          bg, rows ? 1 : PF_NT, NEXT_NW, NEXT_WL, &ev)))
            LAUNCHED(ev);
    }
    const float scale = p->scale > 0 ? p->scale : 1.0f / sqrtf((float)D);
    /* top-k on the row kernel: each row's k-th largest score, which pass 1 reads in place of θ */
    if (st == TT_SUCCESS && topk_rows && rows &&
        !(st = tt__create_kernel(ctx, prog, "tt_pf_rows_kth", &kk))) {
        const int ns = (int)n_slots;
        const void *val[] = {&q->buf, &k->buf, &lay, &H, &QL, &KL, &scale, &k_eff, &ns,
                             &kth_scores, &kth};
        const size_t sz[] = {M_, M_, M_, I_, I_, I_, F_, I_, I_, M_, M_};
        const size_t gx = (n_slots + PF_LQ - 1) / PF_LQ * PF_LQ;
        if (!(st = set_all(ctx, kk, 11, sz, val)) &&
            !(st = launch(ctx, queue, kk, 0, gx, bg, PF_LQ, NEXT_NW, NEXT_WL, &ev)))
            LAUNCHED(ev);
    }
    if (st == TT_SUCCESS)
        st = tt__create_kernel(ctx, prog, attn_name, &ka);
    const int mode = (int)p->mode, place = (int)p->placement, sdc = (int)p->sdc;
    const int vmc = use_vmc;
    const float lambda = p->sdc_lambda;
    /* top-k on the tiled kernel: per slice of query tiles, pass 2 stores their scores (in
     * rowstat's place) and tt_pf_kth_select turns each row into its k-th largest */
    if (st == TT_SUCCESS && topk_rows && !rows && kth_own)
        st = tt__create_kernel(ctx, kprog, "tt_pf_attn", &kp);
    if (st == TT_SUCCESS && topk_rows && !rows &&
        !(st = tt__create_kernel(ctx, kprog, "tt_pf_kth_select", &kk))) {
        const cl_kernel ks = kth_own ? kp : ka; /* tt_pf_attn, storing scores in pass 2 */
        for (size_t qt0 = 0; qt0 < nqt && st == TT_SUCCESS; qt0 += n_slice) {
            const size_t cnt = nqt - qt0 < n_slice ? nqt - qt0 : n_slice;
            const int pass = 2, first = (int)qt0;
            const void *va[] = {&q->buf, &k->buf, &v->buf, &lay, &H, &QL, &KL, &scale, &pass,
                                &mode, &place, &sdc, &lambda, &vmc, &k_eff, &onepass, &kth,
                                &dhats, &kth_scores, &vmean, &o->buf, &stats, &B};
            const size_t sa[] = {M_, M_, M_, M_, I_, I_, I_, F_, I_, I_, I_, I_, F_, I_, I_, I_,
                                 M_, M_, M_, M_, M_, M_, I_};
            const void *vs[] = {&kth_scores, &H, &QL, &KL, &k_eff, &first, &kth};
            const size_t ss[] = {M_, I_, I_, I_, I_, I_, M_};
            if (!(st = set_all(ctx, ks, 23, sa, va)) &&
                !(st = launch(ctx, queue, ks, qt0 * PF_NT, cnt * PF_NT, bg, PF_NT, NEXT_NW,
                              NEXT_WL, &ev)))
                LAUNCHED(ev);
            if (st == TT_SUCCESS && !(st = set_all(ctx, kk, 7, ss, vs)) &&
                !(st = launch(ctx, queue, kk, 0, cnt * 32u * PF_NT, bg, PF_NT, NEXT_NW, NEXT_WL,
                              &ev)))
                LAUNCHED(ev);
        }
    }
    for (int pass = two_pass ? 0 : 1; pass <= 1 && st == TT_SUCCESS; pass++) {
        const void *val[] = {&q->buf, &k->buf, &v->buf, &lay, &H, &QL, &KL, &scale, &pass, &mode,
                             &place, &sdc, &lambda, &vmc, &k_eff, &onepass,
                             topk_rows ? &kth : &thetas, &dhats,
                             &rowstat, &vmean, &o->buf, &stats, &B};
        const size_t sz[] = {M_, M_, M_, M_, I_, I_, I_, F_, I_, I_, I_, I_, F_, I_, I_, I_,
                             M_, M_, M_, M_, M_, M_, I_};
        if ((st = set_all(ctx, ka, 23, sz, val)))
            break;
        const size_t items = (size_t)(QL + pq - 1) / pq;
        const size_t gx = rows ? (items + PF_LQ - 1) / PF_LQ * PF_LQ
                          : fa ? (size_t)(QL + PF_FA_BQ(group) - 1) / PF_FA_BQ(group) * PF_NT
                               : nqt * PF_NT;
        if (!(st = launch(ctx, queue, ka, 0, gx, bg, rows ? PF_LQ : PF_NT, NEXT_NW, NEXT_WL,
                          &ev)))
            LAUNCHED(ev);
    }
#undef NEXT_NW
#undef NEXT_WL
#undef LAUNCHED
    if (st == TT_SUCCESS && event) {
        *event = last;
        clRetainEvent(*event);
    }
    if (last)
        clReleaseEvent(last);
    tt__put_kernel(ctx, prog, attn_name, ka);
    tt__put_kernel(ctx, prog, rows ? "tt_vmean_rows" : "tt_vmean", kv);
    tt__put_kernel(ctx, rows ? prog : kprog, rows ? "tt_pf_rows_kth" : "tt_pf_kth_select", kk);
    tt__put_kernel(ctx, kprog, "tt_pf_attn", kp);
    if (uploaded)
        clReleaseEvent(uploaded);
    tt__scratch_release(ctx, &scr);
    clReleaseProgram(prog);
    clReleaseProgram(kprog);
    return st;
}

/* decode.c — host side of kernels/decode/: the split-KV decode path for calls with one query row
 * per head. Picks the vector width and chunk length, uploads the per-head thresholds, and chains
 * tt_dec_chunk → (tt_select for top-k) → (tt_dec_pv for cuts that need the row max/sum) →
 * tt_dec_merge with events. Dense and pre-softmax Top-θ take two launches. */
#include "decode.h"
#include "scratch.h"
#include "tune_db.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RI_N 5

static int pick_vec(int d, int wg)
{
    for (int vec = 8; vec > 1; vec /= 2)
        if (d % vec == 0 && d / vec <= wg)
            return vec;
    return 1;
}

/* Local memory of tt_dec_chunk, mirroring decode.cl: q, scores, scan, index list, and the
 * scratch its phases share (the coalesced K path's partial sums when kcu > 0, the reductions,
 * the P·V partials of up to 4 heads at a time). */
static size_t local_bytes(int d, int group, int wg, int ch, int vec, int kcu)
{
    const size_t tpr = (size_t)(d / vec), lanes = (size_t)wg / tpr;
    size_t kp = kcu > 0 ? tpr * ((size_t)group * lanes * (size_t)kcu + 1) : 1;
    kp = kp > 6u * (size_t)wg ? kp : 6u * (size_t)wg; /* the tensor-core path's (emulated) share */
    const size_t rseg = wg >= 8 ? 8 : (size_t)wg, rstr = (size_t)wg + rseg;
    const size_t red = 3u * (size_t)group * (rstr + rseg);
    const size_t vred = (size_t)(group < 4 ? group : 4) * lanes * (size_t)d;
    size_t uni = kp > vred ? kp : vred;
    uni = uni > red ? uni : red;
    return 4u * ((size_t)group * d + (size_t)group * ch + rstr + rseg + ch + uni);
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
        part_union, rowinfo, thetas, dhats, vmean, done;
} dec_bufs;

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

/* TT_PROFILE=1 (developer knob, profiling queues only): when the call's last command completes,
 * prints each decode kernel's device time and the gaps between them to stderr. A callback, not
 * a wait, so callers that hold the queue behind a user event (the bench's gate) cannot deadlock. */
typedef struct {
    int n;
    cl_event ev[8];
    const char *name[8];
} dec_prof;

static void CL_CALLBACK dec_prof_done(cl_event last, cl_int status, void *user)
{
    (void)last;
    dec_prof *pr = user;
    cl_ulong t0 = 0, prev = 0;
    char line[512];
    int len = snprintf(line, sizeof line, "decode profile:");
    for (int i = 0; i < pr->n; i++) {
        cl_ulong a = 0, b = 0;
        clGetEventProfilingInfo(pr->ev[i], CL_PROFILING_COMMAND_START, sizeof a, &a, NULL);
        clGetEventProfilingInfo(pr->ev[i], CL_PROFILING_COMMAND_END, sizeof b, &b, NULL);
        if (i == 0)
            t0 = prev = a;
        if (status == CL_COMPLETE && len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, " %s %.1f us (gap %.1f)",
                            pr->name[i], (double)(b - a) * 1e-3, (double)(a - prev) * 1e-3);
        prev = b;
        clReleaseEvent(pr->ev[i]);
    }
    fprintf(stderr, "%s, total %.1f us\n", line, (double)(prev - t0) * 1e-3);
    free(pr);
}

static void dec_profile(const cl_event *ev, const char *const *names, int n)
{
    const char *e = getenv("TT_PROFILE");
    dec_prof *pr = e && *e == '1' && n > 0 ? calloc(1, sizeof *pr) : NULL;
    if (!pr)
        return;
    pr->n = n;
    for (int i = 0; i < n; i++) {
        pr->ev[i] = ev[i];
        pr->name[i] = names[i];
        clRetainEvent(ev[i]);
    }
    if (clSetEventCallback(ev[n - 1], CL_COMPLETE, dec_prof_done, pr) != CL_SUCCESS) {
        for (int i = 0; i < n; i++)
            clReleaseEvent(ev[i]);
        free(pr);
    }
}

int tt__decode_gpu_chunk(int ch, int wg, size_t compute_units, size_t seqs, size_t kv_len)
{
    const size_t cus = compute_units ? compute_units : 1;
    /* Twice the chunk while the launch keeps at least 4 work-groups per compute unit: fewer,
     * longer chunks amortise each chunk's reductions and compaction once the device is full
     * (H200, batch 8: 32K keys 0.335 vs 0.350 ms, 128K 1.19 vs 1.26 ms), but with few
     * sequences they leave it half empty (32K keys, batch 1: 0.081 vs 0.070 ms). */
    if (seqs * ((kv_len + 2u * (size_t)ch - 1) / (2u * (size_t)ch)) >= 4u * cus)
        return 2 * ch;
    /* Half the chunk (down to one key per work-item) while the launch has fewer work-groups
     * than compute units: short contexts at batch 1 otherwise leave most of the device idle.
     * H100, 8 KV heads, batch 1, dense (docs/PERFORMANCE.md, session of 2026-12-05, eighth):
     * 1K keys 0.0292 -> 0.0217 ms, 4K 0.0299 -> 0.0246, 8K 0.0328 -> 0.0281; at 16K (256
     * work-groups) shorter chunks were slower. */
    while (ch / 2 >= wg && seqs * ((kv_len + (size_t)ch - 1) / (size_t)ch) < cus)
        ch /= 2;
    return ch;
}

tt_status tt__decode_enqueue(tt_context *ctx, cl_command_queue queue, const tt_attn_shape *s,
                             const tt_attn_params *p, const tt__plan *plan, const tt_tensor *q,
                             const tt_tensor *k, const tt_tensor *v, const tt_tensor *o,
                             cl_mem vsum, cl_mem stats, cl_uint num_wait,
                             const cl_event *wait_list, cl_event *event)
{
    const int D = s->head_dim, G = s->n_kv_heads, H = s->n_heads, B = s->batch;
    const int wg = plan->wg, group = plan->group;
    const char *evec = getenv("TT_DEC_VEC"); /* experiments: a narrower vector (more threads per row) */
    const int narrow = evec ? atoi(evec) : 0;
    int vec = pick_vec(D, wg);
    if (narrow > 0 && narrow < vec && D % narrow == 0 && D / narrow <= wg)
        vec = narrow;
    int ch = ctx->info.local_mem_is_dedicated ? 256 : 1024;
    tt__tune_params tp; /* the tuning database's chunk length wins over the built-in guess */
    if (tt__tune_context(ctx, &tp) == TT_SUCCESS && tp.chunk > 0)
        ch = tp.chunk;
    const char *e = getenv("TT_DEC_CH");
    if (e && atoi(e) > 0) {
        ch = atoi(e);
    } else if (ctx->info.type & CL_DEVICE_TYPE_GPU) {
        ch = tt__decode_gpu_chunk(ch, wg, ctx->info.compute_units, (size_t)B * G,
                                  (size_t)s->kv_len);
    }
    ch = (ch + wg - 1) / wg * wg;
    /* K rows read by D/VEC threads each (coalesced, KCOAL) on GPUs, where a thread per row
     * scatters each warp load over as many memory lines as it has threads (H200, 32K keys,
     * batch 8: 0.45 vs 0.60 ms); on CPUs a thread per row vectorises better (PoCL, 8K: 27 vs
     * 19 ms). TT_DEC_KCOAL=0/1 overrides. KCU rows per thread in flight, halved until the
     * partial sums fit local memory at the chosen chunk length. */
    const char *ek = getenv("TT_DEC_KCOAL");
    int kcu = (ek && *ek ? *ek == '1' : (ctx->info.type & CL_DEVICE_TYPE_GPU) != 0) ? 8 : 0;
    const char *eku = getenv("TT_DEC_KCU");
    if (kcu && eku && atoi(eku) > 0)
        kcu = atoi(eku);
    const cl_ulong lmem = ctx->info.local_mem_size;
    while (kcu > 1 && local_bytes(D, group, wg, ch, vec, kcu) > lmem)
        kcu /= 2;
    if (kcu && local_bytes(D, group, wg, wg, vec, kcu) > lmem)
        kcu = 0;
    while (ch > wg && local_bytes(D, group, wg, ch, vec, kcu) > lmem)
        ch -= wg;
    TT_RETURN_IF(ctx, local_bytes(D, group, wg, ch, vec, kcu) > lmem, TT_ERR_LOCAL_MEMORY,
                 "decode: needs %zu bytes of local memory (head size %d, %d heads per group), the "
                 "device has %llu",
                 local_bytes(D, group, wg, ch, vec, kcu), D, group, (unsigned long long)lmem);
    int pvu = ctx->info.type & CL_DEVICE_TYPE_GPU ? 8 : 4; /* V rows in flight per thread */
    const char *ep = getenv("TT_DEC_PVU"); /* experiments: V / K rows in flight per thread */
    if (ep && atoi(ep) > 0)
        pvu = atoi(ep);
    const int nc = (s->kv_len + ch - 1) / ch;
    const size_t rseg = wg >= 8 ? 8u : (size_t)wg; /* RED_N(3 * GROUP) of decode.cl */
    const size_t merge_red = 3u * (size_t)group * ((size_t)wg + 2u * rseg);
    TT_RETURN_IF(ctx, ((size_t)group * nc + merge_red) * 4u > ctx->info.local_mem_size,
                 TT_ERR_LOCAL_MEMORY,
                 "decode: %d chunks of %d keys need more local memory in the merge than the device "
                 "has; raise the chunk length (TOPTHETA_TUNE=CHUNK=...)", nc, ch);
    const int kind = p->mode == TT_MODE_DENSE || s->kv_len <= plan->k_eff || plan->k_eff <= 0
                         ? 0
                         : p->mode == TT_MODE_TOPK ? 2 : 1;
    const int store = kind == 2 || (kind == 1 && p->placement != TT_PLACE_PRE);
    const int use_vmc = p->vmc && p->mode != TT_MODE_DENSE;

    /* Aligned vector loads when every K/V row starts on a multiple of VEC elements (buffer bases
     * are aligned far beyond that by OpenCL). TT_DEC_DEFS appends build options (experiments). */
    int aligned = vec > 1 && tt__plan_kv_aligned(plan, (unsigned)vec);
    const char *al = getenv("TT_DEC_ALIGNED");
    if (al && *al == '0')
        aligned = 0;
    /* The K partial sums meet through warp shuffles instead of local memory and two barriers per
     * round where the device runs them (shfl.c), the TPR threads of a row share a warp and
     * warps are full. H200, side by side in one call (TT_DEC_SHFL=0 the other): 32K keys batch
     * 8 dense 0.326 vs 0.330 ms, Top-θ 0.238 vs 0.241; 128K batch 8 1.155 vs 1.191, 0.800 vs
     * 0.843; batch 1 within the noise (16K 0.0605 vs 0.0576 ms, 32K 0.0728 vs 0.0748). */
    const int tpr = D / vec;
    const int shfl_ok = kcu > 0 && (tpr & (tpr - 1)) == 0;
    const int shfl = shfl_ok && wg % 32 == 0 && tpr <= 32 && tt__warp_shuffle(ctx);
    /* Tests: the shuffle path's bookkeeping with the exchange through local memory, so that it
     * runs (and is checked) on devices without the PTX shuffles, e.g. in CI on PoCL. */
    const char *esl = getenv("TT_DEC_SHFL_LOCAL");
    const int shfl_local = !shfl && shfl_ok && esl && *esl == '1';
    /* K scores on tensor cores (mma.c) where the device runs PTX's mma.m16n8k16: fp16 K whose
     * rows start on 16-byte boundaries, head sizes 32, 64, 96 or 128 (larger ones would hold
     * q's fragments and the K tiles in more registers than measured), at most 8 query
     * heads per KV head, whole warps. H200, 32K keys, batch 8, in one call: see
     * docs/PERFORMANCE.md, session of 2026-12-04. TT_DEC_MMA_LOCAL=1 runs the same bookkeeping
     * with the multiply-add emulated through local memory (tests on any device). */
    const int al8 = s->kv_dtype == TT_DTYPE_F16 && tt__plan_kv_aligned(plan, 8);
    const int mma_fits = al8 && D % 32 == 0 && D <= 128 && group <= 8 && wg % 32 == 0;
    const char *eml = getenv("TT_DEC_MMA_LOCAL");
    const int mma = mma_fits && !(eml && *eml == '1') && tt__tensor_mma(ctx);
    const int mma_local = mma_fits && !mma && eml && *eml == '1';
    /* Tiles of 16 keys per warp and round in the tensor-core path: all their K loads are in
     * flight together, TU·D/4 registers. H200, 32K keys, batch 8: 1 / 2 / 4 tiles dense 0.3066 /
     * 0.3011 / 0.3008 ms, Top-θ 0.2172 / 0.2114 / 0.2103 ms (one call). H100, 2026-12-07
     * (eighteenth): 2 tiles a tie at the 128-register cap (0.3681 / 0.2428 vs 0.3688 / 0.2418).
     * TT_DEC_MMATU=N overrides (experiments). */
    int mma_tu = 4;
    const char *etu = getenv("TT_DEC_MMATU");
    if (etu && atoi(etu) > 0 && atoi(etu) <= 8)
        mma_tu = atoi(etu);
    /* The merge inside tt_dec_chunk (DEC_FUSE, decode.cl): one launch less, and the merges overlap
     * the other work-groups' loads. Default where the device runs PTX and takes NVIDIA's build
     * options, built with -cl-nv-maxrregcount=128: without that cap the merge's registers cost
     * occupancy and it lost at batch 8 (H100, 2026-12-07: 32K b8 dense 0.383 -> 0.409 ms). With
     * it (H100, 2026-12-07, seventeenth, one call, fused+cap / not fused): 32K b8 dense 0.3758 /
     * 0.3823 ms, Top-θ 0.2480 / 0.2548; 16K b1 0.0430 / 0.0462, 0.0300 / 0.0344; 1K b1 0.0174 /
     * 0.0213; selftest 788 / 0 (docs/PERFORMANCE.md). TT_DEC_FUSE=0/1 overrides. It
     * needs one work-group's fenced writes to be seen by another that follows it through an
     * atomic counter, which devices that run PTX give with membar.gl (the shuffle probe says
     * so) and coherent CPU devices with OpenCL's global fence (PoCL: checked in CI). Not for the
     * two-pass paths (store), nor when the merge's rescale factors (GROUP per chunk) would not
     * fit the score buffer it reuses (more chunks than CH). */
    /* CPU devices run the first pass as tt_dec_rows (decode_rows.cl): a work-item per chunk and
     * (sequence, KV head), the group's heads in vectors, no local memory or barrier, the same
     * partials for tt_dec_pv and tt_dec_merge. TT_DEC_ROWS=0/1 overrides (CI checks both). */
    const char *erw = getenv("TT_DEC_ROWS");
    const int rows_k =
        erw && *erw ? *erw == '1' : (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    const char *ef = getenv("TT_DEC_FUSE");
    const int nv_opts = ctx->nv_options;
    const int want_fuse = ef && *ef ? *ef == '1' : nv_opts && tt__warp_shuffle(ctx);
    const int fuse = store || rows_k || nc > ch || !want_fuse ? 0
                     : tt__warp_shuffle(ctx)                 ? 2
                                                             : 1;
    /* The register cap that makes the fused merge pay (above): without it the merge's registers
     * cost the chunk kernel occupancy. Lower caps, for a fifth or sixth work-group per
     * multiprocessor, spill and lose (H100, 32K keys batch 8, dense / Top-θ: 128 0.3688 / 0.2418
     * ms; 96 0.5026 / 0.3578; 96 with 2 tiles 0.4341 / 0.2953; 80 with 1 tile 0.5165 / 0.3244;
     * docs/PERFORMANCE.md, eighteenth). TT_DEC_MAXREG=N overrides (experiments). */
    int maxreg = 128;
    const char *emr = getenv("TT_DEC_MAXREG");
    if (emr && atoi(emr) >= 32 && atoi(emr) <= 255)
        maxreg = atoi(emr);
    char cap[40] = "";
    if (fuse == 2 && nv_opts)
        snprintf(cap, sizeof cap, "-cl-nv-maxrregcount=%d ", maxreg);
    /* The CPU forms of decode.cl (DEC_CPU): P·V lanes over blocks of consecutive kept rows, its
     * loops unrolled, the two-phase kernel's row (max, sum) merged once per work-group. PoCL,
     * 8K keys, batch 8, with the thread-per-row K pass unrolled too: dense 60 → 35 ms, Top-θ
     * 36 → 21 ms; 128K top-k: tt_dec_pv 100 → 33 ms. GPUs keep the forms timed on the H200.
     * TT_DEC_CPU=0/1 overrides (CI checks the GPUs' forms on PoCL). */
    const char *ecpu = getenv("TT_DEC_CPU");
    const int cpu = ecpu && *ecpu ? *ecpu == '1' : (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    /* Work-groups per (sequence, KV head) in the merge (decode_merge.cl): enough that a thread
     * walks at most 8 chunks (one latency) and more multiprocessors share the loads. Timed on
     * the H100 against one per KV head: 8.3 -> 8.3 us at 16K keys batch 1, 11.3 -> 10.3 us at
     * 32K batch 8 (the merge's time is mostly its launch and barriers, docs/PERFORMANCE.md);
     * never slower. CPU forms keep one (their work-items run one after another anyway).
     * TT_DEC_MSLICE=N overrides (tests). */
    const int munits = group * (D % 4 == 0 ? D / 4 : D);
    int mslices = cpu ? 1 : (int)(((size_t)munits * (size_t)nc + (size_t)wg * 8u - 1) / ((size_t)wg * 8u));
    const char *ems = getenv("TT_DEC_MSLICE");
    if (ems && atoi(ems) > 0)
        mslices = atoi(ems);
    mslices = mslices < 1 ? 1 : mslices > munits ? munits : mslices;
    /* Launches that fill the device several times over: the first wave's work-groups that
     * share a multiprocessor start 5 us apart (DEC_STAGGER, decode.cl), so that their chunk
     * epilogues, where nothing loads, do not fall together wave after wave. H100, one call
     * (docs/PERFORMANCE.md, session of 2026-12-05, eighth): 32K keys batch 8 dense 0.3901 ->
     * 0.3817 ms, Top-θ 0.2650 -> 0.2556; 128K 1.4675 -> 1.4592, 0.9391 -> 0.9222; a single wave
     * (16K, batch 1) got slower. PTX's nanosleep needs sm_70: devices that passed the mma.sync
     * probe (sm_80) have it. TT_DEC_STAGGER=NS overrides (0: off). */
    const size_t cus = ctx->info.compute_units ? ctx->info.compute_units : 1;
    int stagger = mma && (size_t)nc * B * G > 4u * cus ? 5000 : 0;
    const char *est = getenv("TT_DEC_STAGGER");
    if (mma && est && *est)
        stagger = atoi(est) > 0 ? atoi(est) : 0;
    char stag[64] = "";
    if (stagger)
        snprintf(stag, sizeof stag, "-DDEC_STAGGER=%d -DDEC_CUS=%zu ", stagger, cus);
    const char *defs = getenv("TT_DEC_DEFS");
    char opts[560];
    snprintf(opts, sizeof opts,
             "-DD=%d -DGROUP=%d -DWG=%d -DKV_F16=%d -DCH=%d -DVEC=%d -DALIGNED=%d -DDEC_MAXH=%d "
             "-DKCOAL=%d -DKCU=%d -DPVU=%d -DDEC_SHFL=%d -DDEC_SHFL_LOCAL=%d -DDEC_MMA=%d "
             "-DDEC_MMA_LOCAL=%d -DMMA_TU=%d -DDEC_FUSE=%d -DDEC_CPU=%d %s%s%s",
             D, group, wg, s->kv_dtype == TT_DTYPE_F16, ch, vec, aligned,
             ctx->max_param_size >= 1024 ? 64 : 1, kcu > 0, kcu > 0 ? kcu : 1, pvu,
             shfl || shfl_local, shfl_local, mma || mma_local, mma_local, mma_tu, fuse, cpu,
             stag, cap, defs ? defs : "");
    const char *srcs[12];
    int n_src = 0;
    if (mma)
        srcs[n_src++] = "mma.cl";
    if (mma_local)
        srcs[n_src++] = "mma_local.cl";
    if (shfl)
        srcs[n_src++] = "shfl.cl";
    srcs[n_src++] = "decode_defs.cl", srcs[n_src++] = "decode_scores.cl";
    srcs[n_src++] = "decode.cl", srcs[n_src++] = "decode_merge.cl";
    if (rows_k)
        srcs[n_src++] = "rows.cl", srcs[n_src++] = "decode_rows.cl";
    srcs[n_src++] = "select.cl", srcs[n_src++] = "vmean.cl";
    cl_program prog = NULL;
    tt_status st = tt__get_program(ctx, srcs, n_src, opts, &prog);
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
    /* θ, D̂ and the layout go by value (dec_args in decode.cl) when they fit the device's
     * parameter space; only calls with more heads than that upload them. */
    const int maxh = ctx->max_param_size >= 1024 ? 64 : 1;
    cl_uint argv_[16 + 2 * 64];
    const size_t args_size = (16 + 2 * (size_t)maxh) * 4;
    memcpy(argv_, plan->layout, sizeof plan->layout);
    for (int h = 0; h < H && h < maxh; h++) {
        memcpy(&argv_[16 + h], &th[h], 4);
        memcpy(&argv_[16 + maxh + h], &dh[h], 4);
    }
    const size_t rows = (size_t)B * H, nchk = (size_t)nc;
    dec_bufs b = {0};
    /* Partials and scores: reused across calls on the same in-order queue (scratch.c); the
     * layout (tt_select and tt_vmean read it from memory) and, for more heads than the parameter
     * space holds, θ and D̂ go to slots 12-14 by non-blocking writes, as in prefill.c. */
    const size_t sbytes[TT_SCRATCH_SLOTS] = {
        store ? rows * s->kv_len * 4 : 0, rows * nchk * 4, rows * nchk * 4,
        rows * nchk * D * 4, rows * nchk * 4, rows * nchk * 4, rows * nchk * 4, rows * nchk * 4,
        (size_t)B * G * nchk * 4, kind == 2 ? rows * RI_N * 4 : 0,
        use_vmc && !vsum ? (size_t)B * G * D * 4 : 0, fuse ? (size_t)B * G * 4 : 0,
        kind == 2 || (use_vmc && !vsum) ? sizeof plan->layout : 0, H > maxh ? (size_t)H * 4 : 0,
        H > maxh ? (size_t)H * 4 : 0};
    tt__scratch_set scr;
    if (st == TT_SUCCESS)
        st = tt__scratch_acquire(ctx, queue, sbytes, TT_SCRATCH_SLOTS, &scr);
    else
        memset(&scr, 0, sizeof scr);
    cl_mem *const sm = scr.mem;
    b.scores = sm[0], b.part_m = sm[1], b.part_z = sm[2], b.part_acc = sm[3], b.part_ms = sm[4];
    b.part_ds = sm[5], b.part_dm = sm[6], b.part_kept = sm[7], b.part_union = sm[8];
    b.rowinfo = sm[9], b.vmean = sm[10], b.done = sm[11];
    b.lay = sm[12], b.thetas = sm[13], b.dhats = sm[14];
    /* In an in-order queue the kernels follow each other anyway; explicit event waits between
     * them cost a host round trip on some drivers (measured ~40 us gaps on the H200). */
    cl_command_queue_properties qprops = 0;
    clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qprops, &qprops, NULL);
    const int chain = (qprops & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) != 0;
/* The wait list for the next kernel: the previous one's event, or none (a non-NULL list with a
 * count of 0 is CL_INVALID_EVENT_WAIT_LIST on strict implementations). */
#define PREV (chain ? &ev[n_ev - 1] : NULL)

    cl_event ev[8];
    const char *ev_name[8];
    int n_ev = 0;
    if (st == TT_SUCCESS && (b.lay || b.thetas)) {
        void *owned[3] = {b.lay ? malloc(sizeof plan->layout) : NULL,
                          b.thetas ? malloc((size_t)H * 4) : NULL,
                          b.dhats ? malloc((size_t)H * 4) : NULL};
        if ((b.lay && !owned[0]) || (b.thetas && (!owned[1] || !owned[2]))) {
            st = tt__fail(ctx, TT_OUT_OF_HOST_MEMORY, "decode: out of host memory");
            free(owned[0]), free(owned[1]), free(owned[2]);
        } else {
            if (owned[0])
                memcpy(owned[0], plan->layout, sizeof plan->layout);
            if (owned[1])
                memcpy(owned[1], th, (size_t)H * 4), memcpy(owned[2], dh, (size_t)H * 4);
            const cl_mem dst[3] = {b.lay, b.thetas, b.dhats};
            cl_event up = NULL;
            st = tt__scratch_upload(ctx, queue, chain, 3, dst, owned, &sbytes[12], num_wait,
                                    wait_list, &up);
            if (up)
                ev[n_ev] = up, ev_name[n_ev++] = "upload";
        }
    }

    cl_kernel kc = NULL, ksel = NULL, kpv = NULL, km = NULL, kvm = NULL;
    const float scale = p->scale > 0 ? p->scale : 1.0f / sqrtf((float)D);
    const int kv_len = s->kv_len, one = 1, zero = 0, mode = (int)p->mode, place = (int)p->placement;
    const int sdc = (int)p->sdc, have_vsum = vsum != NULL, k_eff = plan->k_eff;
    /* Only these read the dropped mass; elsewhere the kernels skip a dropped score's exp. */
    const int need_dm = (kind == 1 && p->placement == TT_PLACE_POST) || p->sdc == TT_SDC_EXACT;
    const float lambda = p->sdc_lambda;
    const cl_mem null_mem = NULL;
    const size_t bg = (size_t)B * G;
    /* The fused merge's counters return to 0 at the end of every launch; a new buffer starts so. */
    if (st == TT_SUCCESS && b.done && (scr.fresh & 1u << 11)) {
        const cl_uint zero_u = 0;
        cl_int err = clEnqueueFillBuffer(queue, b.done, &zero_u, sizeof zero_u, 0, bg * 4,
                                         n_ev ? (cl_uint)chain : num_wait,
                                         n_ev ? PREV : wait_list, &ev[n_ev]);
        if (err != CL_SUCCESS)
            st = tt__fail(ctx, (tt_status)err, "decode: clearing the merge counters: %s",
                          tt_status_name(err));
        else
            ev_name[n_ev++] = "clear";
    }
    /* VMC without a running sum: O(n·d) means, once (CPUs: a work-item per KV head, rows.cl) */
    const char *kvm_name = rows_k ? "tt_vmean_rows" : "tt_vmean";
    if (st == TT_SUCCESS && b.vmean) {
        if (!(st = tt__create_kernel(ctx, prog, kvm_name, &kvm))) {
            ARGS(&v->buf, &b.lay, &G, &one, &kv_len, &B, &null_mem, &zero, &b.vmean)
            size_t sz[] = {M_, M_, I_, I_, I_, I_, M_, I_, M_};
            (void)sizes_;
            st = set_args(ctx, kvm, kvm_name, 9, sz, vals_);
        }
        if (!st)
            st = launch(ctx, queue, kvm, kvm_name, rows_k ? 1 : (size_t)(D + wg - 1) / wg * wg,
                        bg, rows_k ? 1 : wg, n_ev ? (cl_uint)chain : num_wait,
                        n_ev ? PREV : wait_list, &ev[n_ev]);
        if (!st)
            ev_name[n_ev++] = kvm_name;
    }
    const cl_mem vsum_adv = use_vmc ? vsum : NULL; /* advanced by the chunk holding row n-1 */
    const char *kc_name = rows_k ? "tt_dec_rows" : "tt_dec_chunk";
    if (st == TT_SUCCESS && !(st = tt__create_kernel(ctx, prog, kc_name, &kc))) {
        ARGS(&q->buf, &k->buf, &v->buf, argv_, &H, &kv_len, &nc, &scale, &store, &kind, &place,
             &b.thetas, &vsum_adv, &b.scores, &b.part_m, &b.part_z, &b.part_acc, &b.part_ms,
             &b.part_ds, &b.part_dm, &b.part_kept, &b.part_union, &sdc, &lambda, &use_vmc,
             &b.dhats, &b.vmean, &o->buf, &stats, &B, &b.done)
        size_t sz[] = {M_, M_, M_, args_size, I_, I_, I_, F_, I_, I_, I_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_,
                       I_, F_, I_, M_, M_, M_, M_, I_, M_};
        (void)sizes_;
        st = set_args(ctx, kc, kc_name, 31, sz, vals_);
        if (!st)
            st = launch(ctx, queue, kc, kc_name, rows_k ? nchk : nchk * wg, bg, rows_k ? 1 : wg,
                        n_ev ? (cl_uint)chain : num_wait, n_ev ? PREV : wait_list,
                        &ev[n_ev]);
        if (!st)
            ev_name[n_ev++] = kc_name;
    }
    if (st == TT_SUCCESS && kind == 2 && !(st = tt__create_kernel(ctx, prog, "tt_select", &ksel))) {
        ARGS(&q->buf, &k->buf, &b.lay, &H, &G, &one, &kv_len, &nc, &ch, &scale, &one, &b.scores,
             &b.part_m, &b.part_z, &mode, &k_eff, &b.thetas, &null_mem, &b.rowinfo)
        size_t sz[] = {M_, M_, M_, I_, I_, I_, I_, I_, I_, F_, I_, M_, M_, M_, I_, I_, M_, M_, M_};
        (void)sizes_;
        st = set_args(ctx, ksel, "tt_select", 19, sz, vals_);
        if (!st)
            st = launch(ctx, queue, ksel, "tt_select", wg, rows, wg, (cl_uint)chain, PREV,
                        &ev[n_ev]);
        if (!st)
            ev_name[n_ev++] = "tt_select";
    }
    const char *kpv_name = rows_k ? "tt_dec_rows_pv" : "tt_dec_pv";
    if (st == TT_SUCCESS && store && !(st = tt__create_kernel(ctx, prog, kpv_name, &kpv))) {
        ARGS(&v->buf, argv_, &H, &kv_len, &nc, &kind, &place, &b.thetas, &b.rowinfo, &b.scores,
             &b.part_m, &b.part_z, &b.part_acc, &b.part_ms, &b.part_ds, &b.part_dm, &b.part_kept,
             &b.part_union, &need_dm)
        size_t sz[] = {M_, args_size, I_, I_, I_, I_, I_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_, M_,
                       I_};
        (void)sizes_;
        st = set_args(ctx, kpv, kpv_name, 19, sz, vals_);
        if (!st)
            st = launch(ctx, queue, kpv, kpv_name, rows_k ? nchk : nchk * wg, bg, rows_k ? 1 : wg,
                        (cl_uint)chain, PREV, &ev[n_ev]);
        if (!st)
            ev_name[n_ev++] = kpv_name;
    }
    if (st == TT_SUCCESS && !fuse && !(st = tt__create_kernel(ctx, prog, "tt_dec_merge", &km))) {
        ARGS(argv_, &H, &kv_len, &nc, &kind, &place, &sdc, &lambda, &use_vmc, &b.thetas, &b.dhats,
             &b.rowinfo, &vsum, &have_vsum, &b.vmean, &b.part_acc, &b.part_ms, &b.part_ds,
             &b.part_dm, &b.part_kept, &b.part_union, &o->buf, &stats, &B, NULL)
        size_t sz[] = {args_size, I_, I_, I_, I_, I_, I_, F_, I_, M_, M_, M_, M_, I_, M_, M_, M_, M_, M_, M_, M_, M_, M_, I_,
                       (size_t)group * nchk * sizeof(float)};
        (void)sizes_;
        st = set_args(ctx, km, "tt_dec_merge", 25, sz, vals_);
        if (!st)
            st = launch(ctx, queue, km, "tt_dec_merge", (size_t)mslices * wg, bg, wg,
                        (cl_uint)chain, PREV, &ev[n_ev]);
        if (!st)
            ev_name[n_ev++] = "tt_dec_merge";
    }
    if (st == TT_SUCCESS)
        dec_profile(ev, ev_name, n_ev);
    if (st == TT_SUCCESS && event) {
        *event = ev[n_ev - 1];
        clRetainEvent(*event);
    }
    for (int x = 0; x < n_ev; x++)
        clReleaseEvent(ev[x]);
    tt__put_kernel(ctx, prog, kc_name, kc);
    tt__put_kernel(ctx, prog, "tt_select", ksel);
    tt__put_kernel(ctx, prog, kpv_name, kpv);
    tt__put_kernel(ctx, prog, "tt_dec_merge", km);
    tt__put_kernel(ctx, prog, kvm_name, kvm);
    tt__scratch_release(ctx, &scr);
    clReleaseProgram(prog);
    return st;
}

/* decode.cl — split-KV (flash-decoding) attention for one query row per head. A work-group takes
 * a chunk of CH keys of one KV head for all GROUP query heads: it loads each K row once
 * (dec_scores, decode_scores.cl), keeps the chunk's scores in local memory, decides per head which
 * are kept, compacts the union of kept keys into an index list and loads only those V rows, once
 * for the group. tt_dec_chunk does it in one pass when the cut needs no row-wide value (dense,
 * pre-softmax θ); otherwise it stores the scores and tt_dec_pv continues after the row max/sum
 * are known. Compile-time parameters and loads: decode_defs.cl (CH keys per chunk, a multiple of
 * WG; VEC 1, 2, 4 or 8; ALIGNED; optional F16CVT, PVU). CPU devices run tt_dec_rows /
 * tt_dec_rows_pv (decode_rows.cl) instead of the two kernels here unless TT_DEC_ROWS=0; the
 * DEC_CPU forms serve that fallback. */
/* Local scratch shared by phases that never overlap (barriers between them): kp while scoring,
 * then the reductions and the P·V partials. */
#define UNI_PV_N MAXI(VRED_N, RED_N(3 * GROUP))
#define UNI_N MAXI(KPART_N, UNI_PV_N)

#define DEC_WG_REDUCE(name, op)                                                                    \
    inline void name(__local float *red, float *val, int nv)                                       \
    {                                                                                              \
        const int t = get_local_id(0);                                                             \
        for (int v = 0; v < nv; v++)                                                               \
            red[v * RSTR + RPOS(t)] = val[v];                                                      \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        for (int x = t; x < nv * RSEG; x += WG) {                                                  \
            __local const float *r = red + (x / RSEG) * RSTR + (x % RSEG) * (SEGL + 1);            \
            float a = r[0];                                                                        \
            for (int i = 1; i < SEGL; i++)                                                         \
                a = op(a, r[i]);                                                                   \
            red[nv * RSTR + x] = a;                                                                \
        }                                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        for (int v = 0; v < nv; v++) {                                                             \
            float a = red[nv * RSTR + v * RSEG];                                                   \
            for (int i = 1; i < RSEG; i++)                                                         \
                a = op(a, red[nv * RSTR + v * RSEG + i]);                                          \
            val[v] = a;                                                                            \
        }                                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    }
#define DEC_ADD(a, b) ((a) + (b))
/* Sum / max of nv per-thread values over the work-group; every thread gets the results. */
DEC_WG_REDUCE(dec_sum, DEC_ADD)
DEC_WG_REDUCE(dec_max, fmax)

/* The chunk's own sums and maxima (the chunk max, the kept sums and counts) through warp
 * shuffles where the device runs them: a butterfly in each warp, one barrier, and every thread
 * folds the NWARP warp results in a fixed order: one barrier and no chain of local reads, where
 * dec_sum / dec_max take three barriers and a 16-long chain. H100, interleaved runs (docs/
 * PERFORMANCE.md, eighteenth): never slower, Top-θ 1-2 % faster at 16K keys batch 1, dense
 * 0.2-0.5 %; the P·V partials' reduction (through uni, below) stays the larger cost.
 * DEC_SHFL_LOCAL runs the same bookkeeping with the exchange through local memory (tests).
 * red holds WG + NWARP·nv floats; -DDEC_WRED=0 turns it off (timing). */
#ifndef DEC_WRED
#define DEC_WRED (DEC_SHFL && WG % 32 == 0)
#endif
#if DEC_WRED
#if DEC_SHFL_LOCAL
#define dec_wxor(kp, x, m) dec_shfl_local(kp, x, m)
#else
#define dec_wxor(kp, x, m) tt_shfl_xor(x, m)
#endif
#define DEC_WG_WREDUCE(name, op)                                                                   \
    inline void name(__local float *red, float *val, int nv)                                       \
    {                                                                                              \
        const int t = get_local_id(0), w = t / 32;                                                 \
        __local float *part = red + WG;                                                            \
        for (int v = 0; v < nv; v++) {                                                             \
            float a = val[v];                                                                      \
            for (int m = 16; m >= 1; m /= 2)                                                       \
                a = op(a, dec_wxor(red, a, m));                                                    \
            if (t % 32 == 0)                                                                       \
                part[w * nv + v] = a;                                                              \
        }                                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
        for (int v = 0; v < nv; v++) {                                                             \
            float a = part[v];                                                                     \
            for (int i = 1; i < NWARP; i++)                                                        \
                a = op(a, part[i * nv + v]);                                                       \
            val[v] = a;                                                                            \
        }                                                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    }
DEC_WG_WREDUCE(dec_csum, DEC_ADD)
DEC_WG_WREDUCE(dec_cmax, fmax)
#else
#define dec_csum dec_sum
#define dec_cmax dec_max
#endif

/* Max over the chunk per head (finite scores only); every thread gets the result in mref. */
inline void dec_chunk_max(__local float (*s)[CH], int nk, __local float *red, float *mref)
{
    const int t = get_local_id(0);
    for (int hh = 0; hh < GROUP; hh++) {
        float m = -INFINITY;
        for (int jj = t; jj < nk; jj += WG)
            if (isfinite(s[hh][jj]))
                m = fmax(m, s[hh][jj]);
        mref[hh] = m;
    }
    dec_cmax(red, mref, GROUP);
}

/* Keep decisions, compaction of the union of kept keys, P·V over kept V rows only, and the
 * chunk's partial outputs. s holds scores on entry and weights exp(s - mref) (0 if not kept)
 * after. kind: 0 dense, 1 θ, 2 top-k (cut holds θ or τ per head). need_dm: also sum the dropped
 * mass (only post-softmax and exact SDC read it; elsewhere a dropped score costs no exponential,
 * which on a CPU is a measurable part of a sparse chunk). scan holds RSTR + RSEG ints;
 * uni is the shared scratch (UNI_PV_N floats at least). */
inline void dec_chunk_pv(__global const KV_T *v, const uint *lay, int b, int g, int j0,
                         int nk, int kind, int placement, int need_dm, const float *mref,
                         const float *zrow, const float *cut, __local float (*s)[CH],
                         __local float *uni,
                         __local int *scan, __local int *idx,
                         int n_heads, int n_chunks, int c, __global float *part_acc,
                         __global float *part_ms, __global float *part_ds,
                         __global float *part_dm, __global uint *part_kept,
                         __global uint *part_union)
{
    const int t = get_local_id(0);
    float sums[3 * GROUP]; /* kept sum, dropped sum, kept count per head */
    for (int x = 0; x < 3 * GROUP; x++)
        sums[x] = 0.0f;
    /* The keep decisions over a thread's KPT consecutive keys. DEC_KEEP 0 (default): key by
     * key, every head (the warp's 32 threads hit KPT-strided words: an 8-way bank conflict at
     * KPT 8 on each load and store), kept flags through idx. 1 (opt-in, TT_DEC_DEFS): head by
     * head, float4 loads and stores, flags in registers (anyb). H100, 32K keys batch 8, one call
     * (docs/PERFORMANCE.md, session of 2026-12-05, eighth): the chunk without V rows 0.2263 ->
     * 0.2185 ms, but Top-θ as a whole 0.2645 -> 0.2704 (its V gather got slower; not explained). */
#ifndef DEC_KEEP
#define DEC_KEEP 0
#endif
#define KW ((KPT + 31) / 32)
#define KV4 (KPT % 4 == 0 ? 4 : 1)
#if DEC_KEEP == 0
    int mine = 0;
    for (int x = 0; x < KPT; x++) {
        const int jj = t * KPT + x;
        int any = 0;
        for (int hh = 0; hh < GROUP; hh++) {
            float w = 0.0f;
            if (jj < nk) {
                float sc = s[hh][jj];
                if (isfinite(sc) && mref[hh] != -INFINITY) {
                    const int keep = tt_keep(sc, kind, placement, mref[hh], zrow[hh], cut[hh]);
                    if (keep) {
                        w = exp(sc - mref[hh]);
                        sums[hh] += w;
                        sums[2 * GROUP + hh] += 1.0f;
                        any = 1;
                    } else if (need_dm) {
                        sums[GROUP + hh] += exp(sc - mref[hh]);
                    }
                }
                s[hh][jj] = w;
            }
        }
        mine += any;
        if (jj < nk)
            idx[jj] = any; /* flag for now; replaced by the slot below */
    }
#else
    uint anyb[KW];
    for (int x = 0; x < KW; x++)
        anyb[x] = 0u;
    /* unrolled: sums, mref, zrow, cut and anyb are indexed by hh and x0, and a loop left
     * rolled put them on the stack (H100: 96 bytes, 32K keys batch 8 0.379 -> 0.406 ms) */
    #pragma unroll
    for (int hh = 0; hh < GROUP; hh++)
        #pragma unroll
        for (int x0 = 0; x0 < KPT; x0 += KV4) {
            const int j = t * KPT + x0;
            float sc[KV4], w[KV4];
#if KPT % 4 == 0
            const float4 s4 = vload4(0, &s[hh][j]);
            sc[0] = s4.x, sc[1] = s4.y, sc[2] = s4.z, sc[3] = s4.w;
#else
            sc[0] = s[hh][j];
#endif
            #pragma unroll
            for (int e = 0; e < KV4; e++) {
                w[e] = 0.0f;
                if (j + e < nk && isfinite(sc[e]) && mref[hh] != -INFINITY) {
                    if (tt_keep(sc[e], kind, placement, mref[hh], zrow[hh], cut[hh])) {
                        w[e] = exp(sc[e] - mref[hh]);
                        sums[hh] += w[e];
                        sums[2 * GROUP + hh] += 1.0f;
                        anyb[(x0 + e) / 32] |= 1u << ((x0 + e) % 32);
                    } else if (need_dm) {
                        sums[GROUP + hh] += exp(sc[e] - mref[hh]);
                    }
                }
            }
            /* keys at or past nk get weight 0 too: never read (the union holds none of them) */
#if KPT % 4 == 0
            vstore4((float4)(w[0], w[1], w[2], w[3]), 0, &s[hh][j]);
#else
            s[hh][j] = w[0];
#endif
        }
    int mine = 0;
    for (int x = 0; x < KW; x++)
        mine += (int)popcount(anyb[x]);
#endif
    /* Exclusive scan of the per-thread counts (two levels, as in dec_sum) gives each thread its
     * first slot; total is the size of the union. */
    scan[RPOS(t)] = mine;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (t < RSEG) {
        int a = 0;
        for (int i = 0; i < SEGL; i++)
            a += scan[t * (SEGL + 1) + i];
        scan[RSTR + t] = a;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const int sg = t / SEGL;
    int total = 0, slot = 0;
    for (int i = 0; i < RSEG; i++) {
        const int a = scan[RSTR + i];
        total += a;
        slot += i < sg ? a : 0;
    }
    for (int i = sg * SEGL; i < t; i++)
        slot += scan[RPOS(i)];
#if DEC_KEEP == 0
    int flags[KPT];
    for (int x = 0; x < KPT; x++) {
        const int jj = t * KPT + x;
        flags[x] = jj < nk ? idx[jj] : 0;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int x = 0; x < KPT; x++)
        if (flags[x])
            idx[slot++] = t * KPT + x;
#else
    for (int x = 0; x < KPT; x++)
        if ((anyb[x / 32] >> (x % 32)) & 1u)
            idx[slot++] = t * KPT + x;
#endif
#undef KV4
#undef KW
    barrier(CLK_LOCAL_MEM_FENCE);

    /* P·V: thread (lane, part) owns VEC dimensions of every LANES-th kept row. A head that did not
     * keep a row of the union skips it (weight 0 × a NaN in V would still poison its output). */
    const int lane = t / TPR, part = t % TPR;
    floatv acc[GROUP];
    for (int hh = 0; hh < GROUP; hh++)
        acc[hh] = (floatv)(0.0f);
    if (lane < LANES) {
        int x = lane;
        /* PVU rows per step: their loads are independent, so they are in flight together
         * instead of one latency-bound load per iteration. The last step is predicated rather
         * than finished row by row: with a sparse union (Top-θ keeps ~100 of 512 rows) a
         * row-by-row tail costs one memory latency per row. Its surplus slots reload the last
         * kept row (a cache hit) and add nothing. */
#ifndef DEC_DIAG_NOPV
#define DEC_DIAG_NOPV 0 /* 1: no V row loaded (wrong outputs; splits the time, diagnostics only) */
#endif
#ifndef DEC_DIAG_VFIX
#define DEC_DIAG_VFIX 0 /* 1: every V load reads the chunk's first row (cache hits; the loop's
                         * arithmetic without its memory traffic; wrong outputs, diagnostics) */
#endif
#define VROW(j) (v + ADDR(lay, LAY_V, b, g, j0 + (DEC_DIAG_VFIX ? 0 : (j))) + part * VEC)
#if DEC_CPU /* CPUs: lane takes a block of consecutive kept rows (step 1, end r1) */
        const int per = (total + LANES - 1) / LANES, r1 = min(total, (lane + 1) * per);
        x = lane * per;
#define PV_STEP 1
#else /* GPUs: the lanes of a warp read neighbouring rows (step LANES) */
        const int r1 = total;
#define PV_STEP LANES
#endif
        for (; x < (DEC_DIAG_NOPV ? 0 : r1); x += PVU * PV_STEP) {
            int jv[PVU];
            kvraw vr[PVU]; /* raw until used: fp16 rows take half the registers */
            PV_UNROLL
            for (int u = 0; u < PVU; u++)
                jv[u] = idx[min(x + u * PV_STEP, r1 - 1)];
            PV_UNROLL
            for (int u = 0; u < PVU; u++)
                vr[u] = RAW_LOAD(VROW(jv[u]));
            PV_UNROLL
            for (int u = 0; u < PVU; u++)
                if (x + u * PV_STEP < r1) {
                    const floatv vv = RAW_CVT(vr[u]);
                    PV_UNROLL
                    for (int hh = 0; hh < GROUP; hh++) {
                        const float w = s[hh][jv[u]];
                        acc[hh] = w != 0.0f ? fma((floatv)(w), vv, acc[hh]) : acc[hh];
                    }
                }
        }
#undef PV_STEP
#undef VROW
    }
#if DEC_DIAG_NORED
    {
        float z = 0.0f;
        for (int hh = 0; hh < GROUP; hh++)
            z += HSUM(acc[hh]);
        if (z == 1234.5f)
            part_acc[PIDX(b * n_heads, c) * D] = z;
    }
#else
    /* The lanes' partial rows meet in uni, VRH heads per round. */
    for (int h0 = 0; h0 < GROUP; h0 += VRH) {
        if (lane < LANES)
            for (int hb = 0; hb < VRH; hb++)
                if (h0 + hb < GROUP) {
#if VEC == 1
                    uni[(hb * LANES + lane) * D + part] = acc[h0 + hb];
#else
                    CAT(vstore, VEC)(acc[h0 + hb], 0, uni + (hb * LANES + lane) * D + part * VEC);
#endif
                }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int x = t; x < VRH * D; x += WG) {
            const int hb = x / D, d = x % D;
            if (h0 + hb < GROUP) {
                const int row = b * n_heads + g * GROUP + h0 + hb;
                float sum = 0.0f;
                for (int l = 0; l < LANES; l++)
                    sum += uni[(hb * LANES + l) * D + d];
                part_acc[PIDX(row, c) * D + d] = sum;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    dec_csum(uni, sums, 3 * GROUP);
#endif
    if (t == 0) {
        for (int hh = 0; hh < GROUP; hh++) {
            const int row = b * n_heads + g * GROUP + hh;
            part_ms[PIDX(row, c)] = mref[hh];
            part_ds[PIDX(row, c)] = sums[hh];
            part_dm[PIDX(row, c)] = sums[GROUP + hh];
            part_kept[PIDX(row, c)] = (uint)sums[2 * GROUP + hh];
        }
        part_union[(size_t)(b * (n_heads / GROUP) + g) * n_chunks + c] = (uint)total;
    }
}

/* θ, D̂ of the group's heads and the output layout, as dec_merge_group takes them (inside a
 * kernel with args, n_heads, th_buf and dh_buf). */
#define DEC_MERGE_VALUES(th, dh, lay_o, g)                                                         \
    for (int hh_ = 0; hh_ < GROUP; hh_++) {                                                        \
        th[hh_] = DEC_THETA((g) * GROUP + hh_);                                                    \
        dh[hh_] = DEC_DHAT((g) * GROUP + hh_);                                                     \
    }                                                                                              \
    for (int i_ = 0; i_ < 4; i_++)                                                                 \
        lay_o[i_] = args.lay[LAY_O + i_];

/* DEC_FUSE (store == 0 only): the work-group that completes a (sequence, KV head)'s last chunk
 * merges it (dec_merge_group, decode_merge.cl). Each work-group publishes its partials with a
 * device-wide fence, then counts itself in done[bg]; the last one in reads the others' partials
 * past its L1 cache (volatile) and resets the counter for the next call. 1: OpenCL's global
 * fence (coherent devices such as CPUs; tests), 2: PTX membar.gl (NVIDIA, where OpenCL 1.2
 * promises nothing between work-groups but the hardware orders a fenced write before the atomic). */
#ifndef DEC_FUSE
#define DEC_FUSE 0
#endif
#if DEC_FUSE
#define MQ volatile
#else
#define MQ
#endif
#if DEC_FUSE == 2
inline void dec_fence(void)
{
    asm volatile("membar.gl;" ::: "memory");
}
#else
inline void dec_fence(void)
{
    mem_fence(CLK_GLOBAL_MEM_FENCE);
}
#endif
void dec_merge_group(const float *th, const float *dh, const uint *lay_o, int b, int g,
                     int n_heads, int kv_len, int n_chunks, int kind, int placement, int sdc,
                     float lambda, int vmc, __global const float *rowinfo, MQ __global const float *vsum,
                     int have_vsum, __global const float *vmean,
                     MQ __global const float *part_acc, MQ __global const float *part_ms,
                     MQ __global const float *part_ds, MQ __global const float *part_dm,
                     MQ __global const uint *part_kept, MQ __global const uint *part_union,
                     __global float *o, __global uint *stats, int batch, __local float *fc,
                     __local float *red, int slice, int n_slices);

/* Pass 1. store != 0: write the chunk's scores and (max, Σ exp) partials and stop (post-softmax,
 * max-relative, top-k). store == 0: finish the chunk here against its own max (dense, pre). */
__kernel void tt_dec_chunk(__global const float *q, __global const KV_T *k,
                           __global const KV_T *v, dec_args args, int n_heads,
                           int kv_len, int n_chunks, float scale, int store, int kind,
                           int placement, __global const float *th_buf, __global float *vsum,
                           __global float *scores,
                           __global float *part_m, __global float *part_z,
                           __global float *part_acc, __global float *part_ms,
                           __global float *part_ds, __global float *part_dm,
                           __global uint *part_kept, __global uint *part_union,
                           int sdc, float lambda, int vmc, __global const float *dh_buf,
                           __global const float *vmean, __global float *o,
                           __global uint *stats, int batch, __global uint *done)
{
#ifndef DEC_DIAG_EMPTY
#define DEC_DIAG_EMPTY 0 /* 1: tt_dec_chunk, 2: tt_dec_merge, 3: both return at once (wrong outputs;
                          * the fixed cost of a launch, diagnostics only) */
#endif
    if (DEC_DIAG_EMPTY & 1)
        return;
#ifdef DEC_STAGGER /* PTX devices (host/decode.c): the first wave's work-groups that share a
                    * multiprocessor (groups i, i + DEC_CUS, ...; four fit one at 128 registers)
                    * start DEC_STAGGER ns apart, so that their epilogues do not fall together */
    {
        const uint lin = get_group_id(0) + get_num_groups(0) * get_group_id(1);
        if (lin < 4u * DEC_CUS) {
            const uint ns = (lin / DEC_CUS) % 4u * (uint)DEC_STAGGER;
            asm volatile("nanosleep.u32 %0;" ::"r"(ns));
        }
    }
#endif
    const int t = get_local_id(0), c = get_group_id(0), bg = get_group_id(1);
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int j0 = c * CH, nk = min(CH, kv_len - j0);
    DEC_LAY
#if DEC_FUSE
    __local int last;
#endif
    __local float qloc[GROUP][D];
    __local float s[GROUP][CH];
    __local int scan[RSTR + RSEG];
    __local int idx[CH];
    /* A uint4 array: 16-byte aligned, so the vstore of the P·V partials (VEC floats) and the K
     * partials can be vector accesses. H100, one call against the tree without it (not fused):
     * Top-θ 1-4 % faster in all five shapes, dense within 2 % (docs/PERFORMANCE.md, seventeenth). */
    __local uint4 uni4[(UNI_N + 3) / 4];
    __local float *uni = (__local float *)uni4;
    for (int x = t; x < GROUP * D; x += WG)
        qloc[x / D][x % D] =
            DEC_DIAG_NOQ ? 0.01f * (float)(x % 7) : q[ADDR(lay, LAY_Q, b, g * GROUP + x / D, 0) + x % D];
    /* VMC: the chunk holding the new row n-1 advances the running V sum once per KV head; the
     * merge, which runs after every chunk, then reads v̄ = vsum / n. */
    if (vsum && c == n_chunks - 1)
        for (int d = t; d < D; d += WG)
            vsum[(size_t)bg * D + d] += LOAD_KV(v, ADDR(lay, LAY_V, b, g, kv_len - 1) + d);
    barrier(CLK_LOCAL_MEM_FENCE);
    dec_scores(k, lay, b, g, j0, nk, scale, qloc, s, uni);
    barrier(CLK_LOCAL_MEM_FENCE);
#ifndef DEC_DIAG_KONLY
#define DEC_DIAG_KONLY 0 /* 1: stop after the K pass (wrong outputs; the scores are read once so
                          * that the compiler keeps the loads; diagnostics only) */
#endif
    if (DEC_DIAG_KONLY) {
        float acc = 0.0f;
        for (int jj = t; jj < nk; jj += WG)
            acc += s[0][jj];
        if (acc == 1234.5f)
            part_ms[PIDX(b * n_heads, c)] = acc;
        return;
    }
    float mref[GROUP], zrow[GROUP], cut[GROUP];
    if (DEC_DIAG_NOMAX)
        for (int hh = 0; hh < GROUP; hh++)
            mref[hh] = 0.0f;
    else
        dec_chunk_max(s, nk, uni, mref);
    if (store) {
        float z[GROUP];
        for (int hh = 0; hh < GROUP; hh++) {
            const int row = b * n_heads + g * GROUP + hh;
            z[hh] = 0.0f;
            for (int jj = t; jj < nk; jj += WG) {
                float sc = s[hh][jj];
                scores[(size_t)row * kv_len + j0 + jj] = sc;
                if (isfinite(sc))
                    z[hh] += exp(sc - mref[hh]);
            }
        }
        dec_csum(uni, z, GROUP);
        if (t == 0)
            for (int hh = 0; hh < GROUP; hh++) {
                const int row = b * n_heads + g * GROUP + hh;
                part_m[PIDX(row, c)] = mref[hh];
                part_z[PIDX(row, c)] = z[hh];
            }
    } else { /* if/else rather than an early return: see the note in prefill.cl */
        for (int hh = 0; hh < GROUP; hh++) {
            zrow[hh] = 1.0f;
            cut[hh] = kind == 1 ? DEC_THETA(g * GROUP + hh) : 0.0f;
        }
        /* dense or pre: the dropped mass is read only by exact SDC */
        dec_chunk_pv(v, lay, b, g, j0, nk, kind, placement, sdc == SDC_EXACT, mref, zrow, cut,
                     s, uni, scan, idx, n_heads, n_chunks, c, part_acc, part_ms, part_ds,
                     part_dm, part_kept, part_union);
#if DEC_FUSE /* the host fuses only when n_chunks <= CH, so the rescale factors fit in s */
        dec_fence();
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
        if (t == 0)
            last = atomic_inc(&done[bg]) == (uint)(n_chunks - 1);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (last) {
            float th[GROUP], dh[GROUP];
            uint lay_o[4];
            DEC_MERGE_VALUES(th, dh, lay_o, g);
            dec_fence();
            dec_merge_group(th, dh, lay_o, b, g, n_heads, kv_len, n_chunks, kind, placement, sdc,
                            lambda, vmc, NULL, vsum, vsum != NULL, vmean, part_acc, part_ms,
                            part_ds, part_dm, part_kept, part_union, o, stats, batch, &s[0][0],
                            uni, 0, 1);
            if (t == 0)
                done[bg] = 0u; /* every chunk of this launch has counted: ready for the next */
        }
#endif
    }
}

/* Pass 2 (after tt_dec_chunk with store, and tt_select for top-k): the row max and softmax sum
 * from all chunks' partials, then the cut and P·V from the stored scores — K is not read again. */
/* A row's (max, Σ exp) over the chunks' partial (m, z), as the two-phase kernel needs them. GPUs
 * let every thread do this walk (cheap next to the chunk, no barrier); a CPU device runs each
 * work-item's copy one after another, so there one work-item per head does it (DEC_CPU; PoCL,
 * 128K keys, top-k: tt_dec_pv 100 → 33 ms). */
inline float2 dec_row_mz(__global const float *part_m, __global const float *part_z, int row,
                         int n_chunks)
{
    float m = -INFINITY, z = 0.0f;
    for (int x = 0; x < n_chunks; x++) {
        const float mc = part_m[PIDX(row, x)];
        if (mc == -INFINITY)
            continue;
        const float mx = fmax(m, mc);
        z = (m == -INFINITY ? 0.0f : z * exp(m - mx)) + part_z[PIDX(row, x)] * exp(mc - mx);
        m = mx;
    }
    return (float2)(m, z);
}

__kernel void tt_dec_pv(__global const KV_T *v, dec_args args, int n_heads, int kv_len,
                        int n_chunks, int kind, int placement, __global const float *th_buf,
                        __global const float *rowinfo, __global const float *scores,
                        __global const float *part_m, __global const float *part_z,
                        __global float *part_acc, __global float *part_ms,
                        __global float *part_ds, __global float *part_dm,
                        __global uint *part_kept, __global uint *part_union, int need_dm)
{
    const int t = get_local_id(0), c = get_group_id(0), bg = get_group_id(1);
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int j0 = c * CH, nk = min(CH, kv_len - j0);
    DEC_LAY
    __local float s[GROUP][CH];
    __local int scan[RSTR + RSEG];
    __local int idx[CH];
    __local uint4 uni4[(UNI_PV_N + 3) / 4]; /* aligned: see tt_dec_chunk */
    __local float *uni = (__local float *)uni4;
    float mref[GROUP], zrow[GROUP], cut[GROUP];
#if DEC_CPU /* one work-item per head merges, the others read it (see dec_row_mz) */
    __local float2 mz[GROUP];
    for (int hh = t; hh < GROUP; hh += WG)
        mz[hh] = dec_row_mz(part_m, part_z, b * n_heads + g * GROUP + hh, n_chunks);
    barrier(CLK_LOCAL_MEM_FENCE);
#endif
    for (int hh = 0; hh < GROUP; hh++) {
        const int row = b * n_heads + g * GROUP + hh;
#if DEC_CPU
        const float2 r = mz[hh];
#else
        const float2 r = dec_row_mz(part_m, part_z, row, n_chunks); /* every thread: no barrier */
#endif
        mref[hh] = r.x;
        zrow[hh] = r.y;
        cut[hh] = kind == 2 ? rowinfo[(size_t)row * RI_N + RI_TH] : kind == 1 ? DEC_THETA(g * GROUP + hh) : 0.0f;
        for (int jj = t; jj < nk; jj += WG)
            s[hh][jj] = scores[(size_t)row * kv_len + j0 + jj];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    /* need_dm (host): post-softmax θ or exact SDC, the readers of the dropped mass */
    dec_chunk_pv(v, lay, b, g, j0, nk, kind, placement, need_dm, mref, zrow, cut, s, uni, scan, idx,
                 n_heads, n_chunks, c, part_acc, part_ms, part_ds, part_dm, part_kept, part_union);
}

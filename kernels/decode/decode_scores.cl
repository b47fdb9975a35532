/* decode_scores.cl — the K pass of decode's chunk kernel: the scores of a chunk's keys for every
 * query head of the group into local memory, K read once for the group. Four forms, chosen at
 * build time: tensor cores (DEC_MMA, mma.cl; fastest on NVIDIA), coalesced rows summed by warp
 * shuffles (DEC_SHFL, shfl.cl) or through local memory (KCOAL), and a thread per row (CPUs). */
#if DEC_MMA
/* Scores on tensor cores: a warp takes 16 keys at a time and computes their dot products with
 * the group's (up to 8) query rows as mma.m16n8k16 steps (tt_mma_16816 of mma.cl, put in the
 * program by the host only after its probe ran correctly): A = 16 K rows × 16 dimensions in fp16
 * as stored, B = 16 dimensions × 8 query rows, fp32 sums. The products are exact and the sums
 * fp32; q goes in as two fp16 halves, hi + lo, so it keeps ~22 bits, after one power of two for
 * the group brings its largest |q| to [2^13, 2^14) (no fp16 overflow; undone on the scores).
 * A dot product does not depend on the order of its dimensions, so lane (g, t) feeds the MMA's
 * columns 2t, 2t+1, 2t+8, 2t+9 with 4 contiguous dimensions and K loads stay 16 bytes wide:
 * lane t of a row loads pieces 4j + t (8 dimensions each), step 2j + h uses half h of piece j.
 * Against the shuffle path below this takes ~10× fewer instructions per K byte (no fp16
 * conversion, no butterfly), which held the K pass under the copy rate. */
#if DEC_MMA_LOCAL
/* Tests on devices without tensor cores (host: TT_DEC_MMA_LOCAL=1): the same fragments meet in
 * local memory (tt_mma_local of mma_local.cl), so that CI checks the bookkeeping above on any
 * device. Every work-item makes the same calls. */
#define KPART_N (6 * WG)
#define MMA(c, a0, a1, a2, a3, b0, b1) tt_mma_local(kp, c, a0, a1, a2, a3, b0, b1)
#else
#define KPART_N WG
#define MMA(c, a0, a1, a2, a3, b0, b1) tt_mma_16816(c, a0, a1, a2, a3, b0, b1)
#endif
#ifndef MMA_TU
#define MMA_TU 1 /* tiles of 16 keys per warp and round (the host sets it) */
#endif
inline float dec_half_round(float x)
{
    ushort h[1];
    vstore_half_rte(x, 0, (__private half *)h);
    return vload_half(0, (__private const half *)h);
}
inline void dec_scores(__global const KV_T *k, const uint *lay, int b, int g, int j0, int nk,
                       float scale, __local const float (*qloc)[D], __local float (*s)[CH],
                       __local float *kp)
{
    const int t = get_local_id(0), w = t / 32, l = t % 32, gi = l / 4, ti = l % 4;
    float mq = 0.0f; /* the group's largest |q| */
    if (DEC_DIAG_NOQ >= 2) {
        mq = 1.0f;
    } else {
        for (int x = t; x < GROUP * D; x += WG)
            mq = fmax(mq, fabs(qloc[x / D][x % D]));
        kp[t] = mq;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int i = 0; i < WG; i++)
            mq = fmax(mq, kp[i]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int e = mq > 0.0f && mq < INFINITY ? clamp(ilogb(mq) - 13, -100, 100) : 0;
    const float qs = ldexp(1.0f, -e), fs = scale * ldexp(1.0f, e);
    uint qh[D / 16][2], ql[D / 16][2]; /* B fragments of every step: q's hi and lo halves */
    for (int j = 0; j < D / 32; j++)
        for (int h = 0; h < 2; h++) {
            const int d0 = (4 * j + ti) * 8 + 4 * h;
            float x[4], r[4];
            for (int i = 0; i < 4; i++) {
                x[i] = gi < GROUP ? qloc[gi][d0 + i] * qs : 0.0f;
                r[i] = x[i] - dec_half_round(x[i]);
            }
            qh[2 * j + h][0] = tt_mma_pack(x[0], x[1]), qh[2 * j + h][1] = tt_mma_pack(x[2], x[3]);
            ql[2 * j + h][0] = tt_mma_pack(r[0], r[1]), ql[2 * j + h][1] = tt_mma_pack(r[2], r[3]);
        }
    /* Every warp makes the same number of rounds (uniform for DEC_MMA_LOCAL's barriers), MMA_TU
     * tiles of 16 keys per round with all their loads in flight together; a warp without a tile
     * reloads the chunk's last row and stores nothing. */
    const int ntile = (nk + 15) / 16, rounds = (ntile + NWARP * MMA_TU - 1) / (NWARP * MMA_TU);
    for (int it = 0; it < rounds; it++) {
        uint4 a0[MMA_TU][D / 32], a1[MMA_TU][D / 32]; /* pieces 4j + ti of rows gi and gi + 8 */
        for (int u = 0; u < MMA_TU; u++) {
            const int tile = (it * MMA_TU + u) * NWARP + w;
            const int r0 = min(tile * 16 + gi, nk - 1), r1 = min(tile * 16 + gi + 8, nk - 1);
            __global const ushort *k0 =
                (__global const ushort *)(k + ADDR(lay, LAY_K, b, g, j0 + r0));
            __global const ushort *k1 =
                (__global const ushort *)(k + ADDR(lay, LAY_K, b, g, j0 + r1));
            for (int j = 0; j < D / 32; j++) {
                a0[u][j] = *(__global const uint4 *)(k0 + (4 * j + ti) * 8);
                a1[u][j] = *(__global const uint4 *)(k1 + (4 * j + ti) * 8);
            }
        }
        for (int u = 0; u < MMA_TU; u++) {
            const int tile = (it * MMA_TU + u) * NWARP + w;
            float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
            for (int j = 0; j < D / 32; j++) {
                const uint4 x0 = a0[u][j], x1 = a1[u][j];
                MMA(c, x0.x, x1.x, x0.y, x1.y, qh[2 * j][0], qh[2 * j][1]);
                MMA(c, x0.x, x1.x, x0.y, x1.y, ql[2 * j][0], ql[2 * j][1]);
                MMA(c, x0.z, x1.z, x0.w, x1.w, qh[2 * j + 1][0], qh[2 * j + 1][1]);
                MMA(c, x0.z, x1.z, x0.w, x1.w, ql[2 * j + 1][0], ql[2 * j + 1][1]);
            }
            /* c[i]: key 16 tile + gi + 8 (i / 2), head 2 ti + i % 2 */
            for (int i = 0; i < 4; i++) {
                const int hh = 2 * ti + i % 2, jj = tile * 16 + gi + 8 * (i / 2);
                if (hh < GROUP && jj < nk)
                    s[hh][jj] = c[i] * fs;
            }
        }
    }
}
#elif KCOAL && DEC_SHFL
/* Scores with K rows read coalesced as below, but the TPR partial dot products of a row are
 * summed inside the warp by a butterfly of shuffles (tt_shfl_xor of shfl.cl, which the host puts
 * in the program only after its probe ran correctly): each step hands half of the values to the
 * partner lane and adds the other half, so after log2(TPR) steps every thread holds whole sums
 * of its share of (head, row) pairs. No local memory and no barrier per round: the next rows'
 * loads go out as soon as a warp is done, instead of after two work-group barriers. TPR divides
 * the warp. A step halves the values while their count is even; an odd count (a group of 3 heads
 * with fewer rows than lanes to share them) is summed whole in both lanes of a pair, one of which
 * stores. (Halving an odd count lost a third of the scores of 24 / 8-head calls at head size 128.
 * Taking the selects out — each lane holding its values in the order it keeps them, rows and Q
 * rows permuted per lane — was 4 % slower on the H200: a warp load then spans several rows.
 * Loading the next round's rows before this round's math took 254 registers and was 28 % slower
 * for dense and Top-θ at 32K batch 8: docs/PERFORMANCE.md, session of 2026-12-04.) */
#if DEC_SHFL_LOCAL /* the exchange through local memory (dec_shfl_local, decode_defs.cl) */
#define KPART_N WG
#define SHFL_XOR(x, m) dec_shfl_local(kp, x, m)
#else
#define KPART_N 1
#define SHFL_XOR(x, m) tt_shfl_xor(x, m)
#endif
#define NSV (GROUP * KCU)
inline void dec_scores(__global const KV_T *k, const uint *lay, int b, int g, int j0, int nk,
                       float scale, __local const float (*qloc)[D], __local float (*s)[CH],
                       __local float *kp)
{
    const int t = get_local_id(0), lane = t / TPR, part = t % TPR;
    (void)kp;
    floatv qv[GROUP];
    for (int hh = 0; hh < GROUP; hh++)
        qv[hh] = VLOAD_F(&qloc[hh][part * VEC]);
    for (int base = 0; base < nk; base += KROWS) {
        kvraw cur[KCU];
        for (int u = 0; u < KCU; u++)
            cur[u] = RAW_LOAD(KROW(base, u));
        float sv[NSV]; /* value hh·KCU + u: partial dot product of head hh with row u */
        for (int u = 0; u < KCU; u++) {
            const floatv kv = RAW_CVT(cur[u]);
            for (int hh = 0; hh < GROUP; hh++)
                sv[hh * KCU + u] = HSUM(qv[hh] * kv);
        }
        int n = NSV, first = 0, dup = 0; /* sv[0..n) are values first.. of the (head, row) list */
        #pragma unroll
        for (int m = TPR / 2; m >= 1; m /= 2) {
            const int up = (part & m) != 0;
            if (n > 1 && n % 2 == 0) { /* reduce-scatter: keep one half, add the partner's copy */
                n /= 2;
                #pragma unroll
                for (int i = 0; i < NSV / 2; i++)
                    if (i < n) {
                        const float send = up ? sv[i] : sv[i + n];
                        const float keep = up ? sv[i + n] : sv[i];
                        sv[i] = keep + SHFL_XOR(send, m);
                    }
                first += up ? n : 0;
            } else { /* odd count: all-reduce, one lane of each pair stores */
                #pragma unroll
                for (int i = 0; i < NSV; i++)
                    if (i < n)
                        sv[i] += SHFL_XOR(sv[i], m);
                dup |= up ? m : 0;
            }
        }
        if (!dup)
            for (int i = 0; i < n; i++) {
                const int x = first + i, hh = x / KCU, jj = base + (x % KCU) * LANES + lane;
                if (jj < nk)
                    s[hh][jj] = sv[i] * scale;
            }
    }
}
#elif KCOAL
/* Scores of the chunk's keys for every head of the group into s[hh][jj], K rows read coalesced:
 * TPR threads share a row (VEC elements each), LANES rows side by side and KCU rows per thread
 * in flight; the partial dot products meet in kp (padded by one per part against bank
 * conflicts) and one thread sums each (head, row). For devices where a thread per row (below)
 * scatters every warp load over as many memory lines as it has threads. (Loading the next KCU
 * rows before summing the current ones cost 48 registers per thread, one work-group less per
 * H200 multiprocessor, and was slower: docs/PERFORMANCE.md.) */
#define KP_N (GROUP * KROWS + 1)
#define KPART_N (TPR * KP_N)
inline void dec_scores(__global const KV_T *k, const uint *lay, int b, int g, int j0, int nk,
                       float scale, __local const float (*qloc)[D], __local float (*s)[CH],
                       __local float *kp)
{
    const int t = get_local_id(0), lane = t / TPR, part = t % TPR;
    floatv qv[GROUP];
    for (int hh = 0; hh < GROUP; hh++)
        qv[hh] = VLOAD_F(&qloc[hh][part * VEC]);
    for (int base = 0; base < nk; base += KROWS) {
        if (lane < LANES) {
            kvraw cur[KCU]; /* rows are clamped to the chunk: every load stays in bounds */
            for (int u = 0; u < KCU; u++)
                cur[u] = RAW_LOAD(KROW(base, u));
            for (int u = 0; u < KCU; u++) {
                const floatv kv = RAW_CVT(cur[u]);
                for (int hh = 0; hh < GROUP; hh++)
                    kp[part * KP_N + hh * KROWS + u * LANES + lane] = HSUM(qv[hh] * kv);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int x = t; x < GROUP * KROWS; x += WG) {
            const int hh = x / KROWS, jj = base + x % KROWS;
            float acc = 0.0f;
            for (int p = 0; p < TPR; p++)
                acc += kp[p * KP_N + x];
            if (jj < nk)
                s[hh][jj] = acc * scale;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
#else
#define KPART_N 1
/* Scores of the chunk's keys for every head of the group into s[hh][jj]. */
inline void dec_scores(__global const KV_T *k, const uint *lay, int b, int g, int j0, int nk,
                       float scale, __local const float (*qloc)[D], __local float (*s)[CH],
                       __local float *kp)
{
    const int t = get_local_id(0);
    (void)kp;
    for (int jj = t; jj < nk; jj += WG) {
        __global const KV_T *kr = k + ADDR(lay, LAY_K, b, g, j0 + jj);
        floatv acc[GROUP];
        #pragma unroll
        for (int hh = 0; hh < GROUP; hh++)
            acc[hh] = (floatv)(0.0f);
        for (int d = 0; d < D; d += VEC) {
            floatv kv = VLOAD_KV(kr + d);
            #pragma unroll
            for (int hh = 0; hh < GROUP; hh++)
                acc[hh] = fma(VLOAD_F(&qloc[hh][d]), kv, acc[hh]);
        }
        #pragma unroll
        for (int hh = 0; hh < GROUP; hh++)
            s[hh][jj] = HSUM(acc[hh]) * scale;
    }
}

#endif

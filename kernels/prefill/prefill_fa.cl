/* prefill_fa.cl — prefill in the FlashAttention-2 form on tensor cores (NVIDIA sm_80+, PF_FA):
 * each of 4 warps owns 16 rows (query positions × the GQA heads of one KV head) and keeps its Q
 * fragments, scores, weights and output in registers; only 32-key K and V tiles go through local
 * memory. Same arguments and results as prefill.cl's tt_pf_attn (dense, θ with a fixed cut or
 * pass 0 / 1 of the two-pass cuts, top-k's last pass against the k-th largest scores that
 * tt_pf_attn and prefill_kth.cl found; not one-pass post-softmax). PF_MMA_LOCAL emulates the
 * multiply-adds and shuffles through local memory so that PoCL checks the bookkeeping. */
#if PF_FA
#define FA_NT 128
#define FA_BK 32              /* keys per K/V tile (two tiles in flight: 48 KiB of local memory) */
#define FA_P (16 / GROUP)     /* query positions per warp */
#define FA_R (FA_P * GROUP)   /* rows of a warp's 16 that exist (16 where GROUP divides 16) */
#define FA_BQ (4 * FA_P)      /* query positions per work-group */
#define FA_KS (D / 16)        /* 16-dimension k-steps of Q·Kᵀ */
#define FA_NV (D / 8)         /* 8-dimension n-tiles of P·V */
#define FA_KP (D / 2 + 4)     /* uint pitch of a K or V row (fp16 pairs): 8 rows hit 32 banks */
#define FA_TU (FA_BK * FA_KP)  /* uints of one K or V tile */
/* Q's and the weights' lo halves (experiments: 0 drops one of the two multiply-adds, ~11 bits) */
#ifndef PF_FA_QLO
#define PF_FA_QLO 1
#endif
#ifndef PF_FA_PLO
#define PF_FA_PLO 1
#endif
/* PF_FA_CUT: what the host guarantees about the call, so that the per-score work is compiled
 * for it (a runtime test per score cost 1.3 ms at 8K on the H100): 0 any cut, pass 0 or 1
 * (tt_keep per score); 1 pass 1, every row dense or cut at a fixed score (pre-softmax θ, or
 * top-k's k-th largest), no dropped sums (not SDC exact): keep = score > cut, and a dropped
 * score becomes -inf where it is cut, so that the weights are computed as dense ones (a select
 * per weight instead cost Top-θ 5.30 → 5.75 ms at 8K on the H100); 2 pass 1, every row dense
 * (no step mask). */
#ifndef PF_FA_CUT
#define PF_FA_CUT 0
#endif
/* PF_FA_SKIP=1 (experiments): skip the 16-key steps no row of the warp kept. Off by default: at
 * keep 0.1 hardly a step is empty and the warp's step mask cost more than it saved (H100, Top-θ
 * 8K: 4.78 ms without against 5.13 with, median of five pairs; a tie on clustered data;
 * docs/PERFORMANCE.md, 2026-12-06, thirteenth and fourteenth) */
#ifndef PF_FA_SKIP
#define PF_FA_SKIP 0
#endif
/* PF_FA_DIAG_NOPV=1 (diagnostics, wrong outputs): no P·V multiply-add (V tiles still loaded,
 * weights and sums still computed): what a step skip could save at keep → 0 */
#ifndef PF_FA_DIAG_NOPV
#define PF_FA_DIAG_NOPV 0
#endif
/* PF_FA_LAZY (default 1; 0 for experiments): the accumulator's rescale (64 multiplies per lane
 * and tile at D 128) only where a row's running max moved; a warp skips it when none of its rows'
 * did, which after a causal row's first tiles is the common case. Exact: the skipped factors are
 * 1. H100, 8K, two calls (docs/PERFORMANCE.md, 2026-12-06, twelfth): dense 4.91 / 4.85 → 4.64 /
 * 4.60 ms, Top-θ 4.84 / 4.85 → 4.64 (and an outlier); 4K dense 1.47 → 1.41. */
#ifndef PF_FA_LAZY
#define PF_FA_LAZY 1
#endif
#define FA_RESCALE(a) (!PF_FA_LAZY || (a)[0] != 1.0f || (a)[1] != 1.0f)
/* PF_FA_LEAN (bits; default 3): less per-score work. Bit 1: forms 1 and 2 (PF_FA_CUT) turn a
 * dropped or non-finite score into -inf once where it is cut (dense too), so that the weights'
 * exponentials need no finiteness test; bit 2: tiles below the causal diagonal for both of a
 * lane's rows skip the mask; bit 4: form 2 only (0 turns it off, for experiments). H100, three
 * interleaved pairs each (docs/PERFORMANCE.md, 2026-12-06, twelfth): dense 8K 4.59-4.77 →
 * 4.48-4.51 ms, 4K 1.41-1.46 → 1.37-1.41; Top-θ 8K 4.83-4.94 → 4.78-4.85 (a tie or better). */
#ifndef PF_FA_LEAN
#define PF_FA_LEAN 3
#endif
#define FA_LEAN_ON (PF_FA_LEAN && (!(PF_FA_LEAN & 4) || PF_FA_CUT == 2))
#define FA_LEAN_EXP (FA_LEAN_ON && (PF_FA_LEAN & 1))
#define FA_LEAN_MASK (FA_LEAN_ON && (PF_FA_LEAN & 2))
#if PF_FA_CUT == 1 || (PF_FA_CUT == 2 && FA_LEAN_EXP)
#define FA_S_CUT 1 /* s holds -inf for every dropped or non-finite score */
#else
#define FA_S_CUT 0
#endif
/* Exponentials of the weights: exp, or native_exp (PF_FA_EXP=1: ex2.approx on NVIDIA) */
#if PF_FA_EXP
#define FA_EXP(x) native_exp(x)
#else
#define FA_EXP(x) exp(x)
#endif
#if !PF_MMA /* pf_half_round and the fragment packing come from prefill.cl / mma.cl */
#error "PF_FA needs PF_MMA"
#endif
#if GROUP > 16 || (D != 64 && D != 128) || !KV_F16
#error "PF_FA needs GROUP at most 16, D 64 or 128 and fp16 K/V"
#endif

/* Tiles arrive by cp.async, two in flight (FA_COPY 16 bytes; FA_COMMIT closes the tile's group,
 * FA_WAIT1 / FA_WAIT0 wait for all but the newest / all groups), and the B fragments come out of
 * the key-major tiles by ldmatrix (fa_kfrag, fa_vfrag: .trans for V). cp.async and ldmatrix are
 * sm_80 instructions, as the mma.m16n8k16 whose probe admits a device. */
#if PF_MMA_LOCAL
/* Emulation: every work-item makes every call, so all control flow around a multiply-add or a
 * shuffle is uniform over the work-group (on GPUs: over the warp). Copies are plain stores, and
 * each lane reads its own fragment elements. */
#define FA_MMA(c, a, b0, b1) tt_mma_local(mx, c, a[0], a[1], a[2], a[3], b0, b1)
#define FA_UNROLL _Pragma("unroll 1")
#define FA_COPY(dst, src) (*(dst) = *(src))
#define FA_COMMIT()
#define FA_WAIT1()
#define FA_WAIT0()
inline float fa_shfl_local(__local float *x, float v, int m)
{
    const int t = get_local_id(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    x[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    return x[(t & ~31) | ((t & 31) ^ m)];
}
#define FA_SHFL(v, m) fa_shfl_local(shx, v, m)
/* fp16 pair of key-major tile elements (row r, column c) and (r2, c2), the first in the low half */
inline uint fa_pair(__local const uint *tl, int r, int c, int r2, int c2)
{
    __local const ushort *h = (__local const ushort *)tl;
    return (uint)h[2 * r * FA_KP + c] | (uint)h[2 * r2 * FA_KP + c2] << 16;
}
/* Q·Kᵀ's B fragments of n-tiles 2 np and 2 np + 1 (keys 16 np ..), k-step kk: b[2 x], b[2 x + 1] */
inline void fa_kfrag(__local const uint *kt, int np, int kk, uint *b)
{
    const int l = get_local_id(0) % 32, fg = l / 4, ft = l % 4;
    #pragma unroll
    for (int x = 0; x < 2; x++) {
        const int key = 16 * np + 8 * x + fg, d = 16 * kk + 2 * ft;
        b[2 * x] = fa_pair(kt, key, d, key, d + 1);
        b[2 * x + 1] = fa_pair(kt, key, d + 8, key, d + 9);
    }
}
/* P·V's B fragments of dimension n-tiles 2 ep, 2 ep + 1, keys 16 kq ..: b[2 x], b[2 x + 1] */
inline void fa_vfrag(__local const uint *vt, int ep, int kq, uint *b)
{
    const int l = get_local_id(0) % 32, fg = l / 4, ft = l % 4;
    #pragma unroll
    for (int x = 0; x < 2; x++) {
        const int key = 16 * kq + 2 * ft, d = 16 * ep + 8 * x + fg;
        b[2 * x] = fa_pair(vt, key, d, key + 1, d);
        b[2 * x + 1] = fa_pair(vt, key + 8, d, key + 9, d);
    }
}
#else
#define FA_MMA(c, a, b0, b1) tt_mma_16816(c, a[0], a[1], a[2], a[3], b0, b1)
#define FA_UNROLL _Pragma("unroll")
#define FA_SHFL(v, m) tt_shfl_xor(v, m)
#define FA_COPY(dst, src)                                                                        \
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"((uint)(size_t)(dst)),         \
                 "l"(src))
#define FA_COMMIT() asm volatile("cp.async.commit_group;" ::: "memory")
#define FA_WAIT1() asm volatile("cp.async.wait_group 1;" ::: "memory")
#define FA_WAIT0() asm volatile("cp.async.wait_group 0;" ::: "memory")
/* Lane l gives the row address of matrix l / 8, row l % 8; gets its fragment of each matrix. */
inline void fa_ldsm4(__local const uint *row, uint *b)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
                 : "r"((uint)(size_t)row));
}
inline void fa_ldsm4t(__local const uint *row, uint *b)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3])
                 : "r"((uint)(size_t)row));
}
/* matrices: (keys 16 np .. + 7, dims 16 kk ..), (same keys, dims + 8), then keys + 8 */
inline void fa_kfrag(__local const uint *kt, int np, int kk, uint *b)
{
    const int l = get_local_id(0) % 32, i = l / 8;
    fa_ldsm4(kt + (16 * np + 8 * (i / 2) + l % 8) * FA_KP + 8 * kk + 4 * (i % 2), b);
}
/* matrices, transposed: (keys 16 kq .. + 7, dims 16 ep ..), (keys + 8, same dims), then dims + 8 */
inline void fa_vfrag(__local const uint *vt, int ep, int kq, uint *b)
{
    const int l = get_local_id(0) % 32, i = l / 8;
    fa_ldsm4t(vt + (16 * kq + 8 * (i % 2) + l % 8) * FA_KP + 8 * ep + 4 * (i / 2), b);
}
#endif
#define FA_SHFL_U(u, m) as_uint(FA_SHFL(as_float(u), m))

/* An A fragment's four fp16 pairs from 8 floats (pairs (x0, x1) .. (x6, x7)) as hi and lo
 * halves: hi + lo carries ~22 bits, as prefill.cl's Q and weights. */
inline void fa_split(const float *x, uint *hi, uint *lo)
{
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        const float h0 = pf_half_round(x[2 * i]), h1 = pf_half_round(x[2 * i + 1]);
        hi[i] = tt_mma_pack(h0, h1);
        lo[i] = tt_mma_pack(x[2 * i] - h0, x[2 * i + 1] - h1);
    }
}

/* Starts the copies of the K (and, in pass 1, V) tile of keys j0 .. j0 + FA_BK - 1 into stage
 * st (K, then V, rows at a pitch of FA_KP uints) as one cp.async group; keys past the cache are
 * zero (plain stores, visible after the barrier that follows the wait). k0, v0: key 0's K and V
 * rows of this (sequence, KV head), ks, vs: their row strides in elements, read out of the
 * layout once per kernel: NVIDIA reads a __constant pointer by global loads, 24 per tile here
 * when the loop indexed it (H100, 15 runs: 4K 1.70 -> 1.56 ms dense, 1.73 -> 1.52 Top-θ). */
inline void fa_load(__local uint *st, __global const ushort *k0, __global const ushort *v0,
                    uint ks, uint vs, int j0, int kv_len, int pass)
{
    for (int x = get_local_id(0); x < FA_BK * (D / 8); x += FA_NT) {
        const int kk = x / (D / 8), u = x % (D / 8);
        __local uint4 *dk = (__local uint4 *)(st + kk * FA_KP) + u;
        __local uint4 *dv = (__local uint4 *)(st + FA_TU + kk * FA_KP) + u;
        if (j0 + kk < kv_len) {
            FA_COPY(dk, (__global const uint4 *)(k0 + (size_t)(j0 + kk) * ks) + u);
            if (pass == 1)
                FA_COPY(dv, (__global const uint4 *)(v0 + (size_t)(j0 + kk) * vs) + u);
        } else {
            *dk = (uint4)(0u);
            *dv = (uint4)(0u);
        }
    }
    FA_COMMIT();
}

/* One scaled score of row y (sc: -inf where masked): its kept bit, the row's tile max, and what
 * the weights see: -inf where a fixed cut dropped it (forms 1, 2) or where it is not finite
 * (PF_FA_LEAN), so that exp(x - max) weighs it 0. */
inline float fa_cut_score(float sc, float cut, int pass, int kind, int placement, float m_run,
                          float z_fix, float th, float *tmax, uint *keep)
{
#if PF_FA_CUT
    const int k = sc > cut && sc != INFINITY; /* tt_keep; NaN fails both */
    (void)pass, (void)kind, (void)placement, (void)m_run, (void)z_fix, (void)th;
#else
    const int k = pass == 1 && tt_keep(sc, kind, placement, m_run, z_fix, th);
    (void)cut;
#endif
    *keep = (uint)k;
#if PF_FA_CUT == 2 && FA_LEAN_EXP
    /* every row dense: kept = finite, so the kept score is also the max's operand */
    const float x = k ? sc : -INFINITY;
    *tmax = fmax(*tmax, x);
    return x;
#else
    if (isfinite(sc))
        *tmax = fmax(*tmax, sc);
    return FA_S_CUT ? (k ? sc : -INFINITY) : sc;
#endif
}
/* The tile's scores of a lane's rows y = i / 2 (IN: whether key j exists for that row) */
#define FA_SCORE_TILE(IN)                                                                        \
    _Pragma("unroll") for (int nt = 0; nt < FA_BK / 8; nt++)                                     \
        _Pragma("unroll") for (int i = 0; i < 4; i++) {                                          \
            const int y = i / 2, j = j0 + 8 * nt + 2 * ft + i % 2;                               \
            uint keep;                                                                           \
            s[nt][i] = fa_cut_score((IN) ? s[nt][i] * fs[y] : -INFINITY, cut[y], pass, kind[y],  \
                                    placement, m_run[y], z_fix[y], th[y], &tmax[y], &keep);      \
            kb[y] |= keep << (2 * nt + i % 2);                                                   \
        }

/* Lane (fg, ft) = (lane / 4, lane % 4) of warp w holds rows fg and fg + 8 of the warp's 16: row r
 * is head r / FA_P of the group at query position q0 + FA_P w + r % FA_P. Accumulator layout of
 * an 8-column n-tile: c[0], c[1] row fg, columns 2 ft, 2 ft + 1; c[2], c[3] row fg + 8. */
__kernel __attribute__((reqd_work_group_size(FA_NT, 1, 1)))
void tt_pf_fa(__global const float *q, __global const KV_T *k, __global const KV_T *v,
              __constant uint *lay, int n_heads, int q_len, int kv_len, float scale, int pass,
              int mode, int placement, int sdc, float lambda, int vmc, int k_eff, int onepass,
              __global const float *thetas, __global const float *dhats,
              __global float *rowstat, __global const float *vmean, __global float *o,
              __global uint *stats, int batch)
{
    const int t = get_local_id(0), w = t / 32, lane = t % 32, fg = lane / 4, ft = lane % 4;
    const int bg = get_group_id(1), n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int q0 = get_group_id(0) * FA_BQ, p0 = kv_len - q_len;
    if (PF_FA_CUT >= 1) { /* constants the compiler may fold (see PF_FA_CUT) */
        pass = 1;
        placement = PLACE_PRE;
    }
    if (PF_FA_CUT == 2) {
        mode = MODE_DENSE;
        sdc = SDC_NONE;
    }
    /* Two stages of K and V tiles as stored: key-major fp16 pairs (declared as uint4: copies
     * store 16 bytes, and a uint array may sit on a 4-byte boundary, which faulted on the H100) */
    __local uint4 kv4[4 * FA_TU / 4];
    __local uint *const kvl = (__local uint *)kv4; /* stage x: K at 2 x FA_TU, V after it */
#if PF_MMA_LOCAL
    __local float mx[6 * FA_NT], shx[FA_NT];
    __local uint wany[4];
#endif
#if 16 % GROUP != 0
    __local uint ukb[4 * 16 * 4]; /* kept bits per (warp, row, lane of the quad): the unions */
#endif
    (void)onepass;

    /* Per-row constants of rows fg (y = 0) and fg + 8 (y = 1). */
    int live[2], kind[2], rn[2], fixst[2], row[2], hd[2], pos[2];
    float th[2], m_run[2], z_fix[2], ds[2], dm[2];
    uint cnt[2];
    #pragma unroll
    for (int y = 0; y < 2; y++) {
        const int r = fg + 8 * y;
        hd[y] = g * GROUP + min(r / FA_P, GROUP - 1); /* rows past FA_R: any head, not live */
        pos[y] = q0 + FA_P * w + r % FA_P;
        live[y] = r < FA_R && pos[y] < q_len;
        rn[y] = p0 + pos[y] + 1;
        /* cut kind as in tt_keep: 0 dense row, 1 θ, 2 top-k (thetas holds each row's k-th
         * largest score, from tt_pf_attn's pass 2 and prefill_kth.cl) */
        kind[y] = mode == MODE_DENSE || rn[y] <= k_eff || k_eff <= 0 ? 0
                  : mode == MODE_TOPK                                  ? 2
                                                                       : 1;
        row[y] = (b * n_heads + hd[y]) * q_len + pos[y];
        fixst[y] = pass == 1 && rowstat && live[y];
        th[y] = !live[y] || kind[y] == 0 ? 0.0f
                : kind[y] == 1           ? thetas[hd[y] * q_len + pos[y]]
                                         : thetas[row[y]];
        m_run[y] = fixst[y] ? rowstat[2 * row[y]] : -INFINITY;
        z_fix[y] = fixst[y] ? rowstat[2 * row[y] + 1] : 1.0f;
        ds[y] = dm[y] = 0.0f;
        cnt[y] = 0u;
    }
    /* the dropped sums (post-softmax, SDC exact): never in forms 1 and 2 (PF_FA_CUT) */
    const int need_dm = !PF_FA_CUT && pass == 1 && (placement == PLACE_POST || sdc == SDC_EXACT);
    float cut[2]; /* PF_FA_CUT 1, 2: keep = score > cut[y] (top-k keeps score >= its k-th) */
    #pragma unroll
    for (int y = 0; y < 2; y++)
        cut[y] = kind[y] == 0 ? -INFINITY : kind[y] == 2 ? nextafter(th[y], -INFINITY) : th[y];

    /* Q: each row scaled by a power of two that brings its largest |q| to [2^13, 2^14) (a quad
     * holds a whole row), split into fp16 hi and lo fragments that stay in registers. */
    uint qh[FA_KS][4], ql[FA_KS][4];
    float fs[2];
    {
        float mq[2] = {0.0f, 0.0f};
        #pragma unroll
        for (int y = 0; y < 2; y++)
            if (live[y]) {
                __global const float *qr = q + ADDR(lay, LAY_Q, b, hd[y], pos[y]);
                for (int kk = 0; kk < FA_KS; kk++) {
                    const float2 x0 = vload2(0, qr + 16 * kk + 2 * ft);
                    const float2 x1 = vload2(0, qr + 16 * kk + 2 * ft + 8);
                    mq[y] = fmax(mq[y], fmax(fmax(fabs(x0.x), fabs(x0.y)), fmax(fabs(x1.x), fabs(x1.y))));
                }
            }
        #pragma unroll
        for (int y = 0; y < 2; y++) {
            mq[y] = fmax(mq[y], FA_SHFL(mq[y], 1));
            mq[y] = fmax(mq[y], FA_SHFL(mq[y], 2));
        }
        float qsc[2];
        #pragma unroll
        for (int y = 0; y < 2; y++) {
            const int e = mq[y] > 0.0f && mq[y] < INFINITY ? clamp(ilogb(mq[y]) - 13, -100, 100) : 0;
            qsc[y] = ldexp(1.0f, -e);
            fs[y] = ldexp(1.0f, e) * scale;
        }
        #pragma unroll
        for (int kk = 0; kk < FA_KS; kk++) {
            float x[8];
            #pragma unroll
            for (int y = 0; y < 2; y++) {
                float2 x0 = (float2)(0.0f), x1 = (float2)(0.0f);
                if (live[y]) {
                    __global const float *qr = q + ADDR(lay, LAY_Q, b, hd[y], pos[y]);
                    x0 = vload2(0, qr + 16 * kk + 2 * ft) * qsc[y];
                    x1 = vload2(0, qr + 16 * kk + 2 * ft + 8) * qsc[y];
                }
                /* a0: row fg, dims 2ft..; a1: row fg + 8; a2, a3: the same rows, dims + 8 */
                x[2 * y] = x0.x, x[2 * y + 1] = x0.y;
                x[4 + 2 * y] = x1.x, x[5 + 2 * y] = x1.y;
            }
            fa_split(x, qh[kk], ql[kk]);
        }
    }

    float acc[FA_NV][4];
    #pragma unroll
    for (int e = 0; e < FA_NV; e++)
        acc[e][0] = acc[e][1] = acc[e][2] = acc[e][3] = 0.0f;
    uint uni = 0u; /* union of the group's kept keys at position pos[0] (stats; see below) */
#if GROUP == 1
    uint uni8 = 0u; /* GROUP 1: rows fg and fg + 8 are different positions */
#endif
    /* keys j < lim[y] exist for row y (0 for a row that is not live); lim_lo for both rows */
    const int lim[2] = {live[0] ? rn[0] : 0, live[1] ? rn[1] : 0};
    const int lim_lo = min(lim[0], lim[1]);
    const int last_i = min(q0 + FA_BQ, q_len) - 1;
    const int ntile = (p0 + last_i + 1 + FA_BK - 1) / FA_BK;
    __global const ushort *const k0 = (__global const ushort *)k + ADDR(lay, LAY_K, b, g, 0);
    __global const ushort *const v0 = (__global const ushort *)v + ADDR(lay, LAY_V, b, g, 0);
    const uint ks = lay[LAY_K + 3], vs = lay[LAY_V + 3];
    fa_load(kvl, k0, v0, ks, vs, 0, kv_len, pass);
    for (int tile = 0; tile < ntile; tile++) {
        const int j0 = tile * FA_BK;
        __local const uint *kt = kvl + 2 * FA_TU * (tile & 1), *vt = kt + FA_TU;
        if (tile + 1 < ntile) { /* the next tile's copies fly while this one is multiplied */
            fa_load(kvl + 2 * FA_TU * ((tile + 1) & 1), k0, v0, ks, vs, j0 + FA_BK, kv_len,
                    pass);
            FA_WAIT1();
        } else {
            FA_WAIT0();
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* every work-item's copies of this tile have landed */

        /* S = Q·Kᵀ for the warp's 16 rows × FA_BK keys: n-tiles of 8 keys */
        float s[FA_BK / 8][4];
        #pragma unroll
        for (int nt = 0; nt < FA_BK / 8; nt++)
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
        FA_UNROLL
        for (int kk = 0; kk < FA_KS; kk++) {
            FA_UNROLL
            for (int np = 0; np < FA_BK / 16; np++) {
                uint kf[4];
                fa_kfrag(kt, np, kk, kf);
                FA_MMA(s[2 * np], qh[kk], kf[0], kf[1]);
                FA_MMA(s[2 * np + 1], qh[kk], kf[2], kf[3]);
#if PF_FA_QLO
                FA_MMA(s[2 * np], ql[kk], kf[0], kf[1]);
                FA_MMA(s[2 * np + 1], ql[kk], kf[2], kf[3]);
#endif
            }
        }
        /* scale, causal mask (keys at or beyond a row's n do not exist), the cut, the tile max */
        float tmax[2] = {-INFINITY, -INFINITY};
        uint kb[2] = {0u, 0u}; /* bit 2 nt + c: key j0 + 8 nt + 2 ft + c kept, row fg + 8 y */
        if (FA_LEAN_MASK && j0 + FA_BK <= lim_lo) { /* below the diagonal: no mask */
            FA_SCORE_TILE(1)
        } else {
            FA_SCORE_TILE(j < lim[y])
        }
        float alpha[2];
        #pragma unroll
        for (int y = 0; y < 2; y++) {
            tmax[y] = fmax(tmax[y], FA_SHFL(tmax[y], 1));
            tmax[y] = fmax(tmax[y], FA_SHFL(tmax[y], 2));
            const float m_new = fixst[y] ? m_run[y] : fmax(m_run[y], tmax[y]);
            alpha[y] = m_new == -INFINITY || m_run[y] == m_new ? 1.0f : exp(m_run[y] - m_new);
            m_run[y] = m_new;
            ds[y] *= alpha[y];
            dm[y] *= alpha[y];
        }
        /* FA_S_CUT: every s is finite or -inf, and a row whose max is still -inf has only -inf
         * scores, whose weights are exp(-inf - 0) = 0 */
        const float m_ex[2] = {m_run[0] == -INFINITY ? 0.0f : m_run[0],
                               m_run[1] == -INFINITY ? 0.0f : m_run[1]};
        /* 16-key steps some row of the warp kept (bit kq): OR over the warp's lanes (emulated:
         * over the work-group, so that the multiply-adds stay uniform); dense: every step */
        uint steps = (1u << (FA_BK / 16)) - 1u;
#if PF_FA_CUT != 2 && PF_FA_SKIP
        steps = 0u;
        #pragma unroll
        for (int kq = 0; kq < FA_BK / 16; kq++)
            steps |= ((kb[0] | kb[1]) >> (4 * kq) & 0xfu) ? 1u << kq : 0u;
#if PF_MMA_LOCAL
        #pragma unroll
        for (int m = 1; m < 32; m *= 2)
            steps |= FA_SHFL_U(steps, m);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lane == 0)
            wany[w] = steps;
        barrier(CLK_LOCAL_MEM_FENCE);
        steps = wany[0] | wany[1] | wany[2] | wany[3];
#else
        asm volatile("redux.sync.or.b32 %0, %1, 0xffffffff;" : "=r"(steps) : "r"(steps));
#endif
#endif
        cnt[0] += popcount(kb[0]);
        cnt[1] += popcount(kb[1]);
        if (pass == 0) { /* the row statistics: max and Σ exp over every finite score */
            #pragma unroll
            for (int nt = 0; nt < FA_BK / 8; nt++)
                #pragma unroll
                for (int i = 0; i < 4; i++)
                    ds[i / 2] += exp(isfinite(s[nt][i]) ? s[nt][i] - m_run[i / 2] : -INFINITY);
            barrier(CLK_LOCAL_MEM_FENCE);
            continue;
        }
        if (FA_RESCALE(alpha)) {
            #pragma unroll
            for (int e = 0; e < FA_NV; e++) {
                acc[e][0] *= alpha[0], acc[e][1] *= alpha[0];
                acc[e][2] *= alpha[1], acc[e][3] *= alpha[1];
            }
        }
        if (stats) { /* kept keys of the group's heads at one position: see the end */
            uint u0 = kb[0], u1 = kb[1];
#if GROUP == 1
            uni += popcount(u0);
            uni8 += popcount(u1);
#elif 16 % GROUP == 0
            u0 |= u1; /* FA_P divides 8: rows fg and fg + 8 share the position */
            #pragma unroll
            for (int m = 4 * FA_P; m < 32; m *= 2) /* lanes whose rows share it */
                u0 |= FA_SHFL_U(u0, m);
            uni += popcount(u0);
#else
            /* a position's rows p, p + FA_P, .. are no shuffle pattern: OR them through local
             * memory, lane (p, ft) for position p < FA_P (same ft: the same keys' bits) */
            barrier(CLK_LOCAL_MEM_FENCE);
            ukb[(w * 16 + fg) * 4 + ft] = u0;
            ukb[(w * 16 + fg + 8) * 4 + ft] = u1;
            barrier(CLK_LOCAL_MEM_FENCE);
            uint un = 0u;
            for (int h = 0; h < GROUP && fg < FA_P; h++)
                un |= ukb[(w * 16 + fg + FA_P * h) * 4 + ft];
            uni += popcount(un);
#endif
        }
        /* weights and P·V per 16-key step (n-tiles 2 kq, 2 kq + 1): the accumulator layout of
         * the two n-tiles is mma.m16n8k16's A layout of the step */
        FA_UNROLL
        for (int kq = 0; kq < FA_BK / 16; kq++) {
            const int on = (steps >> kq) & 1u;
#if PF_FA_CUT
            if (!on)
                continue;
#else
            if (!on && !need_dm) /* the step's dropped sums are still wanted */
                continue;
#endif
            float p[8];
            #pragma unroll
            for (int h = 0; h < 2; h++)
                #pragma unroll
                for (int i = 0; i < 4; i++) {
                    const int y = i / 2, bit = 2 * (2 * kq + h) + i % 2;
                    const float sc = s[2 * kq + h][i];
#if FA_S_CUT && FA_LEAN_EXP
                    const float ex = FA_EXP(sc - m_ex[y]);
#else
                    const float ex = FA_EXP(isfinite(sc) ? sc - m_run[y] : -INFINITY);
#endif
                    const int keep = (kb[y] >> bit) & 1u;
                    /* PF_FA_CUT 1, 2: what is not kept is -inf already and weighs 0 */
                    const float pk = PF_FA_CUT || keep ? ex : 0.0f;
                    p[4 * h + i] = pk;
                    ds[y] += pk;
                    if (need_dm)
                        dm[y] += ex - pk;
                }
            if (!on || PF_FA_DIAG_NOPV)
                continue;
            /* A: a0 = (row fg, keys 2ft, +1) = p[0], p[1]; a1 = row fg + 8: p[2], p[3];
             * a2, a3: keys + 8 (n-tile 2 kq + 1): p[4..7] */
            uint ph[4], pl[4];
            fa_split(p, ph, pl);
            FA_UNROLL
            for (int ep = 0; ep < FA_NV / 2; ep++) {
                uint vf[4];
                fa_vfrag(vt, ep, kq, vf);
                FA_MMA(acc[2 * ep], ph, vf[0], vf[1]);
                FA_MMA(acc[2 * ep + 1], ph, vf[2], vf[3]);
#if PF_FA_PLO
                FA_MMA(acc[2 * ep], pl, vf[0], vf[1]);
                FA_MMA(acc[2 * ep + 1], pl, vf[2], vf[3]);
#endif
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* this stage is read: the tile after next may fill it */
    }

    /* Row sums over the quad; then each row's denominator, as tt_pf_attn's */
    #pragma unroll
    for (int y = 0; y < 2; y++) {
        ds[y] += FA_SHFL(ds[y], 1);
        ds[y] += FA_SHFL(ds[y], 2);
        dm[y] += FA_SHFL(dm[y], 1);
        dm[y] += FA_SHFL(dm[y], 2);
        cnt[y] += FA_SHFL_U(cnt[y], 1);
        cnt[y] += FA_SHFL_U(cnt[y], 2);
    }
    uni += FA_SHFL_U(uni, 1);
    uni += FA_SHFL_U(uni, 2);
#if GROUP == 1
    uni8 += FA_SHFL_U(uni8, 1);
    uni8 += FA_SHFL_U(uni8, 2);
#endif
    float inv[2], rest[2];
    #pragma unroll
    for (int y = 0; y < 2; y++) {
        const float dsum = ds[y], dmsum = dm[y];
        if (pass == 0 && live[y] && ft == 0) {
            rowstat[2 * row[y]] = m_run[y];
            rowstat[2 * row[y] + 1] = dsum;
        }
        float denom;
        if (kind[y] == 0) {
            denom = dsum;
        } else if (kind[y] == 1 && placement == PLACE_POST) { /* top-k ignores placement */
            denom = dsum + dmsum;
        } else {
            float miss = 0.0f;
            if (sdc == SDC_EXACT)
                miss = dmsum;
            else if (sdc == SDC_EXPTH)
                miss = (float)(rn[y] - (int)cnt[y]) *
                       exp((kind[y] == 1 && placement == PLACE_REL ? m_run[y] + th[y] : th[y]) -
                           m_run[y]);
            else if (sdc == SDC_OFFLINE && live[y])
                miss = dhats[hd[y] * q_len + pos[y]];
            denom = dsum + lambda * miss;
        }
        inv[y] = (dsum > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
        rest[y] = (vmc && kind[y] != 0) ? 1.0f - dsum * inv[y] : 0.0f;
        if (pass == 1 && live[y] && ft == 0 && stats)
            stats[row[y]] = cnt[y];
    }
    if (pass == 1 && stats && ft == 0) {
        __global uint *vr = stats + (size_t)batch * n_heads * q_len + (size_t)(b * n_kv + g) * q_len;
#if GROUP == 1
        if (live[0])
            vr[pos[0]] = uni;
        if (live[1])
            vr[pos[1]] = uni8;
#else
        if (fg < FA_P && live[0]) /* head 0's lanes (rows p < FA_P) hold each position's union */
            vr[pos[0]] = uni;
#endif
    }
    #pragma unroll
    for (int y = 0; y < 2; y++) {
        if (pass != 1 || !live[y]) /* no return before this point: see prefill.cl's end */
            continue;
        __global float *orow = o + ADDR(lay, LAY_O, b, hd[y], pos[y]);
        __global const float *vm = vmean + ((size_t)bg * q_len + pos[y]) * D;
        #pragma unroll
        for (int e = 0; e < FA_NV; e++) {
            const int d = 8 * e + 2 * ft;
            float2 out = (float2)(acc[e][2 * y], acc[e][2 * y + 1]) * inv[y];
            if (rest[y] != 0.0f)
                out += rest[y] * vload2(0, vm + d);
            vstore2(m_run[y] == -INFINITY ? (float2)(NAN) : out, 0, orow + d);
        }
    }
}
#endif

/* prefill.cl — tiled (FlashAttention-style) causal attention for a chunk of query rows. A
 * work-group owns a tile of BR "rows" = BQ query positions × the GROUP query heads of one KV head,
 * so every K/V tile in local memory serves the whole GQA group. Per 32-key tile: a 2×4 register
 * tile of scores per thread (float4 local loads along d), then the per-row pass (online softmax
 * over finite scores, the cut, kept/dropped sums, kept bitmasks) spread over all 128 threads, each
 * on its own 8 scores, and P·V only for tiles where some score passed. Causally masked tiles are
 * never visited. pass 0 only computes each row's (max, Σ exp) for cuts that need them (post-
 * softmax exact, max-relative); pass 1 does the attention. onepass visits the sink tile, then the
 * tiles from the diagonal back, and cuts post-softmax rows against the running (max, sum) — a
 * superset of the exact set; the reference (host/reference.c) defines the same order.
 * Top-k: pass 2 stores the scores of a slice of query tiles (launched at a global offset) in
 * rowstat's place, prefill_kth.cl picks each row's k-th largest, and pass 1 keeps the scores at
 * or above it; the same code computes the scores in both passes, so the cut is bit-exact. Where
 * tt_pf_fa (prefill_fa.cl) takes the last pass, its Q·Kᵀ is the same sequence of operations (Q
 * scaled by the same power of two, the same hi and lo multiply-adds per 16-dimension step, the
 * same fp16 K), so its scores are the same bits too.
 * The form for GPUs; CPU devices run prefill_rows.cl (same arguments and results). */
#define BK 32
#define NT 128
#define BQ (GROUP >= 32 ? 1 : 32 / GROUP)
#define BR (BQ * GROUP)
#define DPT (D / 4)

/* Score mapping: thread t owns row pair sr = 2·(t/8), sr+1 and keys c8 + 8x (x < 4), c8 = t%8;
 * the 8 threads of a pair keep identical copies of the pair's running max (each folds the same 8
 * partial maxima), and their own partial kept/dropped sums and counts, which share the row's
 * scaling and are added up once after the last tile. Per tile that leaves four barriers: K tile
 * free/loaded, partial maxima exchanged (Q·Kᵀ done, so V may overwrite K), weights and V ready.
 * The cut is decided before the max exchange whenever it does not depend on the running max
 * (dense rows, pre, and the fixed statistics of pass 1), so "any score kept" is known in time to
 * skip the V load.
 * One-pass post cut: each score is compared against a·(ds + dm) of the row before the tile plus
 * the whole tile's Σ exp(s − m), all at the tile's new running max (the serial kernel let ds + dm
 * grow inside the tile). That normaliser is never above the final one taken at the same max, so
 * the kept set stays a superset of the exact post-softmax set. */
#define D4 (D / 4)
#define P4 (D4 + 1) /* float4 row pitch: consecutive rows start 4 banks apart */
#define SR 32       /* score rows (16 pairs × 8 threads); rows >= BR are zero padding */
/* P·V register tile (PF_PV2, needs D % 64 == 0): a thread owns 4 rows × NV4 float4 columns
 * (dg + 16·v), reads the 4 rows' weights as one float4 from the key-major weight array and each V
 * float4 once for the 4 rows: 1 + NV4 local loads per 16·NV4 FMAs instead of one load per FMA,
 * which bounded P·V by local-memory bandwidth (H200, 8K: dense 38.8 → 32.8 ms). A key none of
 * the 4 rows kept is skipped; the one-row mapping stays for head sizes like 8 (and TT_PF_PV2=0). */
#ifndef PF_PV2
#define PF_PV2 1 /* the host's choice: host/prefill.c */
#endif
#define PV2 (PF_PV2 && D % 64 == 0)
#if PV2
#define NV4 (D4 / 16)
#define PT 36 /* key-major weights: pitch of 9 float4 so the pass's scalar stores spread */
#define PS(r, x) ps[(x) * PT + (r)]
#define PS_N (BK * PT)
#else
#define PS(r, x) ps[(r) * (BK + 1) + (x)]
#define PS_N (SR * (BK + 1))
#endif
/* P·V by warps (PF_PVW, needs the key-major weights of PV2, D = 128 and 4 warps): lane l of warp
 * w owns float4 column l of rows 8w .. 8w + 7. Per tile the warp either walks the union of its
 * rows' kept keys, each V float4 read once for the 8 rows (dense and near-dense tiles: the same
 * loads per multiply-add as PV2), or each row's own kept keys (sparse tiles: a kept pair costs a
 * V read, but dropped pairs cost nothing, where PV2 pays for every key some row of its warp
 * kept). A tile goes sparse when kept pairs × PVW_K < union keys × 8. Rows' kept masks meet in
 * local memory by atomic OR. The host takes it with PF_MMA where PF_PVM is off (TT_PF_PVM=0,
 * host/prefill.c): with scalar Q·Kᵀ it made the H100's dense prefill slower (8K: 36.4 vs 33.6
 * ms), with tensor cores faster; P·V on tensor cores beat it for dense and Top-θ alike. */
#ifndef PF_PVW
#define PF_PVW 0
#endif
/* P·V on tensor cores (PF_PVM, with PF_MMA, D 64 or 128): warp w multiplies the 16 rows
 * 16 (w % 2) .. of the weights by V's dimensions (D / 2)(w / 2) .. as mma.m16n8k16 steps, the
 * weights as two fp16 halves (hi + lo, as Q for Q·Kᵀ: ~22 bits, the fp32 loops' accuracy), V
 * as stored. The V tile goes to local memory as fp16 pairs of consecutive keys per dimension
 * (B's fragment layout), in K's place. A Top-θ tile skips the 16-key blocks no row kept; dropped
 * pairs inside a block cost what kept ones do, so this is dense P·V with zeros (host/prefill.c
 * says where each form pays). */
#ifndef PF_PVM
#define PF_PVM 0
#endif
#define PVM (PF_PVM && PF_MMA && PV2 && (D == 64 || D == 128) && NT == 128)
#define VP 20 /* uint pitch of a dimension's key pairs: B's 8 × 4 lanes hit 32 banks */
#define NTW (D / 16) /* 8-dimension n-tiles per warp */
#define PVW (PF_PVW && !PVM && PV2 && D == 128 && NT == 128)
#ifndef PVW_K
#define PVW_K 3
#endif
#if KV_F16
#define LOAD_KV4(p, base, i) vload_half4((i), (p) + (base))
#else
#define LOAD_KV4(p, base, i) vload4((i), (p) + (base))
#endif

/* Q·Kᵀ on tensor cores (PF_MMA; host: NVIDIA devices whose probe passed, fp16 K with rows on
 * 16-byte boundaries, D % 16 == 0): each of the 4 warps takes 16 rows × 16 keys of the 32 × 32
 * score tile as mma.m16n8k16 steps (tt_mma_16816 of mma.cl): A = Q rows in fp16, B = the K tile
 * as stored, fp32 sums. Q goes in as two fp16 halves, hi + lo (~22 bits), after a power of two
 * per row brings its largest |q| to [2^13, 2^14) (undone on the scores); both halves sit in local
 * memory for the whole kernel, the K tile is copied as stored (no conversion), and the scores
 * meet in local memory where the per-row pass reads them as before. PF_MMA_LOCAL runs the same
 * bookkeeping with the multiply-add emulated (tt_mma_local of mma_local.cl: tests on any device). */
#ifndef PF_MMA
#define PF_MMA 0
#endif
#ifndef PF_MMA_LOCAL
#define PF_MMA_LOCAL 0
#endif
#if PF_MMA && !KV_F16
#error "PF_MMA needs fp16 K"
#endif
#if PF_MMA
#define QP (D / 2 + 4) /* uint pitch of fp16 rows: row g + 1 starts 4 banks after row g */
#if PF_MMA_LOCAL
#define PF_MMA_OP(c, a0, a1, a2, a3, b0, b1) tt_mma_local(mx, c, a0, a1, a2, a3, b0, b1)
#else
#define PF_MMA_OP(c, a0, a1, a2, a3, b0, b1) tt_mma_16816(c, a0, a1, a2, a3, b0, b1)
#endif
/* The fp16 value nearest x, as a float. */
inline float pf_half_round(float x)
{
    ushort h[1];
    vstore_half_rte(x, 0, (__private half *)h);
    return vload_half(0, (__private const half *)h);
}
#endif

/* A pair thread's kept bits (bit x: key c8 + 8x) as bits of the tile's 32 keys. */
inline uint pf_tile_bits(uint kept, int c8)
{
    return ((kept & 1u) << c8) | ((kept >> 1 & 1u) << (c8 + 8)) | ((kept >> 2 & 1u) << (c8 + 16)) |
           ((kept >> 3 & 1u) << (c8 + 24));
}

/* Kept keys of query position i (bit positions shared by the GQA heads) for key group c8. */
inline uint pf_union(__local const uint *bits, int i, int c8)
{
    uint u = 0u;
    for (int hh = 0; hh < GROUP; hh++)
        u |= bits[(hh * BQ + i) * 8 + c8];
    return u;
}

#if !PF_FA /* a program for tt_pf_fa (prefill_fa.cl) leaves this kernel out: half the build */
__kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void tt_pf_attn(__global const float *q, __global const KV_T *k, __global const KV_T *v,
                __constant uint *lay, int n_heads, int q_len, int kv_len, float scale, int pass,
                int mode, int placement, int sdc, float lambda, int vmc, int k_eff, int onepass,
                __global const float *thetas, __global const float *dhats,
                __global float *rowstat, __global const float *vmean, __global float *o,
                __global uint *stats, int batch)
{
    /* the query tile counts the launch's offset (pass 2 runs in slices of tiles) */
    const int t = get_local_id(0), qt = (int)((get_global_id(0) - t) / NT), bg = get_group_id(1);
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int q0 = qt * BQ, p0 = kv_len - q_len;
#if PF_MMA
    __local uint qh[SR * QP], ql[SR * QP]; /* Q rows' fp16 hi and lo halves, row-scaled */
    __local float fsc[SR];                 /* 2^e of row r: undoes its scaling on the scores */
#if PF_MMA_LOCAL
    __local float mx[6 * NT];
#endif
#else
    __local float4 qs[SR][P4];
#endif
    __local float4 kvs[BK][P4];
    __local float ps[PS_N];
    __local float red_m[SR][8], red_z[SR][8];
    __local uint bits[SR][8];
#if PVW
    __local uint rmask[SR]; /* kept keys of row r in this tile, bit x: key x */
#endif
    __local float alpha[SR], fin_inv[SR], fin_rest[SR];
    __local int fin_empty[SR], kept_any[2];
    __local uint pmask;    /* PVM: keys some row of the tile kept (weights pass, this tile) */
    __local const float *vf = (__local const float *)kvs;

#if PF_MMA
    { /* 4 work-items per row find its largest |q|, then every pair of dimensions is split */
        const int r = t / 4, i = q0 + r % BQ;
        float mq = 0.0f;
        if (r < BR && i < q_len)
            for (int d = t % 4; d < D; d += 4)
                mq = fmax(mq, fabs(q[ADDR(lay, LAY_Q, b, g * GROUP + r / BQ, i) + d]));
        red_m[r][t % 4] = mq;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int x = t; x < SR * (D / 2); x += NT) {
        const int r = x / (D / 2), u = x % (D / 2), i = q0 + r % BQ;
        const float mq = fmax(fmax(red_m[r][0], red_m[r][1]), fmax(red_m[r][2], red_m[r][3]));
        const int e = mq > 0.0f && mq < INFINITY ? clamp(ilogb(mq) - 13, -100, 100) : 0;
        float2 qv = (float2)(0.0f);
        if (r < BR && i < q_len)
            qv = vload2(u, q + ADDR(lay, LAY_Q, b, g * GROUP + r / BQ, i)) * ldexp(1.0f, -e);
        const float h0 = pf_half_round(qv.x), h1 = pf_half_round(qv.y);
        qh[r * QP + u] = tt_mma_pack(h0, h1);
        ql[r * QP + u] = tt_mma_pack(qv.x - h0, qv.y - h1);
        if (u == 0)
            fsc[r] = ldexp(1.0f, e);
    }
#else
    for (int x = t; x < SR * D4; x += NT) {
        const int r = x / D4, d4 = x % D4, i = q0 + r % BQ;
        qs[r][d4] = r < BR && i < q_len
                        ? vload4(d4, q + ADDR(lay, LAY_Q, b, g * GROUP + r / BQ, i))
                        : (float4)(0.0f);
    }
#endif
    if (t == 0)
        kept_any[0] = 0;
    const int c8 = t % 8, sr = 2 * (t / 8);
    const int op = onepass && pass == 1;
    /* The dropped mass is only read by post-softmax rows and exact SDC; elsewhere it is not
     * summed. */
    const int need_dm = pass == 1 && (placement == PLACE_POST || sdc == SDC_EXACT);
    /* Per-row constants and running state of rows sr + y. */
    int live[2], kind[2], rn[2], fixst[2];
    float m_run[2], z_fix[2], th[2], ds[2], dm[2];
    uint cnt[2];
    #pragma unroll
    for (int y = 0; y < 2; y++) {
        const int r = sr + y, i = q0 + r % BQ, h = g * GROUP + r / BQ;
        live[y] = r < BR && i < q_len;
        rn[y] = p0 + i + 1;
        /* cut kind as in tt_keep: 0 dense row, 1 θ, 2 top-k (thetas holds each row's k-th
         * largest score, from pass 2 and prefill_kth.cl) */
        kind[y] = mode == MODE_DENSE || rn[y] <= k_eff || k_eff <= 0 ? 0
                  : mode == MODE_TOPK                                  ? 2
                                                                       : 1;
        fixst[y] = pass == 1 && rowstat && live[y];
        const int row = (b * n_heads + h) * q_len + i;
        th[y] = !live[y] || kind[y] == 0 ? 0.0f
                : kind[y] == 1           ? thetas[h * q_len + i]
                                         : thetas[row];
        m_run[y] = fixst[y] ? rowstat[2 * row] : -INFINITY;
        z_fix[y] = fixst[y] ? rowstat[2 * row + 1] : 1.0f;
        ds[y] = dm[y] = 0.0f;
        cnt[y] = 0u;
    }
    uint uni0 = 0u, uni1 = 0u; /* union counts of (position, key group) t and t + NT */
#if PVM
    /* lane (vg, vq) of warp t / 32: rows vr0 + vg, + 8 and dimensions vd0 + 8 nt + 2 vq, + 1 */
    const int vg = (t % 32) / 4, vq = t % 4, vr0 = 16 * (t / 32 % 2), vd0 = (D / 2) * (t / 64);
    float cacc[NTW][4];
    #pragma unroll
    for (int e = 0; e < NTW; e++)
        cacc[e][0] = cacc[e][1] = cacc[e][2] = cacc[e][3] = 0.0f;
#elif PVW
    const int pw = t / 32, pl = t % 32;
    float4 accw[8];
    #pragma unroll
    for (int e = 0; e < 8; e++)
        accw[e] = (float4)(0.0f);
#elif PV2
    const int rq = t / 16, dg = t % 16;
    float4 acc4[4][NV4];
    #pragma unroll
    for (int e = 0; e < 4; e++)
        #pragma unroll
        for (int v = 0; v < NV4; v++)
            acc4[e][v] = (float4)(0.0f);
#else
    /* Output mapping: thread owns row t/4, dimensions (t%4) + 4j. */
    const int orow = t / 4, oc = t % 4;
    float acc[DPT];
    for (int j = 0; j < DPT; j++)
        acc[j] = 0.0f;
#endif

    const int last_i = min(q0 + BQ, q_len) - 1;
    const int ntile = (p0 + last_i + 1 + BK - 1) / BK;
    for (int it = 0; it < ntile; it++) {
        /* one-pass: the sink tile, then from the last tile back (the work-group's last tile may
         * lie past some rows' diagonal: for them it is all masked and changes nothing) */
        const int tile = !onepass || it == 0 ? it : ntile - it;
        const int j0 = tile * BK;
        barrier(CLK_LOCAL_MEM_FENCE);
#if PF_MMA
        { /* the K tile as stored: 8 halves per uint4, rows at a pitch of QP uints */
            __local uint *kh = (__local uint *)kvs;
            for (int x = t; x < BK * (D / 8); x += NT) {
                const int kk = x / (D / 8), u = x % (D / 8);
                uint4 val = (uint4)(0u);
                if (j0 + kk < kv_len)
                    val = *((__global const uint4 *)((__global const ushort *)k +
                                                    ADDR(lay, LAY_K, b, g, j0 + kk)) + u);
                *(__local uint4 *)(kh + kk * QP + 4 * u) = val;
            }
        }
#else
        for (int x = t; x < BK * D4; x += NT) {
            const int kk = x / D4, d4 = x % D4;
            kvs[kk][d4] = j0 + kk < kv_len ? LOAD_KV4(k, ADDR(lay, LAY_K, b, g, j0 + kk), d4)
                                           : (float4)(0.0f);
        }
#endif
        /* cleared one tile ahead: this tile's flag is set before the max exchange, read after */
        if (t == 0) {
            kept_any[(it + 1) & 1] = 0;
            pmask = 0u; /* last read after the previous tile's last barrier */
        }
#if PVW
        if (t < SR)
            rmask[t] = 0u;
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
#if PF_MMA
        { /* warp w: rows 16 (w % 2) .. + 15, keys 16 (w / 2) .. + 15 as two 8-key n-tiles */
            const int w = t / 32, gi = (t % 32) / 4, ti = t % 4;
            const int r0 = 16 * (w % 2) + gi, n0 = 16 * (w / 2) + gi;
            __local const uint *kh = (__local const uint *)kvs;
            float c[2][4] = {{0.0f}};
            for (int kk = 0; kk < D / 16; kk++) {
                const int u = 8 * kk + ti; /* dimensions 16 kk + 2 ti, + 1 (and + 8, + 9 at u + 4) */
                const uint h0 = qh[r0 * QP + u], h1 = qh[(r0 + 8) * QP + u];
                const uint h2 = qh[r0 * QP + u + 4], h3 = qh[(r0 + 8) * QP + u + 4];
                const uint l0 = ql[r0 * QP + u], l1 = ql[(r0 + 8) * QP + u];
                const uint l2 = ql[r0 * QP + u + 4], l3 = ql[(r0 + 8) * QP + u + 4];
                #pragma unroll
                for (int nn = 0; nn < 2; nn++) {
                    const uint b0 = kh[(n0 + 8 * nn) * QP + u], b1 = kh[(n0 + 8 * nn) * QP + u + 4];
                    PF_MMA_OP(c[nn], h0, h1, h2, h3, b0, b1);
                    PF_MMA_OP(c[nn], l0, l1, l2, l3, b0, b1);
                }
            }
            /* c[nn][i]: row r0 + 8 (i / 2), key 16 (w / 2) + 8 nn + 2 ti + i % 2; the scores go
             * to the weights' array (free until the per-row pass writes it, after a barrier) */
            #pragma unroll
            for (int nn = 0; nn < 2; nn++)
                #pragma unroll
                for (int i = 0; i < 4; i++) {
                    const int r = r0 + 8 * (i / 2);
                    ps[r * (BK + 1) + 16 * (w / 2) + 8 * nn + 2 * ti + i % 2] = c[nn][i] * fsc[r];
                }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float s[2][4];
        #pragma unroll
        for (int y = 0; y < 2; y++)
            #pragma unroll
            for (int x = 0; x < 4; x++)
                s[y][x] = ps[(sr + y) * (BK + 1) + c8 + 8 * x];
#else
        float s[2][4] = {{0.0f}};
        for (int d4 = 0; d4 < D4; d4++) {
            const float4 qa = qs[sr][d4], qb = qs[sr + 1][d4];
            #pragma unroll
            for (int x = 0; x < 4; x++) {
                const float4 kv = kvs[c8 + 8 * x][d4];
                s[0][x] = fma(qa.x, kv.x, s[0][x]);
                s[1][x] = fma(qb.x, kv.x, s[1][x]);
                s[0][x] = fma(qa.y, kv.y, s[0][x]);
                s[1][x] = fma(qb.y, kv.y, s[1][x]);
                s[0][x] = fma(qa.z, kv.z, s[0][x]);
                s[1][x] = fma(qb.z, kv.z, s[1][x]);
                s[0][x] = fma(qa.w, kv.w, s[0][x]);
                s[1][x] = fma(qb.w, kv.w, s[1][x]);
            }
        }
#endif
        uint kb[2] = {0u, 0u};
        #pragma unroll
        for (int y = 0; y < 2; y++) {
            float pm = -INFINITY;
            #pragma unroll
            for (int x = 0; x < 4; x++) { /* causal mask: keys at or beyond n do not exist */
                const float sc = live[y] && j0 + c8 + 8 * x < rn[y] ? s[y][x] * scale : -INFINITY;
                s[y][x] = sc;
                if (isfinite(sc))
                    pm = fmax(pm, sc);
                if (pass == 1 && !op && tt_keep(sc, kind[y], placement, m_run[y], z_fix[y], th[y]))
                    kb[y] |= 1u << x;
                /* top-k's pass 2: the slice's scores as pass 1 will see them */
                if (pass == 2 && live[y] && j0 + c8 + 8 * x < rn[y])
                    rowstat[((size_t)(get_group_id(0) * get_num_groups(1) + bg) * SR + sr + y) *
                                kv_len + j0 + c8 + 8 * x] = sc;
            }
            if (op) { /* partial normaliser relative to this thread's max */
                const float lm = fmax(m_run[y], pm);
                float z = 0.0f;
                if (lm != -INFINITY) {
                    z = (ds[y] + dm[y]) * exp(m_run[y] - lm);
                    #pragma unroll
                    for (int x = 0; x < 4; x++)
                        if (isfinite(s[y][x]))
                            z += exp(s[y][x] - lm);
                }
                pm = lm;
                red_z[sr + y][c8] = z;
            }
            red_m[sr + y][c8] = pm;
        }
        if (kb[0] | kb[1])
            kept_any[it & 1] = 1;
        barrier(CLK_LOCAL_MEM_FENCE);
#ifdef PF_DIAG_NOPV /* experiment: everything but P·V, to split the time */
        const int pv = 0;
#else
        const int pv = pass == 1 && (op || kept_any[it & 1]);
#endif
#if PVM
        if (pv) { /* V as fp16 pairs of keys (2 kp, 2 kp + 1) per dimension: B's fragments */
            __local uint *vt = (__local uint *)kvs;
            for (int x = t; x < (BK / 2) * (D / 8); x += NT) {
                const int kp = x % (BK / 2), u = x / (BK / 2), j = j0 + 2 * kp;
                uint4 v0 = (uint4)(0u), v1 = (uint4)(0u);
                if (j < kv_len)
                    v0 = *((__global const uint4 *)((__global const ushort *)v +
                                                    ADDR(lay, LAY_V, b, g, j)) + u);
                if (j + 1 < kv_len)
                    v1 = *((__global const uint4 *)((__global const ushort *)v +
                                                    ADDR(lay, LAY_V, b, g, j + 1)) + u);
                __local uint *dv = vt + 8 * u * VP + kp; /* dimension 8u + e at dv[e · VP] */
                dv[0 * VP] = (v0.x & 0xffffu) | (v1.x << 16);
                dv[1 * VP] = (v0.x >> 16) | (v1.x & 0xffff0000u);
                dv[2 * VP] = (v0.y & 0xffffu) | (v1.y << 16);
                dv[3 * VP] = (v0.y >> 16) | (v1.y & 0xffff0000u);
                dv[4 * VP] = (v0.z & 0xffffu) | (v1.z << 16);
                dv[5 * VP] = (v0.z >> 16) | (v1.z & 0xffff0000u);
                dv[6 * VP] = (v0.w & 0xffffu) | (v1.w << 16);
                dv[7 * VP] = (v0.w >> 16) | (v1.w & 0xffff0000u);
            }
        }
#else
        if (pv) { /* Q·Kᵀ is done everywhere: V takes K's place, only when some score passed */
            for (int x = t; x < BK * D4; x += NT) {
                const int kk = x / D4, d4 = x % D4;
                kvs[kk][d4] = j0 + kk < kv_len ? LOAD_KV4(v, ADDR(lay, LAY_V, b, g, j0 + kk), d4)
                                               : (float4)(0.0f);
            }
        }
#endif
        uint kq = 0u; /* keys either row of the pair kept (bit x: key c8 + 8x) */
        #pragma unroll
        for (int y = 0; y < 2; y++) {
            const int r = sr + y;
            float mt = -INFINITY;
            #pragma unroll
            for (int c = 0; c < 8; c++)
                mt = fmax(mt, red_m[r][c]);
            const float m_new = fixst[y] ? m_run[y] : fmax(m_run[y], mt);
            const float a = m_new == -INFINITY || m_run[y] == m_new ? 1.0f : exp(m_run[y] - m_new);
            float zc = z_fix[y];
            if (op) { /* one-pass post: a·(ds + dm) before the tile + the whole tile's Σ exp */
                zc = 0.0f;
                #pragma unroll
                for (int c = 0; c < 8; c++)
                    if (red_m[r][c] != -INFINITY)
                        zc += red_z[r][c] * exp(red_m[r][c] - m_new);
            }
            ds[y] *= a;
            dm[y] *= a;
            m_run[y] = m_new;
            uint kept = 0u;
            #pragma unroll
            for (int x = 0; x < 4; x++) {
                const float sc = s[y][x];
                float w = 0.0f;
                const int keep = pass == 1 && isfinite(sc) &&
                                 (op ? tt_keep(sc, kind[y], placement, m_new, zc, th[y])
                                     : (kb[y] >> x) & 1u);
                /* Every score's exponential, kept or not, without a branch: lanes of a warp
                 * that disagree on keep ran both sides (H100, 8K, keep 0.1 and 0.3: +0.6 ms of
                 * ~14 against keep 1 or 0.02); dense rows pay it anyway. Masked: exp(-inf) = 0. */
                const float e = exp(isfinite(sc) ? sc - m_new : -INFINITY);
                if (pass == 0) {
                    ds[y] += e;
                } else {
                    w = keep ? e : 0.0f;
                    ds[y] += w;
                    if (need_dm)
                        dm[y] += keep ? 0.0f : e;
                    cnt[y] += (uint)keep;
                    kept |= (uint)keep << x;
                }
                PS(r, c8 + 8 * x) = w;
            }
            bits[r][c8] = kept;
#if PVM
            if (kept)
                atomic_or(&pmask, pf_tile_bits(kept, c8));
#elif PVW
            if (kept)
                atomic_or(&rmask[r], pf_tile_bits(kept, c8));
#endif
            kq |= kept;
            if (c8 == 0)
                alpha[r] = a;
        }
        /* Also in pass 0: barriers stay in code every work-item runs (see the note below). */
        barrier(CLK_LOCAL_MEM_FENCE);
        if (pass == 1) {
            /* union of kept keys over the group's heads, per query position and key group */
            if (t < BQ * 8)
                uni0 += popcount(pf_union(&bits[0][0], t / 8, t % 8));
            if (t + NT < BQ * 8)
                uni1 += popcount(pf_union(&bits[0][0], (t + NT) / 8, t % 8));
#if PVM
            const float al0 = alpha[vr0 + vg], al1 = alpha[vr0 + vg + 8];
            #pragma unroll
            for (int e = 0; e < NTW; e++) {
                cacc[e][0] *= al0, cacc[e][1] *= al0;
                cacc[e][2] *= al1, cacc[e][3] *= al1;
            }
            if (pv) {
                const uint pm = pmask; /* the same in every work-item: the emulation's barriers */
                __local const uint *vt = (__local const uint *)kvs;
                #pragma unroll
                for (int kb = 0; kb < BK / 16; kb++) {
                    if (!((pm >> (16 * kb)) & 0xffffu))
                        continue;
                    /* A: weights of rows vr0 + vg (+ 8), keys 16 kb + 2 vq, + 1 (+ 8, + 9) */
                    const int k0 = 16 * kb + 2 * vq, r0 = vr0 + vg;
                    float pw8[8] = {PS(r0, k0),         PS(r0, k0 + 1),     PS(r0 + 8, k0),
                                    PS(r0 + 8, k0 + 1), PS(r0, k0 + 8),     PS(r0, k0 + 9),
                                    PS(r0 + 8, k0 + 8), PS(r0 + 8, k0 + 9)};
                    float hi8[8];
                    #pragma unroll
                    for (int e = 0; e < 8; e++)
                        hi8[e] = pf_half_round(pw8[e]);
                    const uint ah0 = tt_mma_pack(hi8[0], hi8[1]), ah1 = tt_mma_pack(hi8[2], hi8[3]);
                    const uint ah2 = tt_mma_pack(hi8[4], hi8[5]), ah3 = tt_mma_pack(hi8[6], hi8[7]);
                    const uint aw0 = tt_mma_pack(pw8[0] - hi8[0], pw8[1] - hi8[1]);
                    const uint aw1 = tt_mma_pack(pw8[2] - hi8[2], pw8[3] - hi8[3]);
                    const uint aw2 = tt_mma_pack(pw8[4] - hi8[4], pw8[5] - hi8[5]);
                    const uint aw3 = tt_mma_pack(pw8[6] - hi8[6], pw8[7] - hi8[7]);
                    #pragma unroll
                    for (int e = 0; e < NTW; e++) {
                        __local const uint *bv = vt + (vd0 + 8 * e + vg) * VP + 8 * kb + vq;
                        const uint b0 = bv[0], b1 = bv[4];
                        PF_MMA_OP(cacc[e], ah0, ah1, ah2, ah3, b0, b1);
                        PF_MMA_OP(cacc[e], aw0, aw1, aw2, aw3, b0, b1);
                    }
                }
            }
#elif PVW
            const float4 al0 = vload4(2 * pw, alpha), al1 = vload4(2 * pw + 1, alpha);
            accw[0] *= al0.x, accw[1] *= al0.y, accw[2] *= al0.z, accw[3] *= al0.w;
            accw[4] *= al1.x, accw[5] *= al1.y, accw[6] *= al1.z, accw[7] *= al1.w;
            if (pv) {
                uint m8[8], un = 0u;
                int k8 = 0;
                #pragma unroll
                for (int e = 0; e < 8; e++) {
                    m8[e] = rmask[8 * pw + e];
                    un |= m8[e];
                    k8 += popcount(m8[e]);
                }
                if (k8 * PVW_K >= (int)popcount(un) * 8) { /* the union, V read once */
                    for (uint m = un; m; m &= m - 1u) {
                        const int x = 31 - clz(m & (0u - m));
                        const float4 p0 = vload4(0, ps + x * PT + 8 * pw);
                        const float4 p1 = vload4(0, ps + x * PT + 8 * pw + 4);
                        const float4 vv = kvs[x][pl];
                        accw[0] = fma((float4)(p0.x), vv, accw[0]);
                        accw[1] = fma((float4)(p0.y), vv, accw[1]);
                        accw[2] = fma((float4)(p0.z), vv, accw[2]);
                        accw[3] = fma((float4)(p0.w), vv, accw[3]);
                        accw[4] = fma((float4)(p1.x), vv, accw[4]);
                        accw[5] = fma((float4)(p1.y), vv, accw[5]);
                        accw[6] = fma((float4)(p1.z), vv, accw[6]);
                        accw[7] = fma((float4)(p1.w), vv, accw[7]);
                    }
                } else { /* each row's own kept keys */
                    #pragma unroll
                    for (int e = 0; e < 8; e++)
                        for (uint m = m8[e]; m; m &= m - 1u) {
                            const int x = 31 - clz(m & (0u - m));
                            accw[e] = fma((float4)(ps[x * PT + 8 * pw + e]), kvs[x][pl], accw[e]);
                        }
                }
            }
#elif PV2
            const float4 a4 = vload4(rq, alpha);
            #pragma unroll
            for (int v = 0; v < NV4; v++) {
                acc4[0][v] *= a4.x;
                acc4[1][v] *= a4.y;
                acc4[2][v] *= a4.z;
                acc4[3][v] *= a4.w;
            }
            if (pv) {
                for (int x = 0; x < BK; x++) {
                    const float4 p = vload4(0, ps + x * PT + 4 * rq);
                    if (any(p != (float4)(0.0f))) {
                        #pragma unroll
                        for (int v = 0; v < NV4; v++) {
                            const float4 vv = kvs[x][dg + 16 * v];
                            acc4[0][v] = fma((float4)(p.x), vv, acc4[0][v]);
                            acc4[1][v] = fma((float4)(p.y), vv, acc4[1][v]);
                            acc4[2][v] = fma((float4)(p.z), vv, acc4[2][v]);
                            acc4[3][v] = fma((float4)(p.w), vv, acc4[3][v]);
                        }
                    }
                }
            }
#else
            if (orow < BR) {
                const float a = alpha[orow];
                for (int j = 0; j < DPT; j++)
                    acc[j] *= a;
                if (pv) {
                    for (int x = 0; x < BK; x++) {
                        const float p = PS(orow, x);
                        if (p != 0.0f)
                            for (int j = 0; j < DPT; j++)
                                acc[j] = fma(p, vf[x * 4 * P4 + oc + 4 * j], acc[j]);
                    }
                }
            }
#endif
        }
    }
    /* No early return for pass 0: PoCL's work-group compiler mishandled a return before the
     * final barrier (guards after it stopped holding), so both passes run the same code and only
     * the stores depend on the pass. Partial sums of the 8 threads of a row pair meet in local
     * memory (red_m: kept, red_z: dropped, bits: count, ps: union counts). */
    barrier(CLK_LOCAL_MEM_FENCE);
    __local uint *uc = (__local uint *)ps;
    #pragma unroll
    for (int y = 0; y < 2; y++) {
        red_m[sr + y][c8] = ds[y];
        red_z[sr + y][c8] = dm[y];
        bits[sr + y][c8] = cnt[y];
    }
    uc[t] = uni0;
    uc[t + NT] = uni1;
    barrier(CLK_LOCAL_MEM_FENCE);
    #pragma unroll
    for (int y = 0; y < 2; y++) {
        const int r = sr + y, i = q0 + r % BQ, h = g * GROUP + r / BQ;
        if (c8 != 0 || r >= BR)
            continue;
        const int row = (b * n_heads + h) * q_len + i;
        float dsum = 0.0f, dmsum = 0.0f;
        uint csum = 0u;
        #pragma unroll
        for (int c = 0; c < 8; c++) {
            dsum += red_m[r][c];
            dmsum += red_z[r][c];
            csum += bits[r][c];
        }
        if (pass == 0 && live[y]) {
            rowstat[2 * row] = m_run[y];
            rowstat[2 * row + 1] = dsum;
        }
        float denom;
        if (kind[y] == 0) {
            denom = dsum;
        } else if (kind[y] == 1 && placement == PLACE_POST) {
            denom = dsum + dmsum;
        } else {
            float miss = 0.0f;
            if (sdc == SDC_EXACT)
                miss = dmsum;
            else if (sdc == SDC_EXPTH)
                miss = (float)(rn[y] - (int)csum) *
                       exp((kind[y] == 1 && placement == PLACE_REL ? m_run[y] + th[y] : th[y]) -
                           m_run[y]);
            else if (sdc == SDC_OFFLINE && live[y])
                miss = dhats[h * q_len + i];
            denom = dsum + lambda * miss;
        }
        const float inv = (dsum > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
        fin_inv[r] = inv;
        fin_rest[r] = (vmc && kind[y] != 0) ? 1.0f - dsum * inv : 0.0f;
        fin_empty[r] = m_run[y] == -INFINITY;
        if (pass == 1 && live[y] && stats)
            stats[row] = csum;
    }
    if (pass == 1 && t < BQ && q0 + t < q_len && stats) {
        uint u = 0u;
        #pragma unroll
        for (int c = 0; c < 8; c++)
            u += uc[t * 8 + c];
        stats[(size_t)batch * n_heads * q_len + (size_t)(b * n_kv + g) * q_len + q0 + t] = u;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#if PVM
    #pragma unroll
    for (int e = 0; e < NTW; e++)
        #pragma unroll
        for (int hh = 0; hh < 2; hh++) {
            const int orow = vr0 + vg + 8 * hh, oi = q0 + orow % BQ, d = vd0 + 8 * e + 2 * vq;
            if (pass != 1 || orow >= BR || oi >= q_len)
                continue;
            const int h = g * GROUP + orow / BQ;
            const uint ob = ADDR(lay, LAY_O, b, h, oi);
            const float inv = fin_inv[orow], rest = fin_rest[orow];
            float2 out = (float2)(cacc[e][2 * hh], cacc[e][2 * hh + 1]) * inv;
            if (rest != 0.0f)
                out += rest * vload2(0, vmean + ((size_t)bg * q_len + oi) * D + d);
            vstore2(fin_empty[orow] ? (float2)(NAN) : out, 0, o + ob + d);
        }
#elif PVW
    #pragma unroll
    for (int e = 0; e < 8; e++) {
        const int orow = 8 * pw + e, oi = q0 + orow % BQ;
        if (pass != 1 || orow >= BR || oi >= q_len)
            continue;
        const int h = g * GROUP + orow / BQ;
        const uint ob = ADDR(lay, LAY_O, b, h, oi);
        const float inv = fin_inv[orow], rest = fin_rest[orow];
        float4 out = accw[e] * inv;
        if (rest != 0.0f)
            out += rest * vload4(pl, vmean + ((size_t)bg * q_len + oi) * D);
        vstore4(fin_empty[orow] ? (float4)(NAN) : out, pl, o + ob);
    }
#elif PV2
    #pragma unroll
    for (int e = 0; e < 4; e++) {
        const int orow = 4 * rq + e, oi = q0 + orow % BQ;
        if (pass != 1 || orow >= BR || oi >= q_len)
            continue;
        const int h = g * GROUP + orow / BQ;
        const uint ob = ADDR(lay, LAY_O, b, h, oi);
        const float inv = fin_inv[orow], rest = fin_rest[orow];
        #pragma unroll
        for (int v = 0; v < NV4; v++) {
            const int d4 = dg + 16 * v;
            float4 out = acc4[e][v] * inv;
            if (rest != 0.0f)
                out += rest * vload4(d4, vmean + ((size_t)bg * q_len + oi) * D);
            vstore4(fin_empty[orow] ? (float4)(NAN) : out, d4, o + ob);
        }
    }
#else
    const int oi = q0 + orow % BQ;
    if (pass == 1 && orow < BR && oi < q_len) {
        const int h = g * GROUP + orow / BQ;
        const uint ob = ADDR(lay, LAY_O, b, h, oi);
        const float inv = fin_inv[orow], rest = fin_rest[orow];
        for (int j = 0; j < DPT; j++) {
            const int d = oc + 4 * j;
            float out = acc[j] * inv;
            if (rest != 0.0f)
                out += rest * vmean[((size_t)bg * q_len + oi) * D + d];
            o[ob + d] = fin_empty[orow] ? NAN : out;
        }
    }
#endif
}
#endif

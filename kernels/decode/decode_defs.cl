/* decode_defs.cl — compile-time parameters and helpers shared by decode's work-group kernels
 * (decode_scores.cl, decode.cl, decode_merge.cl, decode_rows.cl): the vector types and K/V loads
 * per VEC, ALIGNED and KV_F16, the work-group layout (KPT, TPR, LANES), the reductions' local
 * layout, the per-call arguments (dec_args) and the defaults of the optional switches. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VEC == 1
#define floatv float
#define kvraw float
#define RAW_LOAD(p) LOAD_KV(p, 0)
#define RAW_CVT(r) (r)
#define VLOAD_KV(p) LOAD_KV(p, 0)
#define VLOAD_F(p) ((p)[0])
#define HSUM(a) (a)
#else
#define floatv CAT(float, VEC)
#ifndef F16CVT
#define F16CVT 0
#endif
#ifndef PVU
#define PVU 4 /* V rows loaded per step of a P·V thread */
#endif
#ifndef DEC_CPU
/* 1: the CPU forms (host/decode.c chooses by device type). A P·V lane walks a block of
 * consecutive kept rows instead of every LANES-th one, so the TPR threads that share a row find
 * its cache lines in L1 (interleaved, a thread's rows are LANES·row bytes apart and evict each
 * other before its neighbours read them); see also dec_row_mz. */
#define DEC_CPU 0
#endif
#if DEC_CPU /* and the P·V loops unrolled, so that PoCL keeps the accumulators in registers */
#define PV_UNROLL _Pragma("unroll")
#else
#define PV_UNROLL /* GPUs: left to the compiler, as timed on the H200 */
#endif
#ifndef KCOAL
#define KCOAL 0 /* 1: K rows read by TPR threads each (coalesced), see dec_scores */
#endif
#ifndef KCU
#define KCU 4 /* K rows per thread in flight when KCOAL */
#endif
#if ALIGNED
/* The host checked that every K/V row start is a multiple of VEC elements, so one load of a
 * naturally aligned vector type fetches VEC elements. vloadN only assumes the scalar's alignment,
 * and some compilers (NVIDIA's) then issue one 2- or 4-byte load per element, which costs most
 * of the bandwidth on a memory-bound kernel. fp16 is converted in registers. */
#if KV_F16 && F16CVT
/* fp16 bits to float with integer operations (exact, subnormals and Inf/NaN included), for
 * compilers that would put the vload_half round trip below through memory. */
#define rawv CAT(uint, VEC)
#define floatv_bits(x) CAT(as_, floatv)(x)
inline floatv dec_h2f(rawv h)
{
    rawv e = h & 0x7fffu;
    rawv norm = (e << 13) + 0x38000000u;
    rawv inf = (e << 13) | 0x7f800000u;
    floatv sub = CAT(convert_, floatv)(e) * 0x1p-24f;
    rawv mag = e >= (rawv)0x7c00u ? inf : e >= (rawv)0x0400u ? norm : CAT(as_, rawv)(sub);
    return floatv_bits(mag | ((h & 0x8000u) << 16));
}
#define kvraw CAT(ushort, VEC)
#define RAW_LOAD(p) (*(__global const kvraw *)(p))
#define RAW_CVT(r) dec_h2f(CAT(convert_, rawv)(r))
#elif KV_F16
#define rawv CAT(ushort, VEC)
inline floatv dec_h2f(rawv r)
{
    __private rawv tmp = r;
    return CAT(vload_half, VEC)(0, (__private const half *)&tmp);
}
#define kvraw rawv
#define RAW_LOAD(p) (*(__global const kvraw *)(p))
#define RAW_CVT(r) dec_h2f(r)
#else
#define kvraw floatv
#define RAW_LOAD(p) (*(__global const floatv *)(p))
#define RAW_CVT(r) (r)
#endif
#elif KV_F16
#define kvraw floatv
#define RAW_LOAD(p) CAT(vload_half, VEC)(0, p)
#define RAW_CVT(r) (r)
#else
#define kvraw floatv
#define RAW_LOAD(p) CAT(vload, VEC)(0, p)
#define RAW_CVT(r) (r)
#endif
/* RAW_LOAD issues the load, RAW_CVT converts at first use: a prefetched row stays raw in
 * registers so that its conversion does not wait for it right after the load. */
#define VLOAD_KV(p) RAW_CVT(RAW_LOAD(p))
#define VLOAD_F(p) CAT(vload, VEC)(0, p)
#if VEC == 2
#define HSUM(a) ((a).s0 + (a).s1)
#elif VEC == 4
#define HSUM(a) (((a).s0 + (a).s1) + ((a).s2 + (a).s3))
#else
#define HSUM(a) ((((a).s0 + (a).s1) + ((a).s2 + (a).s3)) + (((a).s4 + (a).s5) + ((a).s6 + (a).s7)))
#endif
#endif
#define KPT (CH / WG)      /* consecutive keys per thread in the keep/compact step */
#define TPR (D / VEC)      /* threads per V row */
#define LANES (WG / TPR)   /* V rows processed side by side */
#define NWARP (WG / 32)    /* warps per work-group, where a warp is 32 work-items (NVIDIA) */
/* Work-group sums and maxima (dec_sum, dec_max): RSEG segments of SEGL threads, one thread
 * reduces each segment, then every thread folds the RSEG results. Two barriers and a fixed order
 * (deterministic) instead of a tree with a barrier per level. Segments are padded by one entry
 * so that the segment reducers read different banks. The compaction scan uses the same layout. */
#define RSEG (WG >= 8 ? 8 : WG)
#define SEGL (WG / RSEG)
#define RSTR (WG + RSEG)
#define RPOS(t) ((t) + (t) / SEGL)
#define RED_N(nv) ((nv) * (RSTR + RSEG))
/* P·V partials of VRH heads at a time meet in local memory at the end of a chunk. */
#define VRH (GROUP < 4 ? GROUP : 4)
#define VRED_N (VRH * LANES * D)
#define MAXI(a, b) ((a) > (b) ? (a) : (b))

/* Per-call values passed by value, captured at enqueue, so there is nothing to upload or keep
 * alive: the layout table and, for calls with at most DEC_MAXH query heads, θ and D̂ per head
 * (more heads read the th_buf / dh_buf buffers). The host mirrors this layout (decode.c). */
typedef struct dec_args {
    uint lay[16];
    float theta[DEC_MAXH];
    float dhat[DEC_MAXH];
} dec_args;
#define DEC_THETA(h) (n_heads <= DEC_MAXH ? args.theta[(h) % DEC_MAXH] : th_buf[h])
#define DEC_DHAT(h) (n_heads <= DEC_MAXH ? args.dhat[(h) % DEC_MAXH] : dh_buf[h])
/* The layout table in registers: every ADDR index is a compile-time constant. */
#define DEC_LAY                                                                                    \
    uint lay[16];                                                                                  \
    for (int i_ = 0; i_ < 16; i_++)                                                                \
        lay[i_] = args.lay[i_];

/* Per-chunk outputs, indexed by (b, h) row and chunk c. */
#define PIDX(row, c) ((size_t)(row) * n_chunks + (c))

#ifndef DEC_SHFL
#define DEC_SHFL 0 /* 1: partial dot products reduced with warp shuffles (see below) */
#endif
#ifndef DEC_SHFL_LOCAL
#define DEC_SHFL_LOCAL 0
#endif
#if DEC_SHFL_LOCAL
/* Tests on devices without the PTX shuffles (host: TT_DEC_SHFL_LOCAL=1): a warp shuffle's
 * exchange through local memory, so that CI checks the butterflies' bookkeeping (the K pass's and
 * the chunk reductions') on any device. Every work-item makes the same calls; kp holds WG floats. */
inline float dec_shfl_local(__local float *kp, float x, int m)
{
    const int t = get_local_id(0);
    kp[t] = x;
    barrier(CLK_LOCAL_MEM_FENCE);
    const float r = kp[t ^ m];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}
#endif
#if KCOAL /* both coalesced variants: KCU rows of LANES side by side, TPR threads per row */
#define KROWS (LANES * KCU)
#define KROW(base, u) (k + ADDR(lay, LAY_K, b, g, j0 + min((base) + (u) * LANES + lane, nk - 1)) + part * VEC)
#endif
#ifndef DEC_DIAG_NOQ
#define DEC_DIAG_NOQ 0 /* 1: q not read (constants), 2: nor its largest |q| reduced (wrong outputs;
                        * the prologue's share of the time, diagnostics only) */
#endif
#ifndef DEC_DIAG_NOMAX
#define DEC_DIAG_NOMAX 0 /* 1: no chunk max (0 instead; diagnostics only) */
#endif
#ifndef DEC_DIAG_NORED
#define DEC_DIAG_NORED 0 /* 1: no work-group sums of the P·V partials and counts (diagnostics) */
#endif
#ifndef DEC_MMA
#define DEC_MMA 0 /* 1: K scores on tensor cores (below); fp16 K, D % 32 == 0, GROUP <= 8 */
#endif
#ifndef DEC_MMA_LOCAL
#define DEC_MMA_LOCAL 0
#endif

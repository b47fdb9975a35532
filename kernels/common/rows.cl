/* rows.cl — vector helpers of the CPU kernels that give each work-item whole rows
 * (prefill_rows.cl, decode_rows.cl): the widest float vector dividing the head size D, K/V row
 * loads in it for fp32 and fp16 storage, and horizontal sums, maxima and lane masks. PoCL turns a
 * work-item's float16 arithmetic into AVX-512 (or paired AVX2) instructions and leaves scalar
 * code scalar, so these kernels keep their inner loops in such vectors. */
#if D % 16 == 0
#define VW 16
#define VT float16
#define VLOAD vload16
#define VLOADH vload_half16
#define VSTORE vstore16
#elif D % 8 == 0
#define VW 8
#define VT float8
#define VLOAD vload8
#define VLOADH vload_half8
#define VSTORE vstore8
#else
#define VW 4
#define VT float4
#define VLOAD vload4
#define VLOADH vload_half4
#define VSTORE vstore4
#endif
#define NV (D / VW)
#if KV_F16
#define LOAD_KVV(p, base, c) VLOADH((c), (p) + (base))
#else
#define LOAD_KVV(p, base, c) VLOAD((c), (p) + (base))
#endif
inline float pr_sum4(float4 a) { return (a.x + a.y) + (a.z + a.w); }
inline float pr_sum8(float8 a) { return pr_sum4(a.lo + a.hi); }
inline float pr_sum16(float16 a) { return pr_sum8(a.lo + a.hi); }
#if VW == 16
#define VSUM pr_sum16
#elif VW == 8
#define VSUM pr_sum8
#else
#define VSUM pr_sum4
#endif
inline float pr_max16(float16 a)
{
    const float8 b = fmax(a.lo, a.hi);
    const float4 c = fmax(b.lo, b.hi);
    return fmax(fmax(c.x, c.y), fmax(c.z, c.w));
}
/* lanes of a comparison result as bits 0..15 */
inline uint pr_bits16(int16 m)
{
    const uint16 pw = (uint16)(1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u, 256u, 512u, 1024u, 2048u,
                               4096u, 8192u, 16384u, 32768u);
    const uint16 a = as_uint16(m) & pw;
    const uint8 b = a.lo | a.hi;
    const uint4 c = b.lo | b.hi;
    return (c.x | c.y) | (c.z | c.w);
}


/* ---- Pieces of a 32-key tile (RW_BK keys), shared by both row kernels ----------------------- */
#define RW_BK 32
#ifndef RW_KU
#define RW_KU 8 /* keys per Q·Kᵀ step: independent FMA chains (FMA latency is ~4 cycles) */
#endif

/* fp16 rows x < n at base[x] into fp32 rows of kf: K or V rows that several query rows use are
 * converted once per tile (on a CPU a conversion costs about what the multiply-adds cost). */
inline void rw_rows_to_f32(__global const KV_T *src, const uint *base, int n, float *kf)
{
    for (int x = 0; x < n; x++)
        #pragma unroll
        for (int e = 0; e < NV; e++)
            VSTORE(LOAD_KVV(src, base[x], e), e, kf + x * D);
}

/* The same for the rows x of a tile (row x at b0 + x·stride) whose bit is set in bits. */
inline void rw_bits_to_f32(__global const KV_T *src, uint b0, uint stride, uint bits, float *kf)
{
    for (; bits != 0u; bits &= bits - 1u) {
        const int x = 31 - (int)clz(bits & (0u - bits)); /* lowest set bit (no ctz in C 1.2) */
        #pragma unroll
        for (int e = 0; e < NV; e++)
            VSTORE(LOAD_KVV(src, b0 + (uint)x * stride, e), e, kf + x * D);
    }
}

/* s[x] = scale · q·k_x for the tile's keys, KU at a time against q held in registers (qv): from
 * kf's fp32 rows when conv, else straight from the K rows at kb[x]. */
inline void rw_scores(const VT *qv, int conv, const float *kf, __global const KV_T *k,
                      const uint *kb, float scale, float *s)
{
    for (int x0 = 0; x0 < RW_BK; x0 += RW_KU) {
        VT a[RW_KU];
        #pragma unroll
        for (int u = 0; u < RW_KU; u++)
            a[u] = (VT)(0.0f);
        #pragma unroll
        for (int e = 0; e < NV; e++)
            #pragma unroll
            for (int u = 0; u < RW_KU; u++)
                a[u] = fma(qv[e], conv ? VLOAD(e, kf + (x0 + u) * D) : LOAD_KVV(k, kb[x0 + u], e),
                           a[u]);
        #pragma unroll
        for (int u = 0; u < RW_KU; u++)
            s[x0 + u] = VSUM(a[u]) * scale;
    }
}

/* acc = alpha·acc + Σ w[x]·v_x over the set bits x of bits, in registers; V row x from kf when
 * conv, else at b0 + x·stride. */
inline void rw_pv(VT *acc, float alpha, uint bits, const float *w, int conv, const float *kf,
                  __global const KV_T *v, uint b0, uint stride)
{
    VT ac[NV];
    #pragma unroll
    for (int e = 0; e < NV; e++)
        ac[e] = acc[e] * alpha;
    for (; bits != 0u; bits &= bits - 1u) {
        const int x = 31 - (int)clz(bits & (0u - bits));
        const VT wx = (VT)(w[x]);
        #pragma unroll
        for (int e = 0; e < NV; e++)
            ac[e] = fma(wx, conv ? VLOAD(e, kf + x * D) : LOAD_KVV(v, b0 + (uint)x * stride, e),
                        ac[e]);
    }
    #pragma unroll
    for (int e = 0; e < NV; e++)
        acc[e] = ac[e];
}

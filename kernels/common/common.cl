/* common.cl — device helpers prepended to every attention kernel: K/V element loads for fp32 and
 * fp16 storage (fp16 through vload_half, so no cl_khr_fp16 is needed), tensor addressing through
 * the layout table, the row/group indexing shared by all passes, and named constants.
 * Compile-time parameters: D (head size), GROUP (query heads per KV head), WG (work-group size),
 * KV_F16 (0/1). */
#ifndef D
#error "D (head size) must be defined"
#endif
#ifndef GROUP
#define GROUP 1
#endif
#ifndef WG
#define WG 64
#endif
#ifndef KV_F16
#define KV_F16 0
#endif

#if KV_F16
#define KV_T half
#define LOAD_KV(p, i) vload_half((i), (p))
#else
#define KV_T float
#define LOAD_KV(p, i) ((p)[(i)])
#endif

/* Layout table: for Q, K, V, O in turn, (offset, stride_batch, stride_head, stride_row) in
 * elements. The host guarantees every address below fits in 32 bits. */
#define LAY_Q 0
#define LAY_K 4
#define LAY_V 8
#define LAY_O 12
#define ADDR(lay, t, b, h, r) ((lay)[(t)] + (b) * (lay)[(t) + 1] + (h) * (lay)[(t) + 2] + (r) * (lay)[(t) + 3])

/* Modes, placements and compensations, as in toptheta.h. */
#define MODE_DENSE 0
#define MODE_TOPK 1
#define MODE_THETA 2
#define PLACE_PRE 0
#define PLACE_POST 1
#define PLACE_REL 2
#define SDC_NONE 0
#define SDC_EXACT 1
#define SDC_EXPTH 2
#define SDC_OFFLINE 3

/* Per-row summary written by the select pass: row max, softmax sum, the row's threshold (θ, or
 * the k-th largest score for top-k) and an auxiliary value (D̂ for offline SDC). */
#define RI_M 0
#define RI_Z 1
#define RI_TH 2
#define RI_AUX 3
#define RI_KIND 4 /* 0: dense row, 1: thresholded (θ), 2: top-k */
#define RI_N 5

/* Order-preserving uint of a finite float: a > b exactly when key(a) > key(b) (-0 below +0);
 * top-k's radix selects work on these keys. */
inline uint tt_order_key(float f)
{
    const uint u = as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

inline float tt_order_val(uint key)
{
    return as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

/* One step of a radix select for the k-th largest key (one work-item calls it): hist counts the
 * keys that match the prefix sel[0] by their digit at shift; sel[1] is how many of the largest are
 * still to pass, sel[2] = 0 once there is nothing to select. In pass 0 a row with fewer keys than
 * asked aims at its smallest one (top-k keeps all of them; exp-threshold SDC prices the missing
 * ones at it). */
inline void tt_radix_pick(__local const uint *hist, __local uint *sel, int pass, int shift)
{
    if (!sel[2])
        return;
    uint remaining = sel[1], cum = 0u;
    if (pass == 0) {
        uint total = 0u;
        for (int bin = 0; bin < 256; bin++)
            total += hist[bin];
        remaining = min(remaining, total);
    }
    for (int bin = 255; bin >= 0; bin--) {
        if (cum + hist[bin] >= remaining && hist[bin] > 0u) {
            sel[0] |= (uint)bin << shift;
            sel[1] = remaining - cum;
            return;
        }
        cum += hist[bin];
    }
    sel[2] = 0u; /* no finite score */
}

/* Decides whether score s of a row is kept. finite scores only. */
inline int tt_keep(float s, int kind, int placement, float m, float z, float th)
{
    if (!isfinite(s))
        return 0;
    if (kind == 0)
        return 1;
    if (kind == 2)
        return s >= th;
    if (placement == PLACE_PRE)
        return s > th;
    if (placement == PLACE_REL)
        return (s - m) > th;
    return exp(s - m) / z > th; /* post-softmax: the true softmax probability */
}

/* Score of key j for the query vector q (in local memory) of one head. */
inline float tt_score(__local const float *q, __global const KV_T *k, uint kbase, float scale)
{
    float acc = 0.0f;
    for (int d = 0; d < D; d++)
        acc = fma(q[d], LOAD_KV(k, kbase + d), acc);
    return acc * scale;
}

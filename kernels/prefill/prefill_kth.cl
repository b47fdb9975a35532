/* prefill_kth.cl — top-k's cut for the GPU prefill kernels (tt_pf_attn, tt_pf_fa): tt_pf_attn's
 * pass 2 stores the scores of a slice of query tiles, and a work-group per row finds the row's
 * k-th largest finite score (the smallest finite one in a row with fewer, -INFINITY in a row
 * with none): its range, then a histogram of KS_NB bins spread evenly over the range, then the
 * scores of the bin that holds the k-th gathered in local memory and ranked. Built after
 * prefill.cl (its BQ, BR, SR, NT). */
#define KS_NB 2048 /* bins of a histogram pass */
#define KS_CAP 512 /* scores ranked in local memory; a bin with more is narrowed again */
#define KS_BT (KS_NB / NT) /* bins per work-item when the bins are summed */

/* what a round over the row does */
#define KS_HIST 0   /* histogram of [lo, hi] */
#define KS_NARROW 1 /* the range of bin `pick` (it held more than KS_CAP) */
#define KS_GATHER 2 /* gather the candidates and rank them */
#define KS_DONE 3

/* Bin of a score's key in [klo, khi]: linear in the value, so that the bins are even where the
 * scores are dense (radix digits of the keys put nearly a whole row in one or two bins, whose
 * local atomics then queue up). Halves keep the differences finite; every step is monotone, so a
 * bin holds a run of the order. Ranges too narrow for a finite float scale (fsc == 0) bin the
 * keys by a shift instead. */
inline int ks_bin(uint key, uint klo, float flo, float fsc, int ksh)
{
    /* every call must bin a key alike (a histogram's counts must match the gather's) */
#pragma OPENCL FP_CONTRACT OFF
    if (fsc == 0.0f)
        return (int)((key - klo) >> ksh);
    const float x = (tt_order_val(key) * 0.5f - flo) * fsc;
    return (int)fmin(x, (float)(KS_NB - 1));
}

/* min of a[0..NT), max of a[NT..2NT), sum of a[2NT..3NT) into their first entries. Every
 * work-item meets every barrier (PoCL needs barriers outside data-dependent branches). */
inline void ks_reduce(__local uint *a, int t)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int w = NT / 2; w > 0; w >>= 1) {
        if (t < w) {
            a[t] = min(a[t], a[t + w]);
            a[NT + t] = max(a[NT + t], a[NT + t + w]);
            a[2 * NT + t] += a[2 * NT + t + w];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

__kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void tt_pf_kth_select(__global const float *scores, int n_heads, int q_len, int kv_len, int k_eff,
                      int qt0, __global float *kth)
{
    const int t = get_local_id(0), slot = get_group_id(0), bg = get_group_id(1);
    const int tl = slot / SR, r = slot % SR; /* query tile of the slice, row of the tile */
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int i = (qt0 + tl) * BQ + r % BQ, h = g * GROUP + r / BQ;
    const int n = kv_len - q_len + i + 1;
    /* rows of n <= k are dense in pass 1 and padding rows do not exist: nothing to select
     * (the whole work-group agrees, and still meets every barrier) */
    const int live = r < BR && i < q_len && n > k_eff && k_eff > 0;
    __global const float *row =
        scores + ((size_t)(tl * get_num_groups(1) + bg) * SR + r) * (size_t)kv_len;
    __local uint hist[KS_NB], cand[KS_CAP], red[3 * NT], st[4];

    /* the range: smallest and largest finite key, and how many finite scores */
    uint lo = 0xffffffffu, hi = 0u, cnt = 0u;
    for (int j = t; live && j < n; j += NT) {
        const float s = row[j];
        if (isfinite(s)) {
            const uint key = tt_order_key(s);
            lo = min(lo, key);
            hi = max(hi, key);
            cnt++;
        }
    }
    red[t] = lo;
    red[NT + t] = hi;
    red[2 * NT + t] = cnt;
    ks_reduce(red, t);
    lo = red[0];
    hi = red[NT];
    cnt = red[2 * NT];
    /* the candidates: finite keys in [lo, hi] and, after a histogram, in bin `pick`; the answer
     * is the rem-th largest of the incount candidates (all of the state is alike in every
     * work-item: each computes it from the same local values) */
    uint rem = min((uint)k_eff, cnt), incount = cnt;
    int pick = -1, ksh = 0;
    float flo = 0.0f, fsc = 0.0f;
    int mode = lo >= hi ? KS_DONE : cnt <= KS_CAP ? KS_GATHER : KS_HIST;
    for (int round = 0; round < 64 && mode != KS_DONE; round++) { /* 64: a guard only */
        if (mode == KS_HIST) {
            flo = tt_order_val(lo) * 0.5f;
            const float d = tt_order_val(hi) * 0.5f - flo;
            fsc = d >= 0x1p-100f ? (float)KS_NB / d : 0.0f;
            for (ksh = 0; ((hi - lo) >> ksh) >= (uint)KS_NB; ksh++)
                ;
            for (int x = t; x < KS_NB; x += NT)
                hist[x] = 0u;
        }
        if (t == 0)
            st[0] = 0u;
        barrier(CLK_LOCAL_MEM_FENCE);
        uint blo = 0xffffffffu, bhi = 0u;
        for (int j = t; j < n; j += NT) {
            const float s = row[j];
            const uint key = tt_order_key(s);
            if (!isfinite(s) || key < lo || key > hi)
                continue;
            const int bin = mode == KS_GATHER && pick < 0 ? 0 : ks_bin(key, lo, flo, fsc, ksh);
            if (mode == KS_HIST) {
                atomic_inc(&hist[bin]);
            } else if (bin == pick || pick < 0) {
                if (mode == KS_NARROW) {
                    blo = min(blo, key);
                    bhi = max(bhi, key);
                } else {
                    cand[atomic_inc(&st[0])] = key;
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (mode == KS_HIST) { /* bins from the top: work-item t sums KS_BT of them */
            uint part = 0u;
            for (int x = 0; x < KS_BT; x++)
                part += hist[KS_NB - 1 - t * KS_BT - x];
            red[t] = part;
        }
        red[NT + t] = blo; /* KS_NARROW's range, reduced below */
        red[2 * NT + t] = bhi;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (mode == KS_HIST && t == 0) { /* the bin that holds the rem-th largest */
            uint above = 0u;
            int w = 0;
            while (above + red[w] < rem)
                above += red[w++];
            for (int x = KS_NB - 1 - w * KS_BT;; x--) {
                if (above + hist[x] >= rem) {
                    st[1] = (uint)x;
                    st[2] = rem - above;
                    st[3] = hist[x];
                    break;
                }
                above += hist[x];
            }
        } else if (mode == KS_NARROW && t == 0) {
            uint a = 0xffffffffu, z = 0u;
            for (int x = 0; x < NT; x++) {
                a = min(a, red[NT + x]);
                z = max(z, red[2 * NT + x]);
            }
            st[1] = a;
            st[2] = z;
        } else if (mode == KS_GATHER) { /* each work-item ranks some candidates among all */
            const uint c = st[0];
            for (uint x = t; x < c; x += NT) {
                const uint key = cand[x];
                uint gt = 0u, ge = 0u;
                for (uint y = 0; y < c; y++) {
                    gt += cand[y] > key;
                    ge += cand[y] >= key;
                }
                if (gt < rem && rem <= ge)
                    st[1] = key; /* every writer writes the same key */
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (mode == KS_HIST) {
            pick = (int)st[1];
            rem = st[2];
            incount = st[3];
            mode = incount <= KS_CAP ? KS_GATHER : KS_NARROW;
        } else if (mode == KS_NARROW) {
            lo = st[1];
            hi = st[2];
            pick = -1;
            mode = lo >= hi ? KS_DONE : KS_HIST;
        } else {
            lo = st[1];
            mode = KS_DONE;
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* st is read before the next round writes it */
    }
    if (t == 0 && live)
        kth[(b * n_heads + h) * q_len + i] = cnt ? tt_order_val(lo) : -INFINITY;
}

/* attend.cl — pass 3: one work-group per (key chunk, sequence, KV head, query row). For each block
 * of WG keys it decides, per query head of the group, which scores are kept, compacts the union of
 * kept keys into an index list in local memory (a deterministic prefix scan, so results do not
 * depend on thread timing), and loads only those V rows — once for the whole group — into per-head
 * partial accumulators. It also sums the kept and dropped exp-weights the merge needs for SDC. */
#if D >= WG
#define LANES 1
#define DPT ((D + WG - 1) / WG)
#else
#define LANES (WG / D)
#define DPT 1
#endif

__kernel void tt_attend(__global const float *q, __global const KV_T *k, __global const KV_T *v,
                        __constant uint *lay, int n_heads, int n_kv, int q_len, int kv_len,
                        int n_chunks, int chunk_len, float scale, int store_scores,
                        __global const float *scores, __global const float *rowinfo,
                        int placement, __global float *part_acc, __global float *part_ds,
                        __global float *part_dm, __global uint *part_kept,
                        __global uint *part_union)
{
    const int t = get_local_id(0);
    const int c = get_group_id(0);
    const int gr = get_group_id(1);
    const int i = gr % q_len;
    const int g = (gr / q_len) % n_kv;
    const int b = gr / (q_len * n_kv);
    const int n = kv_len - q_len + i + 1;
    const int j0 = c * chunk_len;
    if (j0 >= n)
        return;
    const int j1 = min(n, j0 + chunk_len);

    __local float qloc[GROUP][D];
    __local float pl[GROUP][WG];
    __local int scan[WG];
    __local int idx[WG];
    __local float redf[WG];
    __local uint redu[WG];

    if (!store_scores) {
        for (int x = t; x < GROUP * D; x += WG)
            qloc[x / D][x % D] = q[ADDR(lay, LAY_Q, b, g * GROUP + x / D, i) + x % D];
    }
    float rm[GROUP], rz[GROUP], rth[GROUP];
    int row0 = (b * n_heads + g * GROUP) * q_len + i;
    const int kind = (int)rowinfo[(size_t)row0 * RI_N + RI_KIND];
    for (int hh = 0; hh < GROUP; hh++) {
        __global const float *ri = rowinfo + (size_t)(row0 + hh * q_len) * RI_N;
        rm[hh] = ri[RI_M];
        rz[hh] = ri[RI_Z];
        rth[hh] = ri[RI_TH];
    }
    barrier(CLK_LOCAL_MEM_FENCE);

#if D >= WG
    const int lane = 0, d0 = t;
    const int active = 1;
#else
    const int lane = t / D, d0 = t % D;
    const int active = lane < LANES;
#endif
    float acc[GROUP][DPT];
    float ds[GROUP], dm[GROUP];
    uint cnt[GROUP];
    for (int hh = 0; hh < GROUP; hh++) {
        ds[hh] = dm[hh] = 0.0f;
        cnt[hh] = 0u;
        for (int r = 0; r < DPT; r++)
            acc[hh][r] = 0.0f;
    }
    uint n_union = 0u;

    for (int blk = j0; blk < j1; blk += WG) {
        const int j = blk + t;
        int any = 0;
        for (int hh = 0; hh < GROUP; hh++) {
            float p = 0.0f;
            if (j < j1) {
                int row = row0 + hh * q_len;
                float s = store_scores ? scores[(size_t)row * kv_len + j]
                                       : tt_score(qloc[hh], k, ADDR(lay, LAY_K, b, g, j), scale);
                if (isfinite(s)) {
                    float e = exp(s - rm[hh]);
                    if (tt_keep(s, kind, placement, rm[hh], rz[hh], rth[hh])) {
                        p = e;
                        ds[hh] += e;
                        cnt[hh]++;
                        any = 1;
                    } else {
                        dm[hh] += e;
                    }
                }
            }
            pl[hh][t] = p;
        }
        /* Inclusive prefix sum of the union flags gives each kept key its slot. */
        scan[t] = any;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int off = 1; off < WG; off <<= 1) {
            int add = t >= off ? scan[t - off] : 0;
            barrier(CLK_LOCAL_MEM_FENCE);
            scan[t] += add;
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (any)
            idx[scan[t] - 1] = t;
        const int total = scan[WG - 1];
        barrier(CLK_LOCAL_MEM_FENCE);
        n_union += (uint)total;
        if (active) {
            for (int x = lane; x < total; x += LANES) {
                const int tt = idx[x];
                const uint vb = ADDR(lay, LAY_V, b, g, blk + tt);
                for (int r = 0; r < DPT; r++) {
                    const int d = d0 + r * WG;
                    if (d < D) {
                        const float vv = LOAD_KV(v, vb + d);
                        for (int hh = 0; hh < GROUP; hh++) /* skip heads that did not keep it */
                            if (pl[hh][tt] != 0.0f)
                                acc[hh][r] = fma(pl[hh][tt], vv, acc[hh][r]);
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    /* Write partials: accumulators (reduced over lanes when D < WG), then the per-head sums. */
    for (int hh = 0; hh < GROUP; hh++) {
        const size_t prow = (size_t)(row0 + hh * q_len) * n_chunks + c;
#if D >= WG
        for (int r = 0; r < DPT; r++)
            if (d0 + r * WG < D)
                part_acc[prow * D + d0 + r * WG] = acc[hh][0 + r];
#else
        redf[t] = active ? acc[hh][0] : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t < D) {
            float sum = 0.0f;
            for (int l = 0; l < LANES; l++)
                sum += redf[l * D + t];
            part_acc[prow * D + t] = sum;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
#endif
        /* Σ kept, Σ dropped and the kept count, reduced in a fixed order. */
        for (int which = 0; which < 3; which++) {
            if (which < 2)
                redf[t] = which == 0 ? ds[hh] : dm[hh];
            else
                redu[t] = cnt[hh];
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int s = WG / 2; s > 0; s >>= 1) {
                if (t < s) {
                    if (which < 2)
                        redf[t] += redf[t + s];
                    else
                        redu[t] += redu[t + s];
                }
                barrier(CLK_LOCAL_MEM_FENCE);
            }
            if (t == 0) {
                if (which == 0)
                    part_ds[prow] = redf[0];
                else if (which == 1)
                    part_dm[prow] = redf[0];
                else
                    part_kept[prow] = redu[0];
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    if (t == 0)
        part_union[(size_t)gr * n_chunks + c] = n_union;
}

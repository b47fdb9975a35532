/* select.cl — pass 2: one work-group per query row merges the chunk partials into the row's max m
 * and softmax sum Z, then fixes how the row is cut: dense (n <= k or dense mode), a calibrated θ
 * (looked up by the host per head and row length), or for top-k the k-th largest finite score
 * (the smallest finite one in a row with fewer), found by a 4-pass radix select (8-bit digits,
 * local histogram) over the row's scores. */
__kernel void tt_select(__global const float *q, __global const KV_T *k,
                        __constant uint *lay, int n_heads, int n_kv, int q_len, int kv_len,
                        int n_chunks, int chunk_len, float scale, int store_scores,
                        __global const float *scores, __global const float *part_m,
                        __global const float *part_z, int mode, int k_eff,
                        __global const float *thetas, __global const float *dhats,
                        __global float *rowinfo)
{
    const int t = get_local_id(0);
    const int row = get_group_id(1); /* (b, h, i), i fastest */
    const int i = row % q_len;
    const int h = (row / q_len) % n_heads;
    const int b = row / (q_len * n_heads);
    const int g = h / GROUP;
    const int n = kv_len - q_len + i + 1;
    const int nc = (n + chunk_len - 1) / chunk_len;

    __local float qloc[D];
    __local uint hist[256];
    __local uint sel[3]; /* prefix, remaining, found */

    float m = -INFINITY, z = 0.0f;
    if (t == 0) {
        for (int c = 0; c < nc; c++) {
            float mc = part_m[(size_t)row * n_chunks + c];
            if (mc == -INFINITY)
                continue;
            float mx = fmax(m, mc);
            z = (m == -INFINITY ? 0.0f : z * exp(m - mx)) + part_z[(size_t)row * n_chunks + c] * exp(mc - mx);
            m = mx;
        }
    }
    const int dense = mode == MODE_DENSE || n <= k_eff || k_eff <= 0;
    int kind = dense ? 0 : (mode == MODE_TOPK ? 2 : 1);
    float th = 0.0f, aux = 0.0f;
    if (kind == 1) {
        th = thetas[h * q_len + i];
        aux = dhats ? dhats[h * q_len + i] : 0.0f;
    }
    if (kind == 2) {
        if (!store_scores) {
            for (int d = t; d < D; d += WG)
                qloc[d] = q[ADDR(lay, LAY_Q, b, h, i) + d];
        }
        if (t == 0) {
            sel[0] = 0u;
            sel[1] = (uint)k_eff;
            sel[2] = 1u;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        uint mask = 0u;
        for (int pass = 0; pass < 4; pass++) {
            const int shift = 24 - 8 * pass;
            for (int x = t; x < 256; x += WG)
                hist[x] = 0u;
            barrier(CLK_LOCAL_MEM_FENCE);
            const uint prefix = sel[0];
            for (int j = t; j < n; j += WG) {
                float s = store_scores ? scores[(size_t)row * kv_len + j]
                                       : tt_score(qloc, k, ADDR(lay, LAY_K, b, g, j), scale);
                if (!isfinite(s))
                    continue;
                uint key = tt_order_key(s);
                if ((key & mask) == prefix)
                    atomic_inc(&hist[(key >> shift) & 255u]);
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            if (t == 0)
                tt_radix_pick(hist, sel, pass, shift);
            mask |= 255u << shift;
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        th = sel[2] ? tt_order_val(sel[0]) : -INFINITY;
    }
    if (t == 0) {
        __global float *ri = rowinfo + (size_t)row * RI_N;
        ri[RI_M] = m;
        ri[RI_Z] = z;
        ri[RI_TH] = th;
        ri[RI_AUX] = aux;
        ri[RI_KIND] = (float)kind;
    }
}

/* scores.cl — pass 1 of attention: one work-group per (key chunk, sequence, KV head, query row)
 * loads each K row of its chunk once for all GROUP query heads, computes the scores, and writes
 * per-head chunk partials (max, Σ exp(s − max)) for the row normaliser. In decode it also stores
 * the scores so later passes never read K again. Non-finite scores are left out of (max, sum). */
__kernel void tt_scores(__global const float *q, __global const KV_T *k,
                        __constant uint *lay, int n_heads, int n_kv, int q_len, int kv_len,
                        int n_chunks, int chunk_len, float scale, int store_scores,
                        __global float *scores, __global float *part_m, __global float *part_z)
{
    const int t = get_local_id(0);
    const int c = get_group_id(0);
    const int gr = get_group_id(1); /* (b, g, i) flattened: i fastest */
    const int i = gr % q_len;
    const int g = (gr / q_len) % n_kv;
    const int b = gr / (q_len * n_kv);
    const int n = kv_len - q_len + i + 1;
    const int j0 = c * chunk_len;
    if (j0 >= n)
        return; /* causally masked chunk: never read by later passes */
    const int j1 = min(n, j0 + chunk_len);

    __local float qloc[GROUP][D];
    __local float red_m[WG], red_z[WG];
    for (int x = t; x < GROUP * D; x += WG) {
        int hh = x / D, d = x % D;
        int h = g * GROUP + hh;
        qloc[hh][d] = q[ADDR(lay, LAY_Q, b, h, i) + d];
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    float m[GROUP], z[GROUP];
    for (int hh = 0; hh < GROUP; hh++) {
        m[hh] = -INFINITY;
        z[hh] = 0.0f;
    }
    for (int j = j0 + t; j < j1; j += WG) {
        uint kb = ADDR(lay, LAY_K, b, g, j);
        for (int hh = 0; hh < GROUP; hh++) {
            float s = tt_score(qloc[hh], k, kb, scale);
            int row = (b * n_heads + g * GROUP + hh) * q_len + i;
            if (store_scores)
                scores[(size_t)row * kv_len + j] = s;
            if (!isfinite(s))
                continue;
            if (s > m[hh]) {
                z[hh] = z[hh] * exp(m[hh] - s) + 1.0f;
                m[hh] = s;
            } else {
                z[hh] += exp(s - m[hh]);
            }
        }
    }
    /* Reduce (max, sum) across the work-group, one head at a time to bound local memory. */
    for (int hh = 0; hh < GROUP; hh++) {
        red_m[t] = m[hh];
        red_z[t] = z[hh];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = WG / 2; s > 0; s >>= 1) {
            if (t < s) {
                float ma = red_m[t], mb = red_m[t + s];
                float mx = fmax(ma, mb);
                float za = ma == -INFINITY ? 0.0f : red_z[t] * exp(ma - mx);
                float zb = mb == -INFINITY ? 0.0f : red_z[t + s] * exp(mb - mx);
                red_m[t] = mx;
                red_z[t] = za + zb;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        if (t == 0) {
            int row = (b * n_heads + g * GROUP + hh) * q_len + i;
            part_m[(size_t)row * n_chunks + c] = red_m[0];
            part_z[(size_t)row * n_chunks + c] = red_z[0];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

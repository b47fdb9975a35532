/* prefill_kth.cl — top-k's cut for the GPU prefill kernels (tt_pf_attn, tt_pf_fa): tt_pf_attn's
 * pass 2 stores the scores of a slice of query tiles, and a work-group per row finds the row's
 * k-th largest finite score (the smallest finite one in a row with fewer, -INFINITY in a row
 * with none) by a radix select over the stored row: 8-bit digits, a local histogram, four
 * passes. Built after prefill.cl (its BQ, BR, SR, NT). */
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
    __local uint hist[256], sel[3];
    if (t == 0) {
        sel[0] = 0u;
        sel[1] = (uint)k_eff;
        sel[2] = 1u;
    }
    uint mask = 0u;
    for (int pass = 0; pass < 4; pass++) {
        const int shift = 24 - 8 * pass;
        for (int x = t; x < 256; x += NT)
            hist[x] = 0u;
        barrier(CLK_LOCAL_MEM_FENCE);
        const uint prefix = sel[0];
        for (int j = t; live && j < n; j += NT) {
            const float s = row[j];
            const uint key = tt_order_key(s);
            if (isfinite(s) && (key & mask) == prefix)
                atomic_inc(&hist[(key >> shift) & 255u]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (t == 0)
            tt_radix_pick(hist, sel, pass, shift);
        mask |= 255u << shift;
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0 && live)
        kth[(b * n_heads + h) * q_len + i] = sel[2] ? tt_order_val(sel[0]) : -INFINITY;
}

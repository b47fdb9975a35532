/* merge.cl — pass 4: one work-group per query row combines the chunk partials of pass 3, applies
 * the softmax-denominator compensation (none / exact / exp-threshold / offline, scaled by λ) or
 * the true softmax denominator for post-softmax rows, adds V-mean compensation, writes the output
 * row and the row's statistics (kept elements per head, union of V rows per KV head). */
__kernel void tt_merge(__constant uint *lay, int n_heads, int n_kv, int q_len, int kv_len,
                       int n_chunks, int chunk_len, __global const float *rowinfo,
                       int placement, int sdc, float lambda, int vmc,
                       __global const float *vmean, __global const float *part_acc,
                       __global const float *part_ds, __global const float *part_dm,
                       __global const uint *part_kept, __global const uint *part_union,
                       __global float *o, __global uint *stats, int batch)
{
    const int t = get_local_id(0);
    const int row = get_group_id(1);
    const int i = row % q_len;
    const int h = (row / q_len) % n_heads;
    const int b = row / (q_len * n_heads);
    const int g = h / GROUP;
    const int n = kv_len - q_len + i + 1;
    const int nc = (n + chunk_len - 1) / chunk_len;

    __global const float *ri = rowinfo + (size_t)row * RI_N;
    const float m = ri[RI_M], z = ri[RI_Z], th = ri[RI_TH], aux = ri[RI_AUX];
    const int kind = (int)ri[RI_KIND];
    float dsum = 0.0f, dmiss = 0.0f;
    uint kept = 0u;
    for (int c = 0; c < nc; c++) {
        dsum += part_ds[(size_t)row * n_chunks + c];
        dmiss += part_dm[(size_t)row * n_chunks + c];
        kept += part_kept[(size_t)row * n_chunks + c];
    }
    float denom;
    if (kind == 0) {
        denom = dsum;
    } else if (kind == 1 && placement == PLACE_POST) {
        denom = z; /* kept weights are the true softmax values */
    } else {
        float miss = 0.0f;
        if (sdc == SDC_EXACT) {
            miss = dmiss;
        } else if (sdc == SDC_EXPTH) {
            float th_s = (kind == 1 && placement == PLACE_REL) ? m + th : th;
            miss = (float)(n - (int)kept) * exp(th_s - m);
        } else if (sdc == SDC_OFFLINE) {
            miss = aux;
        }
        denom = dsum + lambda * miss;
    }
    const int empty = m == -INFINITY; /* no finite score in the row */
    const float inv = (dsum > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
    const float rest = 1.0f - dsum * inv; /* weight left for the V mean */
    const int use_vmc = vmc && kind != 0;
    const uint obase = ADDR(lay, LAY_O, b, h, i);
    for (int d = t; d < D; d += WG) {
        float acc = 0.0f;
        for (int c = 0; c < nc; c++)
            acc += part_acc[((size_t)row * n_chunks + c) * D + d];
        float out = acc * inv;
        if (use_vmc)
            out += rest * vmean[((size_t)(b * n_kv + g) * q_len + i) * D + d];
        o[obase + d] = empty ? NAN : out;
    }
    if (t == 0 && stats) {
        stats[row] = kept;
        if (h % GROUP == 0) {
            const int gr = (b * n_kv + g) * q_len + i;
            uint u = 0u;
            for (int c = 0; c < nc; c++)
                u += part_union[(size_t)gr * n_chunks + c];
            stats[(size_t)batch * n_heads * q_len + gr] = u;
        }
    }
}

/* decode_merge.cl — last decode pass: one work-group per (sequence, KV head) combines the chunk
 * partials of every query head of the group (rescaled to the row max), applies SDC or the true
 * softmax denominator, V-mean compensation — from the caller's running V sum, advanced here by the
 * new row, so VMC costs O(d) per step — writes the outputs and the row statistics. */
__kernel void tt_dec_merge(__global const KV_T *v, __constant uint *lay, int n_heads, int kv_len,
                           int n_chunks, int kind, int placement, int sdc, float lambda, int vmc,
                           __global const float *thetas, __global const float *dhats,
                           __global const float *rowinfo, __global float *vsum, int have_vsum,
                           __global const float *vmean, __global const float *part_acc,
                           __global const float *part_ms, __global const float *part_ds,
                           __global const float *part_dm, __global const uint *part_kept,
                           __global const uint *part_union, __global float *o,
                           __global uint *stats, int batch)
{
    const int t = get_local_id(0), bg = get_group_id(1);
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int n = kv_len;
    const int use_vmc = vmc && kind != 0;
    float vbar[(D + WG - 1) / WG];
    for (int r = 0, d = t; d < D; r++, d += WG) {
        vbar[r] = 0.0f;
        if (use_vmc && have_vsum) /* running sum of rows < n-1, plus the new row n-1 */
            vbar[r] = (vsum[(size_t)bg * D + d] + LOAD_KV(v, ADDR(lay, LAY_V, b, g, n - 1) + d)) / (float)n;
        else if (use_vmc)
            vbar[r] = vmean[(size_t)bg * D + d];
    }
    for (int hh = 0; hh < GROUP; hh++) {
        const int h = g * GROUP + hh, row = b * n_heads + h;
        float m = -INFINITY;
        for (int c = 0; c < n_chunks; c++)
            m = fmax(m, part_ms[(size_t)row * n_chunks + c]);
        float dsum = 0.0f, dmiss = 0.0f;
        uint kept = 0u;
        for (int c = 0; c < n_chunks; c++) {
            const float mc = part_ms[(size_t)row * n_chunks + c];
            const float f = mc == -INFINITY ? 0.0f : exp(mc - m);
            dsum += part_ds[(size_t)row * n_chunks + c] * f;
            dmiss += part_dm[(size_t)row * n_chunks + c] * f;
            kept += part_kept[(size_t)row * n_chunks + c];
        }
        float denom;
        if (kind == 0) {
            denom = dsum;
        } else if (kind == 1 && placement == PLACE_POST) {
            denom = dsum + dmiss; /* the full softmax sum: kept weights are true probabilities */
        } else {
            float miss = 0.0f;
            if (sdc == SDC_EXACT) {
                miss = dmiss;
            } else if (sdc == SDC_EXPTH) {
                float th = kind == 2 ? rowinfo[(size_t)row * RI_N + RI_TH] : thetas[h];
                float th_s = (kind == 1 && placement == PLACE_REL) ? m + th : th;
                miss = (float)(n - (int)kept) * exp(th_s - m);
            } else if (sdc == SDC_OFFLINE) {
                miss = dhats[h];
            }
            denom = dsum + lambda * miss;
        }
        const int empty = m == -INFINITY;
        const float inv = (dsum > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
        const float rest = 1.0f - dsum * inv;
        const uint ob = ADDR(lay, LAY_O, b, h, 0);
        for (int r = 0, d = t; d < D; r++, d += WG) {
            float acc = 0.0f;
            for (int c = 0; c < n_chunks; c++) {
                const float mc = part_ms[(size_t)row * n_chunks + c];
                if (mc != -INFINITY)
                    acc += part_acc[((size_t)row * n_chunks + c) * D + d] * exp(mc - m);
            }
            float out = acc * inv;
            if (use_vmc)
                out += rest * vbar[r];
            o[ob + d] = empty ? NAN : out;
        }
        if (t == 0 && stats)
            stats[row] = kept;
    }
    if (t == 0 && stats) {
        uint u = 0u;
        for (int c = 0; c < n_chunks; c++)
            u += part_union[(size_t)bg * n_chunks + c];
        stats[(size_t)batch * n_heads + bg] = u;
    }
    if (use_vmc && have_vsum) /* each thread advances the dimensions it read */
        for (int r = 0, d = t; d < D; r++, d += WG)
            vsum[(size_t)bg * D + d] = vbar[r] * (float)n;
}

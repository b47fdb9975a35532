/* decode_merge.cl — last decode pass: one work-group per (sequence, query head) combines the chunk
 * partials (rescaled to the row max) in parallel — chunks spread over the threads, several loads
 * in flight per thread, since a serial walk over the chunks is latency-bound on GPUs — applies SDC
 * or the true softmax denominator and V-mean compensation, writes the output row and the row's
 * statistics. The running V sum was already advanced by tt_dec_chunk (the work-group holding the
 * new row), so v̄ = vsum / n costs O(d). fc is local scratch of n_chunks floats. */
__kernel void tt_dec_merge(dec_args args, int n_heads, int kv_len, int n_chunks, int kind,
                           int placement, int sdc, float lambda, int vmc,
                           __global const float *th_buf, __global const float *dh_buf,
                           __global const float *rowinfo, __global const float *vsum,
                           int have_vsum, __global const float *vmean,
                           __global const float *part_acc, __global const float *part_ms,
                           __global const float *part_ds, __global const float *part_dm,
                           __global const uint *part_kept, __global const uint *part_union,
                           __global float *o, __global uint *stats, int batch,
                           __local float *fc)
{
    const int t = get_local_id(0), row = get_group_id(1);
    const int h = row % n_heads, b = row / n_heads, g = h / GROUP, n_kv = n_heads / GROUP;
    const int bg = b * n_kv + g, n = kv_len;
    DEC_LAY
    __local float red[WG];
    __local float red2[WG];
    __local uint redu[WG];
    __local uint redv[WG];
    __global const float *ms = part_ms + (size_t)row * n_chunks;

    /* Row max over the chunks' reference maxima. */
    float m = -INFINITY;
    for (int c = t; c < n_chunks; c += WG)
        m = fmax(m, ms[c]);
    red[t] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (t < s)
            red[t] = fmax(red[t], red[t + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    /* Per-chunk rescale factors, then the sums. */
    float ds = 0.0f, dmv = 0.0f;
    uint kept = 0u, uni = 0u;
    for (int c = t; c < n_chunks; c += WG) {
        const float f = ms[c] == -INFINITY ? 0.0f : exp(ms[c] - m);
        fc[c] = f;
        ds += part_ds[(size_t)row * n_chunks + c] * f;
        dmv += part_dm[(size_t)row * n_chunks + c] * f;
        kept += part_kept[(size_t)row * n_chunks + c];
        uni += part_union[(size_t)bg * n_chunks + c];
    }
    red[t] = ds;
    red2[t] = dmv;
    redu[t] = kept;
    redv[t] = uni;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (t < s) {
            red[t] += red[t + s];
            red2[t] += red2[t + s];
            redu[t] += redu[t + s];
            redv[t] += redv[t + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float dsum = red[0], dmiss = red2[0];
    kept = redu[0];
    uni = redv[0];

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
            float th = kind == 2 ? rowinfo[(size_t)row * RI_N + RI_TH] : DEC_THETA(h);
            float th_s = (kind == 1 && placement == PLACE_REL) ? m + th : th;
            miss = (float)(n - (int)kept) * exp(th_s - m);
        } else if (sdc == SDC_OFFLINE) {
            miss = DEC_DHAT(h);
        }
        denom = dsum + lambda * miss;
    }
    const int empty = m == -INFINITY;
    const float inv = (dsum > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
    const float rest = 1.0f - dsum * inv;
    const int use_vmc = vmc && kind != 0;
    const uint ob = ADDR(lay, LAY_O, b, h, 0);

    /* Accumulators: CG groups of threads split the chunks, each thread owns one dimension. */
#define CG (WG >= D ? WG / D : 1)
#define MU 8
    const int cg = t / D, d0 = t % D;
    const int npass = WG >= D ? 1 : (D + WG - 1) / WG; /* same count in every thread */
    __global const float *pa = part_acc + (size_t)row * n_chunks * D;
    for (int p = 0; p < npass; p++) {
        const int d = d0 + p * WG;
        /* MU independent loads in flight per thread: with one thread per dimension and few
         * rows (batch 1), a dependent walk over the chunks is one memory latency per step. */
        float a[MU];
        for (int u = 0; u < MU; u++)
            a[u] = 0.0f;
        if (cg < CG && d < D)
            for (int c = cg; c < n_chunks; c += MU * CG)
                for (int u = 0; u < MU; u++) {
                    const int cu = c + u * CG; /* predicated, so u stays a constant index */
                    if (cu < n_chunks)
                        a[u] = fma(pa[(size_t)cu * D + d], fc[cu], a[u]);
                }
        float a_sum = 0.0f;
        for (int u = 0; u < MU; u++)
            a_sum += a[u];
        barrier(CLK_LOCAL_MEM_FENCE);
        red[t] = a_sum;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (cg == 0 && d < D) {
            float acc = 0.0f;
            for (int x = 0; x < CG; x++)
                acc += red[x * D + d0];
            float out = acc * inv;
            if (use_vmc)
                out += rest * (have_vsum ? vsum[(size_t)bg * D + d] / (float)n
                                         : vmean[(size_t)bg * D + d]);
            o[ob + d] = empty ? NAN : out;
        }
    }
    if (t == 0 && stats) {
        stats[row] = kept;
        if (h % GROUP == 0)
            stats[(size_t)batch * n_heads + bg] = uni;
    }
}

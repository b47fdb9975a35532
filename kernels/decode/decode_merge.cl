/* decode_merge.cl — last decode step: work-groups per (sequence, KV head) combine the chunk
 * partials of the group's query heads (rescaled to each row's max), applies SDC or the true
 * softmax denominator and V-mean compensation, writes the output rows and the statistics. It runs
 * as its own kernel (tt_dec_merge) or, with DEC_FUSE, inside tt_dec_chunk: the work-group that
 * finishes a group's last chunk merges it, which saves a launch and overlaps the merges with the
 * other work-groups' loads. The running V sum was already advanced by the chunk holding row n-1. */

#define MV (D % 4 == 0 ? 4 : 1) /* floats per accumulator load */
#define DV (D / MV)
#define MU 8 /* independent loads in flight per thread: a walk over the chunks is latency-bound */
#if MV == 4
typedef float4 mvec;
#define MV_AT(vv, i) ((i) == 0 ? (vv).x : (i) == 1 ? (vv).y : (i) == 2 ? (vv).z : (vv).w)
#else
typedef float mvec;
#define MV_AT(vv, i) (vv)
#endif

/* th, dh: θ and D̂ of the group's GROUP heads; lay_o: the output's layout entries (LAY_O..+3);
 * fc: GROUP * n_chunks floats and red: RED_N(3 * GROUP) floats of local scratch. Values, not the
 * dec_args struct: a struct argument is copied per work-item on CPU devices (PoCL: 4096 x 576 B
 * on the stack). Declared in decode.cl, whose tt_dec_chunk calls it under DEC_FUSE. */
void dec_merge_group(const float *th, const float *dh, const uint *lay_o, int b, int g,
                     int n_heads, int kv_len, int n_chunks, int kind, int placement, int sdc,
                     float lambda, int vmc, __global const float *rowinfo, MQ __global const float *vsum,
                     int have_vsum, __global const float *vmean,
                     MQ __global const float *part_acc, MQ __global const float *part_ms,
                     MQ __global const float *part_ds, MQ __global const float *part_dm,
                     MQ __global const uint *part_kept, MQ __global const uint *part_union,
                     __global float *o, __global uint *stats, int batch, __local float *fc,
                     __local float *red, int slice, int n_slices)
{
    const int t = get_local_id(0), n_kv = n_heads / GROUP, bg = b * n_kv + g, nc = n_chunks;
    const int row0 = b * n_heads + g * GROUP, n = kv_len;
    /* What lives across the barriers below is kept small: CPU devices (PoCL) keep a copy of it
     * per work-item, on the stack (4096 work-items x ~1 KB tripped valgrind's 2 MB frame limit). */
    /* One walk over the chunks' scalars, all their loads in flight together: each thread folds
     * its chunks at its own running max, keeps every chunk's max in fc, and rescales its sums
     * once the work-group's row max is known (a walk for the max and a second one for the sums
     * cost a memory latency more; on the H100 the whole merge still takes 8-10 us, most of it
     * launch and barriers: docs/PERFORMANCE.md, 2026-12-05 seventh). */
    float m[GROUP], sums[3 * GROUP], uni = 0.0f; /* kept sum, dropped sum, kept count; union */
    for (int hh = 0; hh < GROUP; hh++)
        m[hh] = -INFINITY;
    for (int x = 0; x < 3 * GROUP; x++)
        sums[x] = 0.0f;
    for (int c = t; c < nc; c += WG) {
        for (int hh = 0; hh < GROUP; hh++) {
            const size_t pi = PIDX(row0 + hh, c);
            const float mc = part_ms[pi], ds = part_ds[pi], dm = part_dm[pi];
            const float mn = fmax(m[hh], mc);
            const float fo = m[hh] == -INFINITY ? 0.0f : exp(m[hh] - mn);
            const float f = mc == -INFINITY ? 0.0f : exp(mc - mn);
            fc[hh * nc + c] = mc;
            sums[hh] = sums[hh] * fo + ds * f;
            sums[GROUP + hh] = sums[GROUP + hh] * fo + dm * f;
            sums[2 * GROUP + hh] += (float)part_kept[pi]; /* counts < 2^24: exact */
            m[hh] = mn;
        }
        uni += (float)part_union[(size_t)bg * nc + c];
    }
    float mt[GROUP]; /* this thread's maxima, against which its sums were taken */
    for (int hh = 0; hh < GROUP; hh++)
        mt[hh] = m[hh];
    dec_max(red, m, GROUP);
    for (int hh = 0; hh < GROUP; hh++) {
        const float r = mt[hh] == -INFINITY ? 0.0f : exp(mt[hh] - m[hh]);
        sums[hh] *= r;
        sums[GROUP + hh] *= r;
    }
    /* The rescale factors of the chunks (dec_sum's barriers order these stores before the reads
     * of the accumulator walk below). */
    for (int hh = 0; hh < GROUP; hh++)
        for (int c = t; c < nc; c += WG) {
            const float mc = fc[hh * nc + c];
            fc[hh * nc + c] = mc == -INFINITY ? 0.0f : exp(mc - m[hh]);
        }
    dec_sum(red, sums, 3 * GROUP);
    dec_sum(red, &uni, 1);

    if (t == 0 && stats && slice == 0) {
        for (int hh = 0; hh < GROUP; hh++)
            stats[row0 + hh] = (uint)sums[2 * GROUP + hh];
        stats[(size_t)batch * n_heads + bg] = (uint)uni;
    }
    float inv[GROUP], rest[GROUP]; /* inv NaN: an empty row (no finite score), whose output is NaN */
    for (int hh = 0; hh < GROUP; hh++) {
        const float dsum = sums[hh], dmiss = sums[GROUP + hh];
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
                float th_h = kind == 2 ? rowinfo[(size_t)(row0 + hh) * RI_N + RI_TH] : th[hh];
                float th_s = (kind == 1 && placement == PLACE_REL) ? m[hh] + th_h : th_h;
                miss = (float)(n - (int)sums[2 * GROUP + hh]) * exp(th_s - m[hh]);
            } else if (sdc == SDC_OFFLINE) {
                miss = dh[hh];
            }
            denom = dsum + lambda * miss;
        }
        inv[hh] = (dsum > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
        rest[hh] = 1.0f - dsum * inv[hh];
        if (m[hh] == -INFINITY)
            inv[hh] = NAN;
    }
    const int use_vmc = vmc && kind != 0;

    /* Accumulators: a unit is (head, MV dimensions); cgf groups of threads split the chunks when
     * there are fewer units than threads, and their partial vectors meet in red. */
    /* n_slices work-groups share a (sequence, KV head): slice takes units [u0, u1), so that the
     * walk over the chunks is split over more threads (fewer latencies in a row) and more
     * multiprocessors; every slice repeats the scalar walk above, which is small. */
    const int per = (GROUP * DV + n_slices - 1) / n_slices;
    const int u0 = min(slice * per, GROUP * DV), u1 = min(u0 + per, GROUP * DV);
    const int units = u1 - u0, cgf = units >= WG ? 1 : WG / max(units, 1), span = WG / cgf;
    const int lu = t % span, cg = t / span;
    for (int p = 0; p * span < units; p++) { /* the same count in every thread (barriers) */
        const int u = u0 + p * span + lu, hh = u / DV, dv = u % DV;
        const int active = cg < cgf && u < u1;
        mvec a[MU];
        for (int k = 0; k < MU; k++)
            a[k] = (mvec)(0.0f);
        if (active) {
            MQ __global const mvec *pa =
                (MQ __global const mvec *)(part_acc + PIDX(row0 + hh, 0) * D) + dv;
            for (int c = cg; c < nc; c += MU * cgf)
                for (int k = 0; k < MU; k++) {
                    const int cu = c + k * cgf; /* predicated, so k stays a constant index */
                    if (cu < nc)
                        a[k] += pa[(size_t)cu * DV] * fc[hh * nc + cu];
                }
        }
        mvec acc = a[0];
        for (int k = 1; k < MU; k++)
            acc += a[k];
        float out[MV];
        for (int i = 0; i < MV; i++)
            out[i] = MV_AT(acc, i);
        if (cgf > 1) /* the same in every thread */
            for (int i = 0; i < MV; i++) {
                barrier(CLK_LOCAL_MEM_FENCE);
                red[t] = out[i];
                barrier(CLK_LOCAL_MEM_FENCE);
                for (int x = 1; x < cgf; x++)
                    out[i] += red[x * span + lu];
            }
        if (active && cg == 0) {
            const int h = g * GROUP + hh;
            const uint ob = ADDR(lay_o, 0, b, h, 0);
            for (int i = 0; i < MV; i++) {
                const int d = dv * MV + i;
                float r = out[i] * inv[hh];
                if (use_vmc)
                    r += rest[hh] * (have_vsum ? vsum[(size_t)bg * D + d] / (float)n
                                               : vmean[(size_t)bg * D + d]);
                o[ob + d] = r;
            }
        }
    }
}

/* The merge as a kernel of its own: get_num_groups(0) work-groups (slices of the output
 * dimensions) per (sequence, KV head); fc is local scratch of GROUP * n_chunks floats. */
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
    if (DEC_DIAG_EMPTY & 2) /* diagnostics only, decode.cl */
        return;
    const int bg = get_group_id(1), n_kv = n_heads / GROUP, g = bg % n_kv;
    __local float red[RED_N(3 * GROUP)];
    float th[GROUP], dh[GROUP];
    uint lay_o[4];
    DEC_MERGE_VALUES(th, dh, lay_o, g);
    dec_merge_group(th, dh, lay_o, bg / n_kv, g, n_heads, kv_len, n_chunks, kind, placement, sdc,
                    lambda, vmc, rowinfo, vsum, have_vsum, vmean, part_acc, part_ms, part_ds,
                    part_dm, part_kept, part_union, o, stats, batch, fc, red, get_group_id(0),
                    get_num_groups(0));
}

/* decode_rows.cl — the CPU forms of tt_dec_chunk and tt_dec_pv (decode.cl, which this file
 * follows in the program): one work-item per chunk of CH keys and (sequence, KV head) runs the
 * GROUP query heads over the chunk 32 keys at a time, with no local memory and no barrier, and
 * writes the same partials (or, for the two-phase cuts, the same scores and (max, Σ exp)) for
 * tt_dec_rows_pv and tt_dec_merge. Each K and V row is converted once for the group while it sits
 * in L1; the inner loops run in vectors (common/rows.cl). */
#ifndef DR_WG
#define DR_WG 1 /* work-items (chunks) per work-group: the host's launch size */
#endif
/* fp16 K and V rows shared by several heads are converted once per tile (rw_rows_to_f32) */
#define DR_CONV (KV_F16 && GROUP > 1)

__kernel __attribute__((reqd_work_group_size(DR_WG, 1, 1)))
void tt_dec_rows(__global const float *q, __global const KV_T *k, __global const KV_T *v,
                 dec_args args, int n_heads, int kv_len, int n_chunks, float scale, int store,
                 int kind, int placement, __global const float *th_buf, __global float *vsum,
                 __global float *scores, __global float *part_m, __global float *part_z,
                 __global float *part_acc, __global float *part_ms, __global float *part_ds,
                 __global float *part_dm, __global uint *part_kept, __global uint *part_union,
                 int sdc, float lambda, int vmc, __global const float *dh_buf,
                 __global const float *vmean, __global float *o, __global uint *stats,
                 int batch, __global uint *done)
{
    const int c = get_global_id(0), bg = get_global_id(1);
    if (c >= n_chunks) /* no barrier anywhere: the padding items may leave */
        return;
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int jc = c * CH, nk = min(CH, kv_len - jc);
    DEC_LAY
    /* VMC: the chunk holding the new row n-1 advances the running V sum (as tt_dec_chunk) */
    if (vsum && c == n_chunks - 1)
        for (int d = 0; d < D; d++)
            vsum[(size_t)bg * D + d] += LOAD_KV(v, ADDR(lay, LAY_V, b, g, kv_len - 1) + d);
    /* single pass: dense or pre-softmax θ, whose cut needs no row-wide value; the dropped mass
     * is read only by exact SDC */
    const int need_dm = sdc == SDC_EXACT;

    VT qv[GROUP][NV], acc[GROUP][NV];
    float m[GROUP], ds[GROUP], dm[GROUP], th[GROUP], alpha[GROUP];
    uint cnt[GROUP], kept[GROUP], kb[RW_BK];
    float s[GROUP][RW_BK]; /* a tile's scores, then its weights (0 for a dropped key) */
    float kf[DR_CONV ? RW_BK * D : 1]; /* the tile's K rows, then its kept V rows, in fp32 */
    for (int hh = 0; hh < GROUP; hh++) {
        const uint qb = ADDR(lay, LAY_Q, b, g * GROUP + hh, 0);
        for (int x = 0; x < NV; x++) {
            qv[hh][x] = VLOAD(x, q + qb);
            acc[hh][x] = (VT)(0.0f);
        }
        m[hh] = -INFINITY;
        ds[hh] = dm[hh] = 0.0f;
        cnt[hh] = 0u;
        th[hh] = kind == 1 ? DEC_THETA(g * GROUP + hh) : 0.0f;
    }
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint uni_n = 0u;
    for (int t0 = 0; t0 < nk; t0 += RW_BK) {
        const int j0 = jc + t0, nt = min(RW_BK, nk - t0);
        for (int x = 0; x < RW_BK; x++) /* keys past the chunk read its last key; masked below */
            kb[x] = ADDR(lay, LAY_K, b, g, j0 + min(x, nt - 1));
        if (DR_CONV)
            rw_rows_to_f32(k, kb, RW_BK, kf);
        uint uni = 0u;
        for (int hh = 0; hh < GROUP; hh++) {
            rw_scores(qv[hh], DR_CONV, kf, k, kb, scale, s[hh]);
            /* the head's pass over the tile in two float16 halves: keys past the chunk and
             * non-finite scores count as absent */
            float16 sv[2];
            int16 fin[2];
            float tm = -INFINITY;
            #pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const float16 x = vload16(hf, s[hh]);
                fin[hf] = isfinite(x) & (lane + 16 * hf < (int16)(nt));
                sv[hf] = select((float16)(-INFINITY), x, fin[hf]);
                tm = fmax(tm, pr_max16(sv[hf]));
            }
            const float m_new = fmax(m[hh], tm);
            const float a = m_new == -INFINITY || m[hh] == m_new ? 1.0f : exp(m[hh] - m_new);
            m[hh] = m_new;
            alpha[hh] = a;
            kept[hh] = 0u;
            if (store) { /* two-phase cuts: the raw scores and (max, Σ exp) for tt_dec_pv */
                const size_t srow = (size_t)(b * n_heads + g * GROUP + hh) * kv_len + j0;
                for (int x = 0; x < nt; x++)
                    scores[srow + x] = s[hh][x];
                float z = ds[hh] * a;
                if (m_new != -INFINITY)
                    #pragma unroll
                    for (int hf = 0; hf < 2; hf++)
                        z += pr_sum16(select((float16)(0.0f), exp(sv[hf] - m_new), fin[hf]));
                ds[hh] = z;
                continue;
            }
            ds[hh] *= a;
            dm[hh] *= a;
            uint bits = 0u;
            #pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const int16 kp = kind == 0 ? fin[hf] : fin[hf] & (sv[hf] > (float16)(th[hh]));
                if (m_new != -INFINITY && (kind == 0 || need_dm || any(kp))) {
                    const float16 e = select((float16)(0.0f), exp(sv[hf] - m_new), fin[hf]);
                    const float16 w = select((float16)(0.0f), e, kp);
                    ds[hh] += pr_sum16(w);
                    dm[hh] += pr_sum16(e - w);
                    vstore16(w, hf, s[hh]);
                }
                bits |= pr_bits16(kp) << (16 * hf);
            }
            cnt[hh] += popcount(bits);
            kept[hh] = bits;
            uni |= bits;
        }
        if (store)
            continue;
        uni_n += popcount(uni);
        const uint vb0 = ADDR(lay, LAY_V, b, g, j0), vstride = lay[LAY_V + 3];
        if (DR_CONV)
            rw_bits_to_f32(v, vb0, vstride, uni, kf);
        /* P·V: each head's accumulator in registers over the keys it kept */
        for (int hh = 0; hh < GROUP; hh++)
            if (kept[hh] != 0u || alpha[hh] != 1.0f)
                rw_pv(acc[hh], alpha[hh], kept[hh], s[hh], DR_CONV, kf, v, vb0, vstride);
    }
    for (int hh = 0; hh < GROUP; hh++) {
        const size_t pi = PIDX(b * n_heads + g * GROUP + hh, c);
        if (store) {
            part_m[pi] = m[hh];
            part_z[pi] = ds[hh];
            continue;
        }
        for (int e = 0; e < NV; e++)
            VSTORE(acc[hh][e], e, part_acc + pi * D);
        part_ms[pi] = m[hh];
        part_ds[pi] = ds[hh];
        part_dm[pi] = dm[hh];
        part_kept[pi] = cnt[hh];
    }
    if (!store)
        part_union[(size_t)bg * n_chunks + c] = uni_n;
}

/* The CPU form of tt_dec_pv (two-phase cuts: top-k, post-softmax and max-relative θ): the row's
 * (max, Σ exp) merged from the chunks' partials, then the cut over the stored scores and P·V
 * over the kept keys, 32 at a time, with tt_dec_pv's partials. K is not read again. */
__kernel __attribute__((reqd_work_group_size(DR_WG, 1, 1)))
void tt_dec_rows_pv(__global const KV_T *v, dec_args args, int n_heads, int kv_len,
                    int n_chunks, int kind, int placement, __global const float *th_buf,
                    __global const float *rowinfo, __global const float *scores,
                    __global const float *part_m, __global const float *part_z,
                    __global float *part_acc, __global float *part_ms, __global float *part_ds,
                    __global float *part_dm, __global uint *part_kept,
                    __global uint *part_union, int need_dm)
{
    const int c = get_global_id(0), bg = get_global_id(1);
    if (c >= n_chunks)
        return;
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int jc = c * CH, nk = min(CH, kv_len - jc);
    DEC_LAY
    VT acc[GROUP][NV];
    float m[GROUP], z[GROUP], cut[GROUP], ds[GROUP], dm[GROUP];
    uint cnt[GROUP], kept[GROUP];
    float s[GROUP][RW_BK]; /* a tile's scores, then its weights */
    float kf[DR_CONV ? RW_BK * D : 1];
    for (int hh = 0; hh < GROUP; hh++) {
        const int row = b * n_heads + g * GROUP + hh;
        const float2 r = dec_row_mz(part_m, part_z, row, n_chunks);
        m[hh] = r.x;
        z[hh] = r.y;
        cut[hh] = kind == 2 ? rowinfo[(size_t)row * RI_N + RI_TH] : DEC_THETA(g * GROUP + hh);
        for (int e = 0; e < NV; e++)
            acc[hh][e] = (VT)(0.0f);
        ds[hh] = dm[hh] = 0.0f;
        cnt[hh] = 0u;
    }
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint uni_n = 0u;
    for (int t0 = 0; t0 < nk; t0 += RW_BK) {
        const int j0 = jc + t0, nt = min(RW_BK, nk - t0);
        uint uni = 0u;
        for (int hh = 0; hh < GROUP; hh++) {
            kept[hh] = 0u;
            if (m[hh] == -INFINITY) /* no finite score in the row: nothing is kept */
                continue;
            const size_t sb = (size_t)(b * n_heads + g * GROUP + hh) * kv_len + j0;
            uint bits = 0u;
            #pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                float16 x;
                if (nt == RW_BK) {
                    x = vload16(hf, scores + sb);
                } else { /* the row's last tile: the buffer may end with it */
                    float part[16];
                    for (int u = 0; u < 16; u++)
                        part[u] = 16 * hf + u < nt ? scores[sb + 16 * hf + u] : -INFINITY;
                    x = vload16(0, part);
                }
                const int16 fin = isfinite(x) & (lane + 16 * hf < (int16)(nt));
                const float16 sv = select((float16)(-INFINITY), x, fin);
                int16 kp = kind == 2                  ? fin & (sv >= (float16)(cut[hh]))
                           : placement == PLACE_REL   ? fin & (sv - m[hh] > (float16)(cut[hh]))
                                                      : fin;
                float16 e = (float16)(0.0f);
                if (need_dm || placement == PLACE_POST || any(kp))
                    e = select((float16)(0.0f), exp(sv - m[hh]), fin);
                if (kind == 1 && placement == PLACE_POST)
                    kp = fin & (e / z[hh] > (float16)(cut[hh]));
                const float16 w = select((float16)(0.0f), e, kp);
                ds[hh] += pr_sum16(w);
                dm[hh] += pr_sum16(e - w);
                bits |= pr_bits16(kp) << (16 * hf);
                vstore16(w, hf, s[hh]);
            }
            cnt[hh] += popcount(bits);
            kept[hh] = bits;
            uni |= bits;
        }
        uni_n += popcount(uni);
        const uint vb0 = ADDR(lay, LAY_V, b, g, j0), vstride = lay[LAY_V + 3];
        if (DR_CONV)
            rw_bits_to_f32(v, vb0, vstride, uni, kf);
        for (int hh = 0; hh < GROUP; hh++)
            if (kept[hh] != 0u)
                rw_pv(acc[hh], 1.0f, kept[hh], s[hh], DR_CONV, kf, v, vb0, vstride);
    }
    for (int hh = 0; hh < GROUP; hh++) {
        const size_t pi = PIDX(b * n_heads + g * GROUP + hh, c);
        for (int e = 0; e < NV; e++)
            VSTORE(acc[hh][e], e, part_acc + pi * D);
        part_ms[pi] = m[hh];
        part_ds[pi] = ds[hh];
        part_dm[pi] = dm[hh];
        part_kept[pi] = cnt[hh];
    }
    part_union[(size_t)bg * n_chunks + c] = uni_n;
}

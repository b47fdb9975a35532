/* prefill.cl — tiled (FlashAttention-style) causal attention for a chunk of query rows. A
 * work-group owns a tile of BR "rows" = BQ query positions × the GROUP query heads of one KV head,
 * so every K/V tile in local memory serves the whole GQA group. Per K tile: a 2×4 register tile of
 * scores per thread, then a per-row pass (online softmax over finite scores, the cut, kept/dropped
 * sums, kept bitmasks), and P·V only for tiles where some score passed. Causally masked tiles are
 * never visited. pass 0 only computes each row's (max, Σ exp) for cuts that need them (post-
 * softmax exact, max-relative); pass 1 does the attention. onepass orders the tiles sink, diagonal,
 * rest and cuts post-softmax rows against the running (max, sum) — a superset of the exact set. */
#define BK 32
#define NT 128
#define BQ (GROUP >= 32 ? 1 : 32 / GROUP)
#define BR (BQ * GROUP)
#define DPT (D / 4)
#define QPAD (D + 1)

__kernel __attribute__((reqd_work_group_size(NT, 1, 1)))
void tt_pf_attn(__global const float *q, __global const KV_T *k, __global const KV_T *v,
                __constant uint *lay, int n_heads, int q_len, int kv_len, float scale, int pass,
                int mode, int placement, int sdc, float lambda, int vmc, int k_eff, int onepass,
                __global const float *thetas, __global const float *dhats,
                __global float *rowstat, __global const float *vmean, __global float *o,
                __global uint *stats, int batch)
{
    const int t = get_local_id(0), qt = get_group_id(0), bg = get_group_id(1);
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int q0 = qt * BQ, p0 = kv_len - q_len;
    __local float qs[BR][QPAD];
    __local float kvs[BK][QPAD];
    __local float ps[BR][BK + 1];
    __local uint mask[BR];
    __local float alpha[BR], fin_inv[BR], fin_rest[BR];
    __local int any_kept, fin_empty[BR];

    for (int x = t; x < BR * D; x += NT) {
        const int r = x / D, d = x % D, i = q0 + r % BQ;
        qs[r][d] = i < q_len ? q[ADDR(lay, LAY_Q, b, g * GROUP + r / BQ, i) + d] : 0.0f;
    }
    /* Row state lives with thread r (< BR). */
    const int my_i = q0 + t % BQ, my_h = g * GROUP + t / BQ;
    const int my_row = (b * n_heads + my_h) * q_len + my_i;
    const int my_n = p0 + my_i + 1;
    const int my_live = t < BR && my_i < q_len;
    /* cut kind as in tt_keep: 0 dense row, 1 θ (top-k prefill takes the generic path) */
    const int my_kind = (mode != MODE_THETA || my_n <= k_eff || k_eff <= 0) ? 0 : 1;
    float m_run = -INFINITY, z_fix = 1.0f, ds = 0.0f, dm = 0.0f, th = 0.0f;
    uint cnt = 0u, uni = 0u;
    const int fixed_stats = pass == 1 && rowstat && my_live;
    if (my_live) {
        th = my_kind == 1 ? thetas[my_h * q_len + my_i] : 0.0f;
        if (fixed_stats) {
            m_run = rowstat[2 * my_row];
            z_fix = rowstat[2 * my_row + 1];
        }
    }
    /* Output mapping: thread owns row t/4, dimensions (t%4) + 4j. */
    const int orow = t / 4, oc = t % 4;
    float acc[DPT];
    for (int j = 0; j < DPT; j++)
        acc[j] = 0.0f;
    /* Score mapping: rows 2·(t/8) and +1, keys 4·(t%8) .. +3. */
    const int sr = 2 * (t / 8), sk = 4 * (t % 8);

    const int last_i = min(q0 + BQ, q_len) - 1;
    const int ntile = (p0 + last_i + 1 + BK - 1) / BK;
    for (int it = 0; it < ntile; it++) {
        const int tile = !onepass || it == 0 ? it : (it == 1 ? ntile - 1 : it - 1);
        const int j0 = tile * BK;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int x = t; x < BK * D; x += NT) {
            const int kk = x / D, d = x % D;
            kvs[kk][d] = j0 + kk < kv_len ? LOAD_KV(k, ADDR(lay, LAY_K, b, g, j0 + kk) + d) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        float s[2][4] = {{0.0f}};
        for (int d = 0; d < D; d++) {
            const float qa = sr < BR ? qs[sr][d] : 0.0f, qb = sr + 1 < BR ? qs[sr + 1][d] : 0.0f;
            for (int x = 0; x < 4; x++) {
                const float kv = kvs[sk + x][d];
                s[0][x] = fma(qa, kv, s[0][x]);
                s[1][x] = fma(qb, kv, s[1][x]);
            }
        }
        for (int y = 0; y < 2; y++) {
            const int r = sr + y;
            if (r >= BR)
                continue;
            const int n = p0 + q0 + r % BQ + 1;
            for (int x = 0; x < 4; x++) /* causal mask: keys at or beyond n do not exist */
                ps[r][sk + x] = j0 + sk + x < n ? s[y][x] * scale : -INFINITY;
        }
        if (t == 0)
            any_kept = 0;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (my_live) {
            float mt = -INFINITY;
            for (int x = 0; x < BK; x++)
                if (isfinite(ps[t][x]))
                    mt = fmax(mt, ps[t][x]);
            const float m_new = fixed_stats ? m_run : fmax(m_run, mt);
            const float a = m_new == -INFINITY || m_run == m_new ? 1.0f : exp(m_run - m_new);
            ds *= a;
            dm *= a;
            m_run = m_new;
            /* one-pass post: the running normaliser stands in for the final one */
            const float z_cut = fixed_stats ? z_fix : 0.0f;
            float z_tile = 0.0f;
            if (pass == 1 && !fixed_stats && my_kind == 1 && placement == PLACE_POST)
                for (int x = 0; x < BK; x++)
                    if (isfinite(ps[t][x]))
                        z_tile += exp(ps[t][x] - m_new);
            uint bits = 0u;
            for (int x = 0; x < BK; x++) {
                const float sc = ps[t][x];
                float w = 0.0f;
                if (isfinite(sc)) {
                    const float e = exp(sc - m_new);
                    if (pass == 0) {
                        ds += e;
                    } else if (tt_keep(sc, my_kind, placement, m_new,
                                       fixed_stats ? z_cut : ds + dm + z_tile, th)) {
                        w = e;
                        ds += e;
                        cnt++;
                        bits |= 1u << x;
                    } else {
                        dm += e;
                    }
                }
                ps[t][x] = w;
            }
            alpha[t] = a;
            mask[t] = bits;
            if (bits)
                any_kept = 1;
        } else if (t < BR) {
            alpha[t] = 1.0f;
            mask[t] = 0u;
            for (int x = 0; x < BK; x++)
                ps[t][x] = 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (pass == 0)
            continue;
        if (t < BQ) { /* union of kept keys over the group's heads, per query position */
            uint u = 0u;
            for (int hh = 0; hh < GROUP; hh++)
                u |= mask[hh * BQ + t];
            uni += popcount(u);
        }
        const int pv = any_kept;
        if (pv) { /* load the V tile only when some score of the tile passed */
            for (int x = t; x < BK * D; x += NT) {
                const int kk = x / D, d = x % D;
                kvs[kk][d] = j0 + kk < kv_len ? LOAD_KV(v, ADDR(lay, LAY_V, b, g, j0 + kk) + d) : 0.0f;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (orow < BR) {
            const float a = alpha[orow];
            for (int j = 0; j < DPT; j++)
                acc[j] *= a;
            if (pv) {
                for (int x = 0; x < BK; x++) {
                    const float p = ps[orow][x];
                    if (p != 0.0f)
                        for (int j = 0; j < DPT; j++)
                            acc[j] = fma(p, kvs[x][oc + 4 * j], acc[j]);
                }
            }
        }
    }
    /* No early return for pass 0: PoCL's work-group compiler mishandled a return before the
     * final barrier (guards after it stopped holding), so both passes run the same code and only
     * the stores depend on the pass. */
    if (pass == 0 && my_live) {
        rowstat[2 * my_row] = m_run;
        rowstat[2 * my_row + 1] = ds;
    }
    if (t < BR) {
        float denom;
        if (my_kind == 0) {
            denom = ds;
        } else if (my_kind == 1 && placement == PLACE_POST) {
            denom = ds + dm;
        } else {
            float miss = 0.0f;
            if (sdc == SDC_EXACT)
                miss = dm;
            else if (sdc == SDC_EXPTH)
                miss = (float)(my_n - (int)cnt) * exp((placement == PLACE_REL ? m_run + th : th) - m_run);
            else if (sdc == SDC_OFFLINE && my_live)
                miss = dhats[my_h * q_len + my_i];
            denom = ds + lambda * miss;
        }
        const float inv = (ds > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
        fin_inv[t] = inv;
        fin_rest[t] = (vmc && my_kind != 0) ? 1.0f - ds * inv : 0.0f;
        fin_empty[t] = m_run == -INFINITY;
        if (pass == 1 && my_live && stats)
            stats[my_row] = cnt;
    }
    if (pass == 1 && t < BQ && q0 + t < q_len && stats)
        stats[(size_t)batch * n_heads * q_len + (size_t)(b * n_kv + g) * q_len + q0 + t] = uni;
    barrier(CLK_LOCAL_MEM_FENCE);
    const int oi = q0 + orow % BQ;
    if (pass == 1 && orow < BR && oi < q_len) {
        const int h = g * GROUP + orow / BQ;
        const uint ob = ADDR(lay, LAY_O, b, h, oi);
        const float inv = fin_inv[orow], rest = fin_rest[orow];
        for (int j = 0; j < DPT; j++) {
            const int d = oc + 4 * j;
            float out = acc[j] * inv;
            if (rest != 0.0f)
                out += rest * vmean[((size_t)bg * q_len + oi) * D + d];
            o[ob + d] = fin_empty[orow] ? NAN : out;
        }
    }
}

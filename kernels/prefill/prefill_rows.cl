/* prefill_rows.cl — the CPU form of prefill: one work-item per PQ query positions and KV head
 * runs those positions' rows (PQ × the GQA group's heads) serially, 32 keys at a time, with no
 * local memory and no barrier. PoCL runs a work-group's items one after another on one core, so
 * the tiled kernel's barriers cost a spill of every live register per item and phase; here each
 * K and V tile is read (and converted from fp16) once for all the item's rows while it sits in
 * L1, and the next items of the work-group find it in L2.
 * Same arguments, results and statistics as tt_pf_attn (prefill.cl), one-pass post cut included
 * (each row's tiles: sink, then from its diagonal back). Top-k too, which the tiled kernel lacks:
 * tt_pf_rows_kth finds each row's k-th largest score first and pass 1 keeps the scores at or
 * above it (thetas then holds one cut per (sequence, head, position)). Vector helpers:
 * common/rows.cl. */
#ifndef LQ
#define LQ 8 /* work-items per work-group (the host's launch size) */
#endif
#ifndef PQ
#define PQ 1 /* query positions per work-item (the host's choice; 1 for one-pass post) */
#endif
#define R (PQ * GROUP) /* rows per work-item */
/* fp16 K and V rows that several rows use are converted once per tile (rw_rows_to_f32) */
#define CONV (KV_F16 && R > 1)

__kernel __attribute__((reqd_work_group_size(LQ, 1, 1)))
void tt_pf_rows(__global const float *q, __global const KV_T *k, __global const KV_T *v,
                __constant uint *lay, int n_heads, int q_len, int kv_len, float scale, int pass,
                int mode, int placement, int sdc, float lambda, int vmc, int k_eff, int onepass,
                __global const float *thetas, __global const float *dhats,
                __global float *rowstat, __global const float *vmean, __global float *o,
                __global uint *stats, int batch)
{
    const int i0 = get_global_id(0) * PQ, bg = get_global_id(1);
    if (i0 >= q_len) /* no barrier anywhere: the padding items may leave */
        return;
    const int np = min(PQ, q_len - i0); /* positions of this item */
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv;
    const int p0 = kv_len - q_len, rn_max = p0 + i0 + np; /* the last position's row is longest */
    const int op = onepass && pass == 1; /* the host runs one-pass with PQ = 1 */
    const int need_dm = pass == 1 && (placement == PLACE_POST || sdc == SDC_EXACT);
    const int fixst = pass == 1 && rowstat != 0;

    /* row r: position i0 + r / GROUP, head g·GROUP + r % GROUP */
    VT acc[R][NV];
    float m[R], ds[R], dm[R], zf[R], th[R], alpha[R];
    int rn[R], kind[R];
    uint cnt[R], kept[R];
    float s[R][RW_BK]; /* a tile's scores, then its weights (0 for a dropped key) */
    uint kb[RW_BK], uni_n[PQ];
    float kf[CONV ? RW_BK * D : 1]; /* the tile's K rows, then its kept V rows, in fp32 */
    for (int r = 0; r < R; r++) {
        const int p = r / GROUP, i = i0 + p, h = g * GROUP + r % GROUP;
        const int live = p < np, row = (b * n_heads + h) * q_len + i;
        rn[r] = live ? p0 + i + 1 : 0; /* causal row length; <= 0: an empty row */
        /* 0 dense, 1 Top-θ, 2 top-k */
        kind[r] = (mode == MODE_DENSE || rn[r] <= k_eff || k_eff <= 0) ? 0
                  : mode == MODE_TOPK                                 ? 2
                                                                      : 1;
        for (int c = 0; c < NV; c++)
            acc[r][c] = (VT)(0.0f);
        m[r] = fixst && live ? rowstat[2 * row] : -INFINITY;
        zf[r] = fixst && live ? rowstat[2 * row + 1] : 1.0f;
        th[r] = !live || kind[r] == 0 ? 0.0f
                : kind[r] == 1      ? thetas[h * q_len + i]
                                    : thetas[row];
        ds[r] = dm[r] = 0.0f;
        cnt[r] = 0u;
    }
    for (int p = 0; p < PQ; p++)
        uni_n[p] = 0u; /* keys any head of the group kept, per position */
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int ntile = rn_max > 0 ? (rn_max + RW_BK - 1) / RW_BK : 0;
    for (int it = 0; it < ntile; it++) {
        const int tile = !op || it == 0 ? it : ntile - it; /* one-pass: sink, diagonal, back */
        const int j0 = tile * RW_BK;
        /* keys past the longest row read its last key (inside the cache); masked below */
        for (int x = 0; x < RW_BK; x++)
            kb[x] = ADDR(lay, LAY_K, b, g, min(j0 + x, rn_max - 1));
        if (CONV)
            rw_rows_to_f32(k, kb, RW_BK, kf);
        uint uni[PQ];
        for (int p = 0; p < PQ; p++)
            uni[p] = 0u;
        for (int r = 0; r < R; r++) {
            kept[r] = 0u;
            alpha[r] = 1.0f;
            if (j0 >= rn[r]) /* the tile lies past this row (or the row is padding): no-op */
                continue;
            /* Q·Kᵀ against the row's query held in registers */
            const uint qb = ADDR(lay, LAY_Q, b, g * GROUP + r % GROUP, i0 + r / GROUP);
            VT qv[NV];
            #pragma unroll
            for (int c = 0; c < NV; c++)
                qv[c] = VLOAD(c, q + qb);
            rw_scores(qv, CONV, kf, k, kb, scale, s[r]);
            /* the row's pass over the tile, as two float16 halves: causal mask (non-finite
             * scores count as absent), online max, the cut, the exponentials needed */
            float16 sv[2];
            int16 fin[2];
            float tm = -INFINITY;
            #pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const float16 x = vload16(hf, s[r]);
                fin[hf] = isfinite(x) & (lane + (j0 + 16 * hf) < (int16)(rn[r]));
                sv[hf] = select((float16)(-INFINITY), x, fin[hf]);
                tm = fmax(tm, pr_max16(sv[hf]));
            }
            const float m_new = fixst ? m[r] : fmax(m[r], tm);
            const float a = m_new == -INFINITY || m[r] == m_new ? 1.0f : exp(m[r] - m_new);
            ds[r] *= a;
            dm[r] *= a;
            m[r] = m_new;
            alpha[r] = a;
            float16 e[2] = {(float16)(0.0f), (float16)(0.0f)};
            const int anyfin = any(fin[0] | fin[1]);
            /* the exponentials are needed unless every score is dropped and nothing reads the
             * dropped mass (a sparse pre-softmax or max-relative row) */
            const int need_all = pass == 0 || kind[r] == 0 || need_dm || placement == PLACE_POST;
            int16 kp[2];
            #pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                if (kind[r] == 0 || pass == 0)
                    kp[hf] = fin[hf];
                else if (kind[r] == 2) /* ties with the k-th largest are all kept */
                    kp[hf] = fin[hf] & (sv[hf] >= (float16)(th[r]));
                else if (placement == PLACE_PRE)
                    kp[hf] = fin[hf] & (sv[hf] > (float16)(th[r]));
                else if (placement == PLACE_REL)
                    kp[hf] = fin[hf] & (sv[hf] - m_new > (float16)(th[r]));
                else
                    kp[hf] = fin[hf]; /* post: decided once the exponentials are known */
                if (anyfin && (need_all || any(kp[hf])))
                    e[hf] = select((float16)(0.0f), exp(sv[hf] - m_new), fin[hf]);
            }
            float zc = zf[r];
            if (op) /* one-pass post: (ds + dm) before the tile + the tile's Σ exp, at m_new */
                zc = ds[r] + dm[r] + pr_sum16(e[0] + e[1]);
            uint bits = 0u;
            #pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                if (pass == 1 && kind[r] == 1 && placement == PLACE_POST)
                    kp[hf] = fin[hf] & (e[hf] / zc > (float16)(th[r]));
                if (pass == 0)
                    kp[hf] = (int16)(0);
                const float16 w = select((float16)(0.0f), e[hf], kp[hf]);
                ds[r] += pass == 0 ? pr_sum16(e[hf]) : pr_sum16(w);
                dm[r] += pass == 0 ? 0.0f : pr_sum16(e[hf] - w);
                bits |= pr_bits16(kp[hf]) << (16 * hf);
                vstore16(w, hf, s[r]);
            }
            cnt[r] += popcount(bits);
            kept[r] = bits;
            uni[r / GROUP] |= bits;
        }
        if (pass != 1)
            continue;
        uint all = 0u;
        for (int p = 0; p < PQ; p++) {
            uni_n[p] += popcount(uni[p]);
            all |= uni[p];
        }
        const uint vb0 = ADDR(lay, LAY_V, b, g, j0), vstride = lay[LAY_V + 3];
        if (CONV)
            rw_bits_to_f32(v, vb0, vstride, all, kf);
        /* P·V: each row's accumulator in registers over the keys it kept */
        for (int r = 0; r < R; r++)
            if (kept[r] != 0u || alpha[r] != 1.0f)
                rw_pv(acc[r], alpha[r], kept[r], s[r], CONV, kf, v, vb0, vstride);
    }
    for (int r = 0; r < R; r++) {
        const int p = r / GROUP, i = i0 + p, h = g * GROUP + r % GROUP;
        if (p >= np)
            break;
        const int row = (b * n_heads + h) * q_len + i;
        if (pass == 0) {
            rowstat[2 * row] = m[r];
            rowstat[2 * row + 1] = ds[r];
            continue;
        }
        float denom;
        if (kind[r] == 0) {
            denom = ds[r];
        } else if (kind[r] == 1 && placement == PLACE_POST) {
            denom = ds[r] + dm[r];
        } else {
            float miss = 0.0f;
            if (sdc == SDC_EXACT)
                miss = dm[r];
            else if (sdc == SDC_EXPTH)
                miss = (float)(rn[r] - (int)cnt[r]) *
                       exp((kind[r] == 1 && placement == PLACE_REL ? m[r] + th[r] : th[r]) - m[r]);
            else if (sdc == SDC_OFFLINE)
                miss = dhats[h * q_len + i];
            denom = ds[r] + lambda * miss;
        }
        const float inv = (ds[r] > 0.0f && denom > 0.0f) ? 1.0f / denom : 0.0f;
        const float rest = (vmc && kind[r] != 0) ? 1.0f - ds[r] * inv : 0.0f;
        const int empty = m[r] == -INFINITY;
        const uint ob = ADDR(lay, LAY_O, b, h, i);
        for (int c = 0; c < NV; c++) {
            VT out = acc[r][c] * inv;
            if (rest != 0.0f)
                out += rest * VLOAD(c, vmean + ((size_t)bg * q_len + i) * D);
            VSTORE(empty ? (VT)(NAN) : out, c, o + ob);
        }
        if (stats)
            stats[row] = cnt[r];
    }
    if (pass == 1 && stats)
        for (int p = 0; p < np; p++)
            stats[(size_t)batch * n_heads * q_len + (size_t)(b * n_kv + g) * q_len + i0 + p] =
                uni_n[p];
}

#ifndef KTH_HB
#define KTH_HB 1 /* heads of a group whose scores tt_pf_rows_kth computes together (the host's) */
#endif
#define KTH_CONV (KV_F16 && KTH_HB > 1)

/* Top-k's cut: the k-th largest finite score of each row into kth[(b·n_heads + h)·q_len + i].
 * Work-item (slot, b·n_kv + g) takes positions i = slot, slot + n_slots, ... (causal rows of all
 * lengths, so the items' work evens out), KTH_HB heads of the group at a time: their rows'
 * scores, computed exactly as tt_pf_rows computes them (same helper and order: bit-identical, so
 * pass 1's `>=` keeps the k largest and every tie), go once into the item's stretch of keys
 * (KTH_HB × kv_len) as order keys, 0 for a non-finite score (absent; no finite float has key 0);
 * then per row a radix select, 8 bits a pass, each pass over the keys still in the chosen bin,
 * moved to the front. A row with fewer finite scores gets its smallest finite one (all kept,
 * and exp-threshold SDC prices the rest at it, as the reference does); a row with none,
 * -INFINITY. Rows of n <= k are dense: not written. */
__kernel __attribute__((reqd_work_group_size(LQ, 1, 1)))
void tt_pf_rows_kth(__global const float *q, __global const KV_T *k, __constant uint *lay,
                    int n_heads, int q_len, int kv_len, float scale, int k_eff, int n_slots,
                    __global uint *keys, __global float *kth)
{
    const int slot = get_global_id(0), bg = get_global_id(1);
    if (slot >= n_slots)
        return;
    const int n_kv = n_heads / GROUP, g = bg % n_kv, b = bg / n_kv, p0 = kv_len - q_len;
    __global uint *mine = keys + ((size_t)bg * n_slots + slot) * KTH_HB * kv_len;
    float s[RW_BK], kf[KTH_CONV ? RW_BK * D : 1];
    uint kb[RW_BK], hist[256];
    for (int i = slot; i < q_len; i += n_slots) {
        const int n = p0 + i + 1;
        if (n <= k_eff)
            continue;
        for (int h0 = g * GROUP; h0 < (g + 1) * GROUP; h0 += KTH_HB) {
            VT qv[KTH_HB][NV];
            for (int hh = 0; hh < KTH_HB; hh++)
                for (int c = 0; c < NV; c++)
                    qv[hh][c] = VLOAD(c, q + ADDR(lay, LAY_Q, b, h0 + hh, i));
            for (int j0 = 0; j0 < n; j0 += RW_BK) {
                for (int x = 0; x < RW_BK; x++)
                    kb[x] = ADDR(lay, LAY_K, b, g, min(j0 + x, n - 1));
                if (KTH_CONV)
                    rw_rows_to_f32(k, kb, RW_BK, kf);
                for (int hh = 0; hh < KTH_HB; hh++) {
                    rw_scores(qv[hh], KTH_CONV, kf, k, kb, scale, s);
                    for (int x = 0; x < RW_BK && j0 + x < n; x++)
                        mine[hh * kv_len + j0 + x] = isfinite(s[x]) ? tt_order_key(s[x]) : 0u;
                }
            }
            for (int hh = 0; hh < KTH_HB; hh++) {
                __global uint *row = mine + hh * kv_len;
                uint prefix = 0u, want = (uint)k_eff;
                int c = n, none = 0; /* candidates: row[0 .. c) */
                for (int pass = 0; pass < 4 && !none; pass++) {
                    const int shift = 24 - 8 * pass;
                    for (int x = 0; x < 256; x++)
                        hist[x] = 0u;
                    for (int j = 0; j < c; j++) {
                        const uint key = row[j];
                        if (key != 0u)
                            hist[(key >> shift) & 255u]++;
                    }
                    if (pass == 0) { /* fewer finite scores than k: select the smallest */
                        uint total = 0u;
                        for (int x = 0; x < 256; x++)
                            total += hist[x];
                        none = total == 0u;
                        want = min(want, total);
                    }
                    uint cum = 0u;
                    int digit = 0;
                    for (int bin = 255; bin >= 0 && !none; bin--) {
                        if (cum + hist[bin] >= want) {
                            digit = bin;
                            break;
                        }
                        cum += hist[bin];
                    }
                    prefix |= (uint)digit << shift;
                    want -= cum;
                    int kept = 0; /* the bin's keys to the front (0 stays out: absent) */
                    for (int j = 0; j < c && pass < 3; j++) {
                        const uint key = row[j];
                        if (key != 0u && ((key >> shift) & 255u) == (uint)digit)
                            row[kept++] = key;
                    }
                    c = kept;
                }
                kth[(b * n_heads + h0 + hh) * q_len + i] =
                    none ? -INFINITY : tt_order_val(prefix);
            }
        }
    }
}

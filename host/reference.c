/* reference.c — the CPU reference (oracle) of design §1: dense, top-k and Top-θ attention with the
 * SDC variants, VMC, GQA statistics and the NaN/Inf policy, computed directly in double precision
 * on dense head-major host arrays. Correctness and clarity first; it only has to be fast enough to
 * check real-sized decode and moderate prefill calls in well under a few seconds. */
#include "internal.h"
#include "reference_row.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- k-th largest -------------------------------------------------------------------------------
 * Quickselect with a three-way partition: scores of quantised or repeated keys tie often, and a
 * two-way partition degrades to O(n²) on long runs of equal values. */
static void swapd(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

double tt__ref_kth_largest(double *x, int n, int k)
{
    int lo = 0, hi = n, want = k - 1; /* want: rank in decreasing order */
    while (hi - lo > 1) {
        /* Median of three guards against the already-sorted inputs causal rows often are. */
        double a = x[lo], b = x[lo + (hi - lo) / 2], c = x[hi - 1];
        double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* [lo, lt) > piv, [lt, gt) == piv, [gt, hi) < piv */
        int lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (x[i] > piv)
                swapd(&x[lt++], &x[i++]);
            else if (x[i] < piv)
                swapd(&x[i], &x[--gt]);
            else
                i++;
        }
        if (want < lt)
            hi = lt;
        else if (want >= gt)
            lo = gt;
        else
            return piv;
    }
    return x[lo];
}

/* ---- One row ---------------------------------------------------------------------------------- */
int tt__ref_row(const double *s, int n, const tt__row_spec *spec, double *scratch, int *idx,
                double *w, tt__row_info *info)
{
    memset(info, 0, sizeof *info);
    double m = -INFINITY;
    int nf = 0;
    for (int j = 0; j < n; j++) {
        if (isfinite(s[j])) {
            nf++;
            if (s[j] > m)
                m = s[j];
        }
    }
    info->n_finite = nf;
    if (nf == 0) {
        info->m = info->z = info->denom = info->cut = NAN;
        return -1;
    }
    double z = 0;
    for (int j = 0; j < n; j++)
        if (isfinite(s[j]))
            z += exp(s[j] - m);

    /* Top-θ compares x (s, s - m, or the true softmax probability exp(s - m)/Z) computed in
     * double against the table's fp32 θ widened to double. Widening θ is exact, and x is not
     * rounded a second time (to fp32, or to fp16 as in the pitfall design §1 names), so the
     * oracle's kept set is the exact one for its scores; a device computing scores in fp32 may
     * differ only for elements within rounding of θ, which a checker must tolerate anyway. */
    const tt__row_rule rule = spec->rule;
    /* top-k: the k-th largest finite score. With k or fewer finite scores (the rest non-finite)
     * every finite one is in the top k; the row still counts as thresholded, so SDC applies. */
    double kth = -INFINITY;
    if (rule == TT__ROW_TOPK && nf > spec->k) {
        int c = 0;
        for (int j = 0; j < n; j++)
            if (isfinite(s[j]))
                scratch[c++] = s[j];
        kth = tt__ref_kth_largest(scratch, c, spec->k);
    }

    /* One-pass post-softmax (prefill): the row's tiles of onepass_tile keys in the order sink
     * (tile 0), then from the diagonal tile back to tile 1; each score is compared against the
     * running normaliser — Σ exp over the tiles seen so far, this one included, at their max.
     * That normaliser never exceeds the final one, so the kept set contains the exact one.
     * scratch[j] becomes 1 for a kept key. */
    const int onepass = rule == TT__ROW_THETA && spec->placement == TT_PLACE_POST &&
                        spec->onepass_tile > 0;
    if (onepass) {
        const int bt = spec->onepass_tile, nt = (n + bt - 1) / bt;
        double mr = -INFINITY, zr = 0;
        for (int it = 0; it < nt; it++) {
            const int j0 = (it == 0 ? 0 : nt - it) * bt, j1 = j0 + bt < n ? j0 + bt : n;
            double mn = mr;
            for (int j = j0; j < j1; j++)
                if (isfinite(s[j]) && s[j] > mn)
                    mn = s[j];
            double zc = mr == -INFINITY ? 0 : zr * exp(mr - mn);
            for (int j = j0; j < j1; j++)
                if (isfinite(s[j]))
                    zc += exp(s[j] - mn);
            for (int j = j0; j < j1; j++)
                scratch[j] = isfinite(s[j]) && exp(s[j] - mn) / zc > spec->theta;
            mr = mn;
            zr = zc;
        }
    }

    double d_kept = 0, d_drop = 0, min_kept = INFINITY;
    int nk = 0;
    for (int j = 0; j < n; j++) {
        if (!isfinite(s[j]))
            continue; /* never kept, never counted as dropped */
        double e = exp(s[j] - m);
        int keep;
        if (rule == TT__ROW_DENSE)
            keep = 1;
        else if (rule == TT__ROW_TOPK)
            keep = s[j] >= kth; /* ties with the k-th are all kept */
        else if (spec->placement == TT_PLACE_PRE)
            keep = s[j] > spec->theta;
        else if (spec->placement == TT_PLACE_REL)
            keep = s[j] - m > spec->theta;
        else if (onepass)
            keep = scratch[j] != 0;
        else
            keep = e / z > spec->theta;
        if (keep) {
            idx[nk] = j;
            w[nk++] = e; /* normalised below */
            d_kept += e;
            if (s[j] < min_kept)
                min_kept = s[j];
        } else {
            d_drop += e;
        }
    }

    /* D_miss, in units of exp(s - m) like D_S. */
    double d_miss = 0, cut = min_kept;
    int logit = rule == TT__ROW_TOPK || (rule == TT__ROW_THETA && spec->placement != TT_PLACE_POST);
    if (rule == TT__ROW_THETA) /* θ expressed on the score axis */
        cut = spec->placement == TT_PLACE_PRE   ? spec->theta
              : spec->placement == TT_PLACE_REL ? spec->theta + m
            : spec->theta > 0                   ? m + log(z) + log(spec->theta)
                                                : -INFINITY;
    if (logit) {
        switch (spec->sdc) {
        case TT_SDC_NONE:
            break;
        case TT_SDC_EXACT:
            d_miss = d_drop;
            break;
        case TT_SDC_EXP_THRESHOLD:
            /* Every missing element is priced at the threshold: θ on the score axis for Top-θ
             * (θ + m for max-relative), and for top-k the smallest kept score, i.e. the k-th
             * largest, which is the tightest bound on the dropped scores. n is the row's real
             * length, as the brief specifies (non-finite keys included in n - |S|). */
            d_miss = (double)(spec->n - nk) * exp(cut - m);
            break;
        case TT_SDC_OFFLINE:
            d_miss = spec->dhat;
            break;
        }
    }
    double denom = logit ? d_kept + spec->lambda * d_miss : z;
    /* An empty kept set (θ above the whole row) or a D_S lost to underflow leaves no weight to
     * give: weights are 0, so the output is 0, or v̄ with VMC. */
    double p_sum = 0;
    for (int t = 0; t < nk; t++) {
        w[t] = denom > 0 ? w[t] / denom : 0;
        p_sum += w[t];
    }
    info->m = m;
    info->z = z;
    info->d_kept = d_kept;
    info->d_miss = d_miss;
    info->denom = denom;
    info->cut = cut;
    info->p_sum = p_sum;
    info->n_kept = nk;
    return nk;
}

/* ---- The whole call ----------------------------------------------------------------------------- */
typedef struct ref_call {
    const tt_attn_shape *sh;
    const tt_attn_params *pa;
    int k_eff;
    double scale;
    /* scratch, each kv_len long except acc / vsum / qd (head_dim) */
    double *s, *w, *scratch, *acc, *vsum, *qd;
    int *idx;
    uint32_t *mark; /* stamp per key: marks the GQA union of one (batch, KV head, row) */
    float *kbuf, *vbuf; /* fp16 K/V of one (batch, KV head) widened to fp32 */
} ref_call;

/* The spec of row (h, n): dense below k_eff, otherwise the mode's rule with θ / D̂ looked up at the
 * real row length. */
static tt_status row_spec(const ref_call *c, int h, int n, tt__row_spec *spec)
{
    const tt_attn_params *p = c->pa;
    memset(spec, 0, sizeof *spec);
    spec->n = n;
    spec->placement = p->placement;
    spec->sdc = p->sdc;
    spec->lambda = p->sdc_lambda;
    spec->k = c->k_eff;
    if (c->k_eff == 0 || n <= c->k_eff || p->mode == TT_MODE_DENSE) {
        spec->rule = TT__ROW_DENSE;
        return TT_SUCCESS;
    }
    spec->rule = p->mode == TT_MODE_TOPK ? TT__ROW_TOPK : TT__ROW_THETA;
    /* one-pass applies to prefill chunks (the prefill kernels' 32-key tiles); decode is exact */
    if (p->post_variant == TT_POST_ONEPASS && c->sh->q_len >= 2)
        spec->onepass_tile = TT__ONEPASS_TILE;
    if (spec->rule == TT__ROW_THETA || p->sdc == TT_SDC_OFFLINE) {
        float th = 0, dh = NAN;
        tt_status st = tt_table_lookup(p->table, p->layer, h, n, &th, &dh);
        if (st != TT_SUCCESS)
            return st; /* the lookup recorded the message */
        spec->theta = th;
        spec->dhat = dh;
        int needs_dhat = p->sdc == TT_SDC_OFFLINE &&
                         !(spec->rule == TT__ROW_THETA && p->placement == TT_PLACE_POST);
        TT_RETURN_IF(NULL, needs_dhat && !isfinite(dh), TT_ERR_NO_TABLE,
                     "reference: offline SDC needs D-hat for layer %d head %d", p->layer, h);
    }
    return TT_SUCCESS;
}

/* Attention for every query head of KV head g of sequence b. */
static tt_status run_group(ref_call *c, int b, int g, const float *q, const float *kg,
                           const float *vg, float *o, uint32_t *stats, uint32_t *stamp)
{
    const tt_attn_shape *sh = c->sh;
    const int d = sh->head_dim, ratio = sh->n_heads / sh->n_kv_heads;
    const int p0 = sh->kv_len - sh->q_len;
    const int vmc = c->pa->vmc && c->pa->mode != TT_MODE_DENSE;
    int summed = 0; /* V rows already in vsum: rows grow with i, so the causal mean is a prefix sum */
    memset(c->vsum, 0, (size_t)d * sizeof *c->vsum);
    for (int i = 0; i < sh->q_len; i++) {
        const int n = p0 + i + 1;
        if (vmc) {
            for (; summed < n; summed++)
                for (int x = 0; x < d; x++)
                    c->vsum[x] += vg[(size_t)summed * d + x];
        }
        if (++*stamp == 0) { /* wrapped: old stamps could alias */
            memset(c->mark, 0, (size_t)sh->kv_len * sizeof *c->mark);
            *stamp = 1;
        }
        uint32_t vrows = 0;
        for (int r = 0; r < ratio; r++) {
            const int h = g * ratio + r;
            const size_t row = ((size_t)b * sh->n_heads + h) * sh->q_len + i;
            const float *qr = q + row * d;
            float *orow = o + row * d;
            tt__row_spec spec;
            tt_status st = row_spec(c, h, n, &spec);
            if (st != TT_SUCCESS)
                return st;
            int q_nan = 0;
            for (int x = 0; x < d; x++) {
                c->qd[x] = qr[x];
                q_nan |= isnan(qr[x]);
            }
            for (int j = 0; j < n; j++) {
                const float *kr = kg + (size_t)j * d;
                double dot = 0;
                for (int x = 0; x < d; x++)
                    dot += c->qd[x] * kr[x];
                c->s[j] = dot * c->scale;
            }
            tt__row_info info;
            int nk = q_nan ? -1 : tt__ref_row(c->s, n, &spec, c->scratch, c->idx, c->w, &info);
            if (stats)
                stats[row] = nk < 0 ? 0 : (uint32_t)nk;
            if (nk < 0) { /* NaN in Q or no finite score: this row of this head only is NaN */
                for (int x = 0; x < d; x++)
                    orow[x] = NAN;
                continue;
            }
            memset(c->acc, 0, (size_t)d * sizeof *c->acc);
            for (int t = 0; t < nk; t++) {
                const int j = c->idx[t];
                const float *vr = vg + (size_t)j * d;
                for (int x = 0; x < d; x++)
                    c->acc[x] += c->w[t] * vr[x];
                if (c->mark[j] != *stamp) {
                    c->mark[j] = *stamp;
                    vrows++;
                }
            }
            /* VMC only for thresholded rows: a dense row's weights already sum to 1. */
            const double rest = vmc && spec.rule != TT__ROW_DENSE ? 1.0 - info.p_sum : 0.0;
            for (int x = 0; x < d; x++)
                orow[x] = (float)(c->acc[x] + rest * (c->vsum[x] / n));
        }
        if (stats) {
            const size_t vbase = (size_t)sh->batch * sh->n_heads * sh->q_len;
            stats[vbase + ((size_t)b * sh->n_kv_heads + g) * sh->q_len + i] = vrows;
        }
    }
    return TT_SUCCESS;
}

static void free_call(ref_call *c)
{
    free(c->s);
    free(c->w);
    free(c->scratch);
    free(c->acc);
    free(c->vsum);
    free(c->qd);
    free(c->idx);
    free(c->mark);
    free(c->kbuf);
    free(c->vbuf);
}

tt_status tt_reference_attention(const tt_attn_shape *shape, const tt_attn_params *params,
                                 const float *q, const void *k, const void *v, float *o,
                                 uint32_t *stats)
{
    int k_eff = 0;
    tt_status st = tt__validate_shape_params(NULL, shape, params, &k_eff);
    if (st != TT_SUCCESS)
        return st;
    TT_RETURN_IF(NULL, !q || !k || !v || !o, TT_ERR_NULL_ARGUMENT,
                 "tt_reference_attention: q, k, v and o must not be NULL");
    ref_call c;
    memset(&c, 0, sizeof c);
    c.sh = shape;
    c.pa = params;
    c.k_eff = k_eff;
    c.scale = params->scale > 0 ? (double)params->scale : 1.0 / sqrt((double)shape->head_dim);
    const size_t n = (size_t)shape->kv_len, d = (size_t)shape->head_dim;
    const int f16 = shape->kv_dtype == TT_DTYPE_F16;
    c.s = malloc(n * sizeof *c.s);
    c.w = malloc(n * sizeof *c.w);
    c.scratch = malloc(n * sizeof *c.scratch);
    c.idx = malloc(n * sizeof *c.idx);
    c.mark = calloc(n, sizeof *c.mark);
    c.acc = malloc(d * sizeof *c.acc);
    c.vsum = malloc(d * sizeof *c.vsum);
    c.qd = malloc(d * sizeof *c.qd);
    if (f16) {
        c.kbuf = malloc(n * d * sizeof *c.kbuf);
        c.vbuf = malloc(n * d * sizeof *c.vbuf);
    }
    if (!c.s || !c.w || !c.scratch || !c.idx || !c.mark || !c.acc || !c.vsum || !c.qd ||
        (f16 && (!c.kbuf || !c.vbuf))) {
        free_call(&c);
        return tt__fail(NULL, TT_OUT_OF_HOST_MEMORY,
                        "tt_reference_attention: out of memory for kv_len %d", shape->kv_len);
    }
    uint32_t stamp = 0;
    for (int b = 0; b < shape->batch && st == TT_SUCCESS; b++) {
        for (int g = 0; g < shape->n_kv_heads && st == TT_SUCCESS; g++) {
            const size_t off = ((size_t)b * shape->n_kv_heads + g) * n * d;
            const float *kg, *vg;
            if (f16) { /* widen once per KV head instead of once per query head and row */
                const uint16_t *kh = (const uint16_t *)k + off, *vh = (const uint16_t *)v + off;
                for (size_t e = 0; e < n * d; e++) {
                    c.kbuf[e] = tt_f16_to_f32(kh[e]);
                    c.vbuf[e] = tt_f16_to_f32(vh[e]);
                }
                kg = c.kbuf;
                vg = c.vbuf;
            } else {
                kg = (const float *)k + off;
                vg = (const float *)v + off;
            }
            st = run_group(&c, b, g, q, kg, vg, o, stats, &stamp);
        }
    }
    free_call(&c);
    return st;
}

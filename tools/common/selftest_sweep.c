/* selftest_sweep.c — runs one selftest case: fresh synthetic data, thresholds calibrated on it,
 * the CPU reference, then the device through tt_attention_enqueue with poisoned outputs and the
 * case's layout, and a comparison: outputs within a combined absolute/relative tolerance, kept
 * and V-row counts exact, except on rows where some score lies within rounding of the threshold. */
#include "selftest_sweep.h"
#include "synth.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATOL 2e-4
#define RTOL 2e-3
#define AMBIG 2e-5 /* scores this close (relative) to the threshold may fall either way in fp32 */

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* True when the row's kept set is not decided robustly in fp32: a score within AMBIG of the cut. */
static int row_ambiguous(const tt_case *c, const tt_table *table, const float *q, const void *kb,
                         int b, int h, int i, float scale, int k_eff, double *x)
{
    const tt_attn_shape *s = &c->shape;
    const int n = s->kv_len - s->q_len + i + 1;
    if (c->params.mode == TT_MODE_DENSE || n <= k_eff)
        return 0;
    double m = -INFINITY, z = 0;
    for (int j = 0; j < n; j++) {
        x[j] = tt_synth_score(s, q, kb, b, h, i, j, scale);
        m = fmax(m, x[j]);
    }
    for (int j = 0; j < n; j++)
        z += exp(x[j] - m);
    if (c->params.mode == TT_MODE_TOPK) {
        qsort(x, (size_t)n, sizeof *x, cmp_desc);
        return fabs(x[k_eff - 1] - x[k_eff]) <= AMBIG * (1 + fabs(x[k_eff]));
    }
    float th;
    tt_table_lookup(table, c->params.layer, h, n, &th, NULL);
    double cut = th; /* the cut in score units */
    if (c->params.placement == TT_PLACE_REL)
        cut = m + th;
    else if (c->params.placement == TT_PLACE_POST)
        cut = th > 0 ? m + log(z) + log(th) : -INFINITY;
    if (c->params.placement == TT_PLACE_POST && c->params.post_variant == TT_POST_ONEPASS &&
        s->q_len >= 2) { /* the cut of each 32-key tile, against the running normaliser */
        const int nt = (n + 31) / 32;
        double mr = -INFINITY, zr = 0;
        for (int it = 0; it < nt; it++) {
            const int j0 = (it == 0 ? 0 : nt - it) * 32, j1 = j0 + 32 < n ? j0 + 32 : n;
            double mn = mr;
            for (int j = j0; j < j1; j++)
                mn = fmax(mn, x[j]);
            double zc = mr == -INFINITY ? 0 : zr * exp(mr - mn);
            for (int j = j0; j < j1; j++)
                zc += exp(x[j] - mn);
            const double tcut = th > 0 ? mn + log(zc) + log(th) : -INFINITY;
            for (int j = j0; j < j1; j++)
                if (fabs(x[j] - tcut) <= AMBIG * (1 + fabs(tcut)))
                    return 1;
            mr = mn;
            zr = zc;
        }
        return 0;
    }
    for (int j = 0; j < n; j++)
        if (fabs(x[j] - cut) <= AMBIG * (1 + fabs(cut)))
            return 1;
    return 0;
}

static size_t at(const tt_attn_shape *s, int token_major, int heads, int rows, int b, int h, int r)
{
    size_t d = (size_t)s->head_dim;
    if (token_major) /* [b][row][head][d] after an offset of 3 elements */
        return 3 + (((size_t)b * rows + r) * heads + h) * d;
    return (((size_t)b * heads + h) * rows + r) * d;
}

static tt_tensor view(cl_mem buf, const tt_attn_shape *s, int token_major, int heads, int rows)
{
    if (!token_major)
        return tt_tensor_head_major(buf, heads, rows, s->head_dim);
    tt_tensor t = {buf, 3, (size_t)rows * heads * s->head_dim, (size_t)s->head_dim,
                   (size_t)heads * s->head_dim};
    return t;
}

/* Copies a head-major host array into the case's device layout (elem bytes per element). */
static void *relayout(const tt_attn_shape *s, int tm, int heads, int rows, const void *src,
                      size_t elem, size_t *bytes)
{
    size_t total = (size_t)s->batch * heads * rows * s->head_dim + (tm ? 3 : 0);
    *bytes = total * elem;
    unsigned char *dst = calloc(total, elem);
    if (!dst)
        return NULL;
    for (int b = 0; b < s->batch; b++)
        for (int h = 0; h < heads; h++)
            for (int r = 0; r < rows; r++)
                memcpy(dst + at(s, tm, heads, rows, b, h, r) * elem,
                       (const unsigned char *)src + at(s, 0, heads, rows, b, h, r) * elem,
                       (size_t)s->head_dim * elem);
    return dst;
}

static cl_mem buffer(cl_context cx, size_t bytes, void *host, cl_int *err)
{
    return clCreateBuffer(cx, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes, host,
                          err);
}

tt_status tt_sweep_run(tt_context *ctx, const tt_case *c, uint64_t seed, tt_case_result *r)
{
    memset(r, 0, sizeof *r);
    const tt_attn_shape *s = &c->shape;
    const int H = s->n_heads, G = s->n_kv_heads, d = s->head_dim, tm = c->token_major;
    const size_t elem = s->kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    const size_t qn = (size_t)s->batch * H * s->q_len * d, kn = (size_t)s->batch * G * s->kv_len * d;
    const size_t stats_n = tt_stats_size(s) / 4, vs_n = (size_t)s->batch * G * d;
    const float scale = 1.0f / sqrtf((float)d);
    tt_rng rng;
    tt_rng_seed(&rng, seed);
    float *q = malloc(qn * 4), *oref = malloc(qn * 4), *odev = malloc(qn * 4);
    void *kh = malloc(kn * elem), *vh = malloc(kn * elem);
    uint32_t *sref = malloc(stats_n * 4), *sdev = malloc(stats_n * 4);
    float *vsum = calloc(vs_n, 4);
    double *x = malloc(sizeof *x * (size_t)s->kv_len);
    void *qd = NULL, *kd = NULL, *vd = NULL, *od = NULL;
    cl_mem bq = NULL, bk = NULL, bv = NULL, bo = NULL, bs = NULL, bst = NULL;
    tt_table *table = NULL;
    tt_attn_params p = c->params;
    tt_status st = TT_OUT_OF_HOST_MEMORY;
    if (!q || !oref || !odev || !kh || !vh || !sref || !sdev || !vsum || !x)
        goto done;
    tt_synth_qkv(s, c->llm_like, &rng, q, kh, vh);
    if (p.mode == TT_MODE_THETA || p.sdc == TT_SDC_OFFLINE) {
        /* Calibrate on separate samples: thresholds taken from the test data itself would sit
         * exactly on one of its scores and leave every row ambiguous. */
        float *cq = malloc(qn * 4);
        void *ck = malloc(kn * elem), *cv = malloc(kn * elem);
        tt_rng crng;
        tt_rng_seed(&crng, seed ^ 0x5bd1e995u);
        st = TT_OUT_OF_HOST_MEMORY;
        if (cq && ck && cv) {
            tt_synth_qkv(s, c->llm_like, &crng, cq, ck, cv);
            st = tt_synth_table(s, p.placement, c->k, scale, cq, ck, &table);
        }
        free(cq);
        free(ck);
        free(cv);
        if (st != TT_SUCCESS)
            goto done;
        p.table = table;
    }
    st = tt_reference_attention(s, &p, q, kh, vh, oref, sref);
    if (st != TT_SUCCESS) {
        snprintf(r->msg, sizeof r->msg, "reference: %s", tt_last_error(NULL));
        goto done;
    }
    /* Device buffers in the case's layout; O poisoned with NaN, stats with 0xffffffff. */
    size_t qb, kb, vb;
    qd = relayout(s, tm, H, s->q_len, q, 4, &qb);
    kd = relayout(s, tm, G, s->kv_len, kh, elem, &kb);
    vd = relayout(s, tm, G, s->kv_len, vh, elem, &vb);
    od = malloc(qb);
    st = TT_OUT_OF_HOST_MEMORY;
    if (!qd || !kd || !vd || !od)
        goto done;
    for (size_t e = 0; e < qb / 4; e++)
        ((float *)od)[e] = NAN;
    memset(sdev, 0xff, stats_n * 4);
    int p0 = s->kv_len - s->q_len;
    for (int b = 0; b < s->batch; b++)
        for (int g = 0; g < G; g++)
            for (int j = 0; j < p0; j++)
                for (int e = 0; e < d; e++) {
                    size_t idx = (((size_t)b * G + g) * s->kv_len + j) * d + e;
                    vsum[((size_t)b * G + g) * d + e] +=
                        elem == 2 ? tt_f16_to_f32(((uint16_t *)vh)[idx]) : ((float *)vh)[idx];
                }
    cl_context cx;
    cl_command_queue queue;
    tt_context_cl(ctx, &cx, NULL, &queue);
    cl_int err = CL_SUCCESS, e2 = CL_SUCCESS;
    bq = buffer(cx, qb, qd, &err);
    if (!err) bk = buffer(cx, kb, kd, &err);
    if (!err) bv = buffer(cx, vb, vd, &err);
    if (!err) bo = buffer(cx, qb, od, &err);
    if (!err) bst = buffer(cx, stats_n * 4, sdev, &err);
    if (!err && c->use_vsum) bs = buffer(cx, vs_n * 4, vsum, &err);
    if (err) {
        st = (tt_status)err;
        snprintf(r->msg, sizeof r->msg, "buffer creation failed (%d)", err);
        goto done;
    }
    tt_tensor tq = view(bq, s, tm, H, s->q_len), tk = view(bk, s, tm, G, s->kv_len);
    tt_tensor tv = view(bv, s, tm, G, s->kv_len), to = view(bo, s, tm, H, s->q_len);
    cl_event ev;
    st = tt_attention_enqueue(ctx, queue, s, &p, &tq, &tk, &tv, &to, bs, bst, 0, NULL, &ev);
    if (st != TT_SUCCESS) {
        snprintf(r->msg, sizeof r->msg, "%s", tt_last_error(ctx));
        goto done;
    }
    err = clWaitForEvents(1, &ev);
    clReleaseEvent(ev);
    if (!err) err = clEnqueueReadBuffer(queue, bo, CL_TRUE, 0, qb, od, 0, NULL, NULL);
    if (!err) err = clEnqueueReadBuffer(queue, bst, CL_TRUE, 0, stats_n * 4, sdev, 0, NULL, NULL);
    if (!err && bs) e2 = clEnqueueReadBuffer(queue, bs, CL_TRUE, 0, vs_n * 4, vsum, 0, NULL, NULL);
    if (err || e2) {
        st = (tt_status)(err ? err : e2);
        snprintf(r->msg, sizeof r->msg, "reading results failed (%d)", (int)st);
        goto done;
    }
    st = TT_SUCCESS;
    r->ok = 1;
    int k_eff = p.mode == TT_MODE_DENSE ? 0 : p.k > 0 ? p.k : c->k;
    for (int b = 0; b < s->batch; b++)
        for (int g = 0; g < G; g++)
            for (int i = 0; i < s->q_len; i++) {
                int group_amb = 0, gq = H / G;
                for (int hh = 0; hh < gq; hh++) {
                    int h = g * gq + hh;
                    size_t row = ((size_t)b * H + h) * s->q_len + i;
                    int amb = row_ambiguous(c, table, q, kh, b, h, i, scale, k_eff, x);
                    group_amb |= amb;
                    r->rows++;
                    r->ambiguous += amb;
                    r->kept += sdev[row];
                    r->elements += p0 + i + 1;
                    if (amb)
                        continue;
                    if (sdev[row] != sref[row] && r->ok) {
                        r->ok = 0;
                        snprintf(r->msg, sizeof r->msg, "kept count b%d h%d row %d: device %u, reference %u",
                                 b, h, i, sdev[row], sref[row]);
                    }
                    for (int e = 0; e < d; e++) {
                        double ref = oref[row * d + e];
                        double dev = ((float *)od)[at(s, tm, H, s->q_len, b, h, i) + e];
                        double lim = ATOL + RTOL * fabs(ref);
                        double err_n = fabs(dev - ref) / lim;
                        if (!(err_n <= 1.0) && r->ok) { /* NaN fails here too */
                            r->ok = 0;
                            snprintf(r->msg, sizeof r->msg,
                                     "output b%d h%d row %d dim %d: device %.7g, reference %.7g", b,
                                     h, i, e, dev, ref);
                        }
                        if (err_n > r->max_err || isnan(err_n))
                            r->max_err = isnan(err_n) ? INFINITY : err_n;
                    }
                }
                size_t urow = (size_t)s->batch * H * s->q_len + ((size_t)b * G + g) * s->q_len + i;
                if (!group_amb && sdev[urow] != sref[urow] && r->ok) {
                    r->ok = 0;
                    snprintf(r->msg, sizeof r->msg, "V rows b%d g%d row %d: device %u, reference %u",
                             b, g, i, sdev[urow], sref[urow]);
                }
            }
    if (bs) { /* the running sum must have advanced over every row of the call */
        for (int b = 0; b < s->batch; b++)
            for (int g = 0; g < G; g++)
                for (int e = 0; e < d; e++) {
                    double want = 0;
                    for (int j = 0; j < s->kv_len; j++) {
                        size_t idx = (((size_t)b * G + g) * s->kv_len + j) * d + e;
                        want += elem == 2 ? tt_f16_to_f32(((uint16_t *)vh)[idx]) : ((float *)vh)[idx];
                    }
                    double got = vsum[((size_t)b * G + g) * d + e];
                    if (!(fabs(got - want) <= 1e-3 + 1e-4 * fabs(want)) && r->ok) {
                        r->ok = 0;
                        snprintf(r->msg, sizeof r->msg, "vsum b%d g%d dim %d: %.7g, want %.7g", b,
                                 g, e, got, want);
                    }
                }
    }
done:
    if (st != TT_SUCCESS && !r->msg[0])
        snprintf(r->msg, sizeof r->msg, "%s: %s", tt_status_name(st), tt_last_error(NULL));
    cl_mem mems[] = {bq, bk, bv, bo, bs, bst};
    for (size_t e = 0; e < 6; e++)
        if (mems[e])
            clReleaseMemObject(mems[e]);
    tt_table_destroy(table);
    free(q); free(oref); free(odev); free(kh); free(vh); free(sref); free(sdev); free(vsum);
    free(x); free(qd); free(kd); free(vd); free(od);
    return st;
}

/* fit.c — compact θ(n) curves with an extrapolating tail (fit.h). Calibration with row sampling
 * leaves about one row per length n, so raw curves jump by 10–100× between neighbours; bin means
 * at a few knots per octave keep the calibrated level while removing that noise, and the tail
 * slope carries the trend past the longest calibrated window instead of holding its last value. */
#include "fit.h"
#include "calib.h" /* tc__fail_msg */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TF_MAX_N (1 << 24) /* the table format's limit on n */
#define TF_MIN_TAIL 8      /* fewer tail samples than this: no slope (flat tail) */

typedef struct knot {
    double n, th, dh; /* sums over the bin's samples */
    long count;
} knot;

typedef struct curve_out {
    int *ns;
    float *th, *dh;
    int count;
} curve_out;

/* Least-squares slope of y on x over m points; 0 when x has no spread. */
static double ols_slope(const double *x, const double *y, int m)
{
    double mx = 0, my = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < m; i++)
        mx += x[i], my += y[i];
    mx /= m, my /= m;
    for (int i = 0; i < m; i++)
        sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
    return sxx > 0 ? sxy / sxx : 0.0;
}

/* Slope of (log y if logy, else y) against ln n over the samples from index `from` on; *ok = 0
 * when too few usable points or too little spread of n. x, y: scratch of count entries. */
static double tail_slope(const int *ns, const float *v, int from, int count, int logy, double *x,
                         double *y, int *ok)
{
    int m = 0;
    for (int i = from; i < count; i++) {
        if (logy && !(v[i] > 0))
            continue;
        x[m] = log((double)ns[i]);
        y[m] = logy ? log((double)v[i]) : (double)v[i];
        m++;
    }
    *ok = m >= TF_MIN_TAIL && x[m - 1] - x[0] >= log(1.25);
    return *ok ? ols_slope(x, y, m) : 0.0;
}

static double clampd(double v, double lim) { return v > lim ? lim : v < -lim ? -lim : v; }

/* Fits one curve; out arrays are allocated here. Returns the θ tail slope in *slope. */
static tt_status fit_curve(const int *ns, const float *th, const float *dh, int count,
                           tt_placement placement, const tc_fit_config *c, curve_out *out,
                           double *slope, int *clamped, int *flat)
{
    int post = placement == TT_PLACE_POST;
    double *x = malloc(sizeof(double) * (size_t)count), *y = malloc(sizeof(double) * (size_t)count);
    knot *k = calloc((size_t)count, sizeof *k);
    if (!x || !y || !k) {
        free(x), free(y), free(k);
        return TT_OUT_OF_HOST_MEMORY;
    }
    /* Bins: [base·2^(j/P), base·2^((j+1)/P)); samples are sorted by n, so bins fill in order. */
    int nk = 0, cur = -1;
    double base = ns[0];
    for (int i = 0; i < count; i++) {
        int j = (int)floor(c->per_octave * log2(ns[i] / base) + 1e-9);
        if (j != cur)
            nk++, cur = j;
        knot *b = &k[nk - 1];
        b->n += ns[i], b->th += th[i], b->dh += dh ? dh[i] : 0.0, b->count++;
    }
    /* Rounded mean lengths must increase strictly; a collision folds a bin into the previous. */
    int m = 0;
    for (int i = 0; i < nk; i++) {
        if (m > 0 && llround(k[i].n / k[i].count) <= llround(k[m - 1].n / k[m - 1].count)) {
            k[m - 1].n += k[i].n, k[m - 1].th += k[i].th, k[m - 1].dh += k[i].dh;
            k[m - 1].count += k[i].count;
        }
        else
            k[m++] = k[i];
    }
    /* Tail slopes over the samples within tail_octaves of the longest length. */
    double lo = ns[count - 1] / exp2(c->tail_octaves);
    int from = 0;
    while (from < count - 1 && ns[from] < lo)
        from++;
    int ok, okd = 0;
    double b = tail_slope(ns, th, from, count, post, x, y, &ok), bd = 0.0;
    *flat = !ok;
    *clamped = fabs(b) > c->max_slope;
    b = clampd(b, c->max_slope);
    if (dh)
        bd = clampd(tail_slope(ns, dh, from, count, 1, x, y, &okd), 2.0);
    *slope = b;
    /* Knots, then the extension at per_octave points per doubling up to to_n. */
    int last_n = (int)llround(k[m - 1].n / k[m - 1].count);
    int ext = 0;
    if (c->to_n > last_n)
        ext = (int)ceil(c->per_octave * log2((double)c->to_n / last_n)) + 1;
    int cap = m + ext;
    out->ns = malloc(sizeof(int) * (size_t)cap);
    out->th = malloc(sizeof(float) * (size_t)cap);
    out->dh = dh ? malloc(sizeof(float) * (size_t)cap) : NULL;
    if (!out->ns || !out->th || (dh && !out->dh)) {
        free(x), free(y), free(k);
        return TT_OUT_OF_HOST_MEMORY;
    }
    for (int i = 0; i < m; i++) {
        out->ns[i] = (int)llround(k[i].n / k[i].count);
        out->th[i] = (float)(k[i].th / k[i].count);
        if (dh)
            out->dh[i] = (float)(k[i].dh / k[i].count);
    }
    int n_out = m;
    double th_l = out->th[m - 1], dh_l = dh ? out->dh[m - 1] : 0.0;
    for (int i = 1; ext > 0 && out->ns[n_out - 1] < c->to_n; i++) {
        double nn = floor(last_n * exp2((double)i / c->per_octave));
        int n = nn >= c->to_n ? c->to_n : (int)nn;
        if (n <= out->ns[n_out - 1])
            n = out->ns[n_out - 1] + 1;
        double r = log((double)n / last_n);
        double t = post ? th_l * exp(b * r) : th_l + b * r;
        if (post && t > 1.0) /* a probability threshold above 1 would drop everything */
            t = 1.0;
        out->ns[n_out] = n;
        out->th[n_out] = (float)t;
        if (dh)
            out->dh[n_out] = (float)(dh_l > 0 && okd ? dh_l * exp(bd * r) : dh_l);
        n_out++;
    }
    out->count = n_out;
    free(x), free(y), free(k);
    return TT_SUCCESS;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

tt_status tc_fit_table(const tt_table *in, const tc_fit_config *cfg, tt_table **out,
                       tc_fit_summary *summary, char *msg, size_t msg_size)
{
    if (!in || !out)
        return tc__fail_msg(msg, msg_size, TT_ERR_NULL_ARGUMENT, "fit: NULL argument");
    *out = NULL;
    tc_fit_config c = cfg ? *cfg : (tc_fit_config){0};
    if (c.per_octave == 0)
        c.per_octave = 4;
    if (c.tail_octaves == 0)
        c.tail_octaves = 2;
    if (c.max_slope == 0)
        c.max_slope = 1;
    if (c.per_octave < 1 || c.per_octave > 64)
        return tc__fail_msg(msg, msg_size, TT_INVALID_VALUE, "fit: %d knots per octave outside 1..64",
                            c.per_octave);
    if (c.to_n < 0 || c.to_n > TF_MAX_N)
        return tc__fail_msg(msg, msg_size, TT_INVALID_VALUE, "fit: length %d outside 0..%d",
                            c.to_n, TF_MAX_N);
    if (!(c.tail_octaves >= 0.25 && c.tail_octaves <= 16))
        return tc__fail_msg(msg, msg_size, TT_INVALID_VALUE,
                            "fit: tail of %g octaves outside 0.25..16", c.tail_octaves);
    if (!(c.max_slope > 0 && c.max_slope <= 16))
        return tc__fail_msg(msg, msg_size, TT_INVALID_VALUE, "fit: slope limit %g outside (0, 16]",
                            c.max_slope);
    tt_table_meta meta;
    tt_status st = tt_table_get_meta(in, &meta);
    if (st != TT_SUCCESS)
        return tc__fail_msg(msg, msg_size, st, "fit: the input table has no metadata");
    tt_table *t = NULL;
    if ((st = tt_table_create(&meta, &t)) != TT_SUCCESS)
        return tc__fail_msg(msg, msg_size, st, "fit: cannot create the output table");
    tc_fit_summary s = {0};
    size_t H = (size_t)meta.n_heads;
    double *slopes = malloc(sizeof(double) * (size_t)meta.n_layers * H);
    int *ns = NULL;
    float *th = NULL, *dh = NULL;
    if (!slopes)
        st = TT_OUT_OF_HOST_MEMORY;
    for (int l = 0; st == TT_SUCCESS && l < meta.n_layers; l++) {
        int kl = 0;
        tt_table_get_layer_k(in, l, &kl);
        if (kl > 0 && (st = tt_table_set_layer_k(t, l, kl)) != TT_SUCCESS)
            break;
        for (int h = 0; st == TT_SUCCESS && h < meta.n_heads; h++) {
            int count = 0;
            if (tt_table_get_curve(in, l, h, &count, NULL, NULL, NULL) != TT_SUCCESS || count < 1)
                continue;
            int *ns2 = realloc(ns, sizeof(int) * (size_t)count);
            float *th2 = ns2 ? realloc(th, sizeof(float) * (size_t)count) : NULL;
            float *dh2 = th2 ? realloc(dh, sizeof(float) * (size_t)count) : NULL;
            ns = ns2 ? ns2 : ns, th = th2 ? th2 : th, dh = dh2 ? dh2 : dh;
            if (!dh2) {
                st = TT_OUT_OF_HOST_MEMORY;
                break;
            }
            if ((st = tt_table_get_curve(in, l, h, &count, ns, th, dh)) != TT_SUCCESS)
                break;
            int has_dh = !isnan(dh[0]);
            curve_out co = {0};
            int clamped = 0, flat = 0;
            double slope = 0;
            st = fit_curve(ns, th, has_dh ? dh : NULL, count, meta.placement, &c, &co, &slope,
                           &clamped, &flat);
            if (st == TT_SUCCESS)
                st = tt_table_set_curve(t, l, h, co.count, co.ns, co.th, co.dh);
            if (st == TT_SUCCESS) {
                slopes[s.curves++] = slope;
                s.samples_in += count, s.knots_out += co.count;
                s.clamped += clamped, s.flat += flat;
            }
            free(co.ns), free(co.th), free(co.dh);
        }
    }
    free(ns), free(th), free(dh);
    if (st != TT_SUCCESS) {
        free(slopes);
        tt_table_destroy(t);
        return tc__fail_msg(msg, msg_size, st, "fit: %s", tt_status_str(st));
    }
    if (s.curves > 0) {
        qsort(slopes, (size_t)s.curves, sizeof *slopes, cmp_double);
        s.slope_min = slopes[0], s.slope_max = slopes[s.curves - 1];
        s.slope_median = slopes[s.curves / 2];
    }
    free(slopes);
    if (summary)
        *summary = s;
    *out = t;
    return TT_SUCCESS;
}

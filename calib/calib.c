/* calib.c — the calibration accumulator: per (layer, head, n) running statistics of the row
 * thresholds (the (k_l+1)-th largest x of each sampled row) and of the dropped exp-sums D, turned
 * into a tt_table by tc_finish. The k-th-largest selection is the CPU reference's own
 * (host/reference_row.h), so calibration and the oracle cannot disagree on what "k-th" means. */
#include "calib.h"
#include "../host/reference_row.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TC_MAX_K (1 << 24)                  /* the table format's limit on k and n */
#define TC_MAX_CELL_BYTES ((size_t)1 << 32) /* statistics memory cap, a guard against typos */

/* One (layer, head, n) key. Welford's update keeps the variance accurate even when the row
 * thresholds are large and nearly equal (pre-softmax logits), where Σx² − (Σx)²/c cancels. */
typedef struct tc_cell {
    uint64_t seen;   /* rows offered (n > k_l), sampled or not: the sampling occurrence index */
    uint64_t count;  /* rows that contributed */
    double mean, m2; /* running mean of θ_row and Σ (θ_row − mean)² */
    double dsum;     /* Σ D over the contributing rows */
} tc_cell;

struct tc_acc {
    tc_config cfg;
    int *k;         /* [n_layers] */
    tc_cell *cells; /* [n_layers][n_heads][max_n + 1], indexed by n */
    double *s, *x;  /* scratch rows [max_n] */
    char err[512];
};

tt_status tc__fail_msg(char *msg, size_t size, tt_status st, const char *fmt, ...)
{
    if (msg && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return st;
}
#define AFAIL(a, st, ...) tc__fail_msg((a)->err, sizeof (a)->err, (st), __VA_ARGS__)

const char *tc_error(const tc_acc *acc) { return acc ? acc->err : "no accumulator"; }

tt_status tc_create(const tc_config *cfg, tc_acc **out, char *msg, size_t msg_size)
{
    if (!cfg || !out || !cfg->layer_k)
        return tc__fail_msg(msg, msg_size, TT_ERR_NULL_ARGUMENT, "calib: NULL argument");
    *out = NULL;
    const tt_table_meta *m = &cfg->meta;
    if (m->n_layers < 1 || m->n_heads < 1 || m->n_kv_heads < 1 || m->head_dim < 1 ||
        m->n_heads % m->n_kv_heads != 0 || m->n_layers > 4096 || m->n_heads > 4096)
        return tc__fail_msg(msg, msg_size, TT_ERR_BAD_SHAPE,
                        "calib: shape %d layers, %d heads, %d KV heads, head_dim %d is invalid",
                        m->n_layers, m->n_heads, m->n_kv_heads, m->head_dim);
    if (cfg->max_n < 1 || cfg->max_n > TC_MAX_K)
        return tc__fail_msg(msg, msg_size, TT_ERR_BAD_SHAPE, "calib: max_n %d outside 1..%d",
                        cfg->max_n, TC_MAX_K);
    if ((unsigned)m->placement > TT_PLACE_REL)
        return tc__fail_msg(msg, msg_size, TT_ERR_BAD_ENUM, "calib: placement %d out of range",
                        (int)m->placement);
    if (!isfinite(m->sigma))
        return tc__fail_msg(msg, msg_size, TT_ERR_NONFINITE, "calib: sigma is not finite");
    if (!(cfg->sample_p >= 0 && cfg->sample_p <= 1) || cfg->sample_every < 0 || cfg->smooth < 0)
        return tc__fail_msg(msg, msg_size, TT_INVALID_VALUE,
                        "calib: sample probability must be in [0, 1] (0 = 1), every-r and the "
                        "smoothing window >= 0");
    if (m->score_precision != 0 && m->score_precision != 16 && m->score_precision != 32)
        return tc__fail_msg(msg, msg_size, TT_INVALID_VALUE, "calib: score precision %d (16 or 32)",
                        m->score_precision);
    for (int l = 0; l < m->n_layers; l++)
        if (cfg->layer_k[l] > TC_MAX_K)
            return tc__fail_msg(msg, msg_size, TT_ERR_BAD_K, "calib: layer %d: k %d beyond %d", l,
                            cfg->layer_k[l], TC_MAX_K);
    size_t ncell = (size_t)m->n_layers * m->n_heads * ((size_t)cfg->max_n + 1);
    if (ncell > TC_MAX_CELL_BYTES / sizeof(tc_cell))
        return tc__fail_msg(msg, msg_size, TT_ERR_TOO_LARGE,
                        "calib: %zu (layer, head, n) keys need more than %zu bytes", ncell,
                        TC_MAX_CELL_BYTES);
    tc_acc *a = calloc(1, sizeof *a);
    if (a) {
        a->k = malloc(sizeof(int) * (size_t)m->n_layers);
        a->cells = calloc(ncell, sizeof(tc_cell));
        a->s = malloc(sizeof(double) * (size_t)cfg->max_n);
        a->x = malloc(sizeof(double) * (size_t)cfg->max_n);
    }
    if (!a || !a->k || !a->cells || !a->s || !a->x) {
        tc_destroy(a);
        return tc__fail_msg(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "calib: out of memory");
    }
    a->cfg = *cfg;
    a->cfg.layer_k = a->k;
    memcpy(a->k, cfg->layer_k, sizeof(int) * (size_t)m->n_layers);
    *out = a;
    return TT_SUCCESS;
}

void tc_destroy(tc_acc *a)
{
    if (!a)
        return;
    free(a->k);
    free(a->cells);
    free(a->s);
    free(a->x);
    free(a);
}

static tc_cell *cell(const tc_acc *a, int l, int h, int n)
{
    return a->cells + ((size_t)l * a->cfg.meta.n_heads + h) * ((size_t)a->cfg.max_n + 1) + n;
}

/* SplitMix64's finaliser: a bijective mixer good enough to turn keys into uniform draws. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Counts an offered row of (l, h, n) and says whether it is sampled (see tc_config). */
static int take_row(tc_acc *a, int l, int h, int n)
{
    tc_cell *c = cell(a, l, h, n);
    uint64_t occ = c->seen++;
    int every = a->cfg.sample_every > 1 ? a->cfg.sample_every : 1;
    if (occ % (uint64_t)every != 0)
        return 0;
    double p = a->cfg.sample_p;
    if (p <= 0 || p >= 1)
        return 1;
    uint64_t r = mix64(a->cfg.seed + 0x9e3779b97f4a7c15u);
    r = mix64(r ^ (uint64_t)l);
    r = mix64(r ^ (uint64_t)h);
    r = mix64(r ^ (uint64_t)n);
    r = mix64(r ^ occ);
    return (double)(r >> 11) * 0x1.0p-53 < p;
}

static tt_status check_key(tc_acc *a, int l, int h, int n, const void *scores)
{
    if (!scores)
        return AFAIL(a, TT_ERR_NULL_ARGUMENT, "calib: NULL score row");
    if (l < 0 || l >= a->cfg.meta.n_layers || h < 0 || h >= a->cfg.meta.n_heads)
        return AFAIL(a, TT_ERR_TABLE_RANGE, "calib: layer %d head %d outside %d x %d", l, h,
                     a->cfg.meta.n_layers, a->cfg.meta.n_heads);
    if (n < 1 || n > a->cfg.max_n)
        return AFAIL(a, TT_ERR_BAD_SHAPE, "calib: row length %d outside 1..%d", n, a->cfg.max_n);
    return TT_SUCCESS;
}

/* x of a finite score in the placement's domain, computed exactly as the reference compares it. */
static double to_x(tt_placement p, double s, double m, double z)
{
    return p == TT_PLACE_PRE ? s : p == TT_PLACE_REL ? s - m : exp(s - m) / z;
}

/* The statistics of one sampled row (the caller has decided to take it). */
static void accumulate(tc_acc *a, int l, int h, int n, const double *s)
{
    int k = a->k[l], nf = 0;
    double m = -INFINITY, z = 0;
    for (int j = 0; j < n; j++)
        if (isfinite(s[j])) {
            nf++;
            m = s[j] > m ? s[j] : m;
        }
    if (nf <= k)
        return; /* not enough finite scores to drop anything: no threshold for this row */
    for (int j = 0; j < n; j++) /* index order, like the reference's Z */
        if (isfinite(s[j]))
            z += exp(s[j] - m);
    tt_placement p = a->cfg.meta.placement;
    int c = 0;
    for (int j = 0; j < n; j++)
        if (isfinite(s[j]))
            a->x[c++] = to_x(p, s[j], m, z);
    double theta = tt__ref_kth_largest(a->x, c, k + 1);
    double d = 0; /* what exact SDC drops with θ = θ_row: every finite x_j <= θ_row */
    for (int j = 0; j < n; j++)
        if (isfinite(s[j]) && to_x(p, s[j], m, z) <= theta)
            d += exp(s[j] - m);
    tc_cell *ce = cell(a, l, h, n);
    ce->count++;
    double delta = theta - ce->mean;
    ce->mean += delta / (double)ce->count;
    ce->m2 += delta * (theta - ce->mean);
    ce->dsum += d;
}

tt_status tc_add_row(tc_acc *a, int l, int h, int n, const double *scores)
{
    if (!a)
        return TT_ERR_NULL_ARGUMENT;
    tt_status st = check_key(a, l, h, n, scores);
    if (st != TT_SUCCESS)
        return st;
    if (a->k[l] > 0 && n > a->k[l] && take_row(a, l, h, n))
        accumulate(a, l, h, n, scores);
    return TT_SUCCESS;
}

tt_status tc_add_row_f(tc_acc *a, int l, int h, int n, const float *scores)
{
    if (!a)
        return TT_ERR_NULL_ARGUMENT;
    tt_status st = check_key(a, l, h, n, scores);
    if (st != TT_SUCCESS)
        return st;
    if (a->k[l] > 0 && n > a->k[l] && take_row(a, l, h, n)) {
        for (int j = 0; j < n; j++)
            a->s[j] = scores[j];
        accumulate(a, l, h, n, a->s);
    }
    return TT_SUCCESS;
}

tt_status tc_add_qk(tc_acc *a, int l, int T, int p0, const float *q, const float *k, double scale)
{
    if (!a)
        return TT_ERR_NULL_ARGUMENT;
    if (!q || !k)
        return AFAIL(a, TT_ERR_NULL_ARGUMENT, "calib: NULL Q or K");
    const tt_table_meta *m = &a->cfg.meta;
    if (l < 0 || l >= m->n_layers)
        return AFAIL(a, TT_ERR_TABLE_RANGE, "calib: layer %d outside 0..%d", l, m->n_layers - 1);
    if (T < 1 || p0 < 0 || p0 + T > a->cfg.max_n)
        return AFAIL(a, TT_ERR_BAD_SHAPE, "calib: rows %d..%d outside 1..%d", p0 + 1, p0 + T,
                     a->cfg.max_n);
    int d = m->head_dim, H = m->n_heads, ratio = m->n_heads / m->n_kv_heads, kl = a->k[l];
    size_t kv_len = (size_t)p0 + T;
    if (scale <= 0)
        scale = 1.0 / sqrt((double)d);
    for (int h = 0; h < H; h++) {
        const float *kg = k + (size_t)(h / ratio) * kv_len * d;
        for (int i = 0; i < T; i++) {
            int n = p0 + i + 1;
            /* Sampling is decided before the scores are computed: unsampled rows cost nothing. */
            if (kl <= 0 || n <= kl || !take_row(a, l, h, n))
                continue;
            const float *qr = q + ((size_t)h * T + i) * d;
            for (int j = 0; j < n; j++) {
                const float *kr = kg + (size_t)j * d;
                double dot = 0;
                for (int x = 0; x < d; x++)
                    dot += (double)qr[x] * kr[x];
                a->s[j] = dot * scale;
            }
            accumulate(a, l, h, n, a->s);
        }
    }
    return TT_SUCCESS;
}

tt_status tc_layer_counts(const tc_acc *a, int l, uint64_t *offered, uint64_t *sampled)
{
    if (!a || !offered || !sampled)
        return TT_ERR_NULL_ARGUMENT;
    if (l < 0 || l >= a->cfg.meta.n_layers)
        return TT_ERR_TABLE_RANGE;
    *offered = *sampled = 0;
    for (int h = 0; h < a->cfg.meta.n_heads; h++)
        for (int n = 1; n <= a->cfg.max_n; n++) {
            const tc_cell *c = cell(a, l, h, n);
            *offered += c->seen, *sampled += c->count;
        }
    return TT_SUCCESS;
}

/* Centred moving average over w neighbouring samples (w even → w + 1), the window shrinking
 * symmetrically near the ends so it never leans to one side. */
static void smooth(const double *y, double *out, int count, int w)
{
    int half = w / 2;
    for (int i = 0; i < count; i++) {
        int r = half;
        r = i < r ? i : r;
        r = count - 1 - i < r ? count - 1 - i : r;
        double sum = 0;
        for (int j = i - r; j <= i + r; j++)
            sum += y[j];
        out[i] = sum / (2 * r + 1);
    }
}

/* The curve of one (l, h) into the table. th/dh/tmp are scratch of max_n doubles, ns of ints,
 * fth/fdh of floats. */
static tt_status build_curve(tc_acc *a, tt_table *t, int l, int h, int *ns, double *th,
                             double *dh, double *tmp, float *fth, float *fdh)
{
    int c = 0;
    double sigma = a->cfg.meta.sigma;
    for (int n = 1; n <= a->cfg.max_n; n++) {
        const tc_cell *ce = cell(a, l, h, n);
        if (!ce->count)
            continue;
        ns[c] = n;
        th[c] = ce->mean + sigma * sqrt(ce->m2 / (double)ce->count);
        dh[c] = ce->dsum / (double)ce->count;
        c++;
    }
    if (c == 0)
        return AFAIL(a, TT_INVALID_VALUE,
                     "calib: layer %d head %d: no sampled row with n > k = %d (longer or more "
                     "calibration sequences, or a higher sampling rate, are needed)", l, h,
                     a->k[l]);
    if (a->cfg.smooth > 1) {
        smooth(th, tmp, c, a->cfg.smooth);
        memcpy(th, tmp, sizeof(double) * (size_t)c);
        smooth(dh, tmp, c, a->cfg.smooth);
        memcpy(dh, tmp, sizeof(double) * (size_t)c);
    }
    for (int i = 0; i < c; i++) {
        fth[i] = (float)th[i], fdh[i] = (float)dh[i];
        if (!isfinite(fth[i]) || !isfinite(fdh[i]))
            return AFAIL(a, TT_ERR_NONFINITE, "calib: layer %d head %d n %d: θ %g or D̂ %g is "
                         "not a finite float", l, h, ns[i], th[i], dh[i]);
    }
    tt_status st = tt_table_set_curve(t, l, h, c, ns, fth, a->cfg.dhat ? fdh : NULL);
    if (st != TT_SUCCESS)
        return AFAIL(a, st, "calib: layer %d head %d: %s", l, h, tt_last_error(NULL));
    return TT_SUCCESS;
}

tt_status tc_finish(tc_acc *a, tt_table **out)
{
    if (!a || !out)
        return a ? AFAIL(a, TT_ERR_NULL_ARGUMENT, "calib: NULL argument") : TT_ERR_NULL_ARGUMENT;
    *out = NULL;
    tt_table_meta meta = a->cfg.meta;
    int L = meta.n_layers, H = meta.n_heads;
    meta.score_precision = meta.score_precision ? meta.score_precision : 32;
    meta.created_unix = meta.created_unix ? meta.created_unix : (int64_t)time(NULL);
    meta.samples = 0;
    for (int l = 0; l < L; l++)
        for (int h = 0; h < H; h++) {
            uint64_t rows = 0;
            for (int n = 1; n <= a->cfg.max_n; n++)
                rows += cell(a, l, h, n)->count;
            meta.samples = rows > meta.samples ? rows : meta.samples;
        }
    size_t N = (size_t)a->cfg.max_n;
    int *ns = malloc(N * sizeof *ns);
    double *th = malloc(N * sizeof *th), *dh = malloc(N * sizeof *dh);
    double *tmp = malloc(N * sizeof *tmp);
    float *fth = malloc(N * sizeof *fth), *fdh = malloc(N * sizeof *fdh);
    tt_table *t = NULL;
    tt_status st = TT_SUCCESS;
    if (!ns || !th || !dh || !tmp || !fth || !fdh)
        st = AFAIL(a, TT_OUT_OF_HOST_MEMORY, "calib: out of memory");
    else if ((st = tt_table_create(&meta, &t)) != TT_SUCCESS)
        AFAIL(a, st, "calib: %s", tt_last_error(NULL));
    for (int l = 0; st == TT_SUCCESS && l < L; l++) {
        if (a->k[l] <= 0)
            continue; /* never thresholded: k stays 0 and the layer has no curves */
        if ((st = tt_table_set_layer_k(t, l, a->k[l])) != TT_SUCCESS) {
            AFAIL(a, st, "calib: layer %d: %s", l, tt_last_error(NULL));
            break;
        }
        for (int h = 0; st == TT_SUCCESS && h < H; h++)
            st = build_curve(a, t, l, h, ns, th, dh, tmp, fth, fdh);
    }
    free(ns), free(th), free(dh), free(tmp), free(fth), free(fdh);
    if (st != TT_SUCCESS) {
        tt_table_destroy(t);
        return st;
    }
    *out = t;
    return TT_SUCCESS;
}

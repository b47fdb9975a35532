/* bench_calib.c — thresholds for `toptheta bench --keep F`, calibrated on separate synthetic
 * samples. k scales with the row (k_n = round(F·n)) since a causal prefill chunk has rows of every
 * length (tt_synth_table takes one k). θ at a length pools the W rows ending there in B sample
 * sequences: a θ estimated from few rows keeps too much when the row max varies (rel/post). */
#include "bench.h"
#include "reference_row.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANCHORS 64 /* sampled lengths per head in a prefill chunk; the table interpolates */
#define WINDOW 8       /* consecutive rows pooled into one length's θ */
#define MAX_KEEPS 16

tt_status bench_samples_create(const tt_attn_shape *s, uint64_t seed, int synth,
                               bench_samples *out)
{
    memset(out, 0, sizeof *out);
    tt_attn_shape cs = *s;
    out->decode = s->q_len == 1;
    if (out->decode) {
        /* a few sequences whose last WINDOW rows (decode steps n−7 .. n) are the sample rows;
         * ~128K keys per KV head in all */
        long ns = 131072 / s->kv_len;
        cs.batch = (int)(ns < 2 ? 2 : ns > 8 ? 8 : ns);
        cs.q_len = s->kv_len < WINDOW ? s->kv_len : WINDOW;
    } else {
        cs.batch = 2; /* two chunks × WINDOW rows: 16 rows behind each sampled length */
    }
    bench_data d;
    tt_status st = bench_data_create(NULL, &cs, seed, synth, 1, &d);
    if (st != TT_SUCCESS)
        return st;
    out->s = cs;
    out->q = d.q;
    d.q = NULL;
    out->k = malloc(d.kn * sizeof(float));
    if (!out->k) {
        bench_data_destroy(&d);
        bench_samples_destroy(out);
        return bench_fail(TT_OUT_OF_HOST_MEMORY, "out of host memory for calibration samples");
    }
    for (size_t x = 0; x < d.kn; x++)
        out->k[x] = cs.kv_dtype == TT_DTYPE_F16 ? tt_f16_to_f32(((uint16_t *)d.k)[x])
                                                : ((float *)d.k)[x];
    bench_data_destroy(&d);
    return TT_SUCCESS;
}

void bench_samples_destroy(bench_samples *smp)
{
    free(smp->q);
    free(smp->k);
    memset(smp, 0, sizeof *smp);
}

typedef struct {
    const bench_samples *smp;
    tt_placement pl;
    int pooled;
    const double *keeps;
    int n_keeps;
    const int *anchors;
    int n_anchors;
    float *theta, *dhat; /* [keep][head][anchor] */
    int first, step;
    int oom;
} cal_job;

/* Σ over a row of the exp-weight (relative to the row max) of what θ drops: D̂ for offline SDC. */
static double dropped(const double *x, int n, double m, tt_placement pl, double theta)
{
    double dh = 0;
    for (int u = 0; u < n; u++)
        if (x[u] <= theta)
            dh += pl == TT_PLACE_PRE ? exp(x[u] - m) : pl == TT_PLACE_REL ? exp(x[u]) : x[u];
    return dh;
}

/* q·k over d with four independent sums: the latency of one chained sum would dominate. */
static double dot(const float *q, const float *k, int d)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int e = 0;
    for (; e + 4 <= d; e += 4) {
        a0 += (double)q[e] * k[e];
        a1 += (double)q[e + 1] * k[e + 1];
        a2 += (double)q[e + 2] * k[e + 2];
        a3 += (double)q[e + 3] * k[e + 3];
    }
    for (; e < d; e++)
        a0 += (double)q[e] * k[e];
    return (a0 + a1) + (a2 + a3);
}

typedef struct {
    double *x; /* placement-transformed scores */
    int n, kn;
    double m;  /* row max of the raw scores */
} cal_row;

/* Scores of row i of sample b for head h, transformed by placement. */
static void score_row(const cal_job *j, int b, int h, int i, cal_row *row, double *xmin)
{
    const tt_attn_shape *s = &j->smp->s;
    const int H = s->n_heads, QL = s->q_len, KL = s->kv_len, D = s->head_dim;
    const int g = h / (H / s->n_kv_heads), n = row->n;
    const float *q = j->smp->q + (((size_t)b * H + h) * QL + i) * D;
    const float *kb = j->smp->k + ((size_t)b * s->n_kv_heads + g) * KL * D;
    const double scale = 1.0 / sqrt((double)D);
    double m = -INFINITY, z = 0, *x = row->x;
    for (int t = 0; t < n; t++) {
        x[t] = dot(q, kb + (size_t)t * D, D) * scale;
        m = x[t] > m ? x[t] : m;
    }
    for (int t = 0; t < n; t++)
        z += exp(x[t] - m);
    for (int t = 0; t < n; t++) {
        x[t] = j->pl == TT_PLACE_PRE ? x[t] : j->pl == TT_PLACE_REL ? x[t] - m : exp(x[t] - m) / z;
        *xmin = x[t] < *xmin ? x[t] : *xmin;
    }
    row->m = m;
}

static void *cal_worker(void *arg)
{
    cal_job *j = arg;
    const tt_attn_shape *s = &j->smp->s;
    const int H = s->n_heads, p0 = s->kv_len - s->q_len, B = s->batch;
    const size_t cap = (size_t)WINDOW * B * s->kv_len;
    double *xs = malloc(sizeof *xs * cap), *pool = malloc(sizeof *pool * cap);
    cal_row *rows = malloc(sizeof *rows * (size_t)WINDOW * B);
    if (!xs || !pool || !rows) {
        j->oom = 1;
        free(xs);
        free(pool);
        free(rows);
        return NULL;
    }
    for (int h = j->first; h < H; h += j->step) {
        for (int a = 0; a < j->n_anchors; a++) {
            /* the rows i = anchor − WINDOW + 1 .. anchor of every sample, long enough to cut */
            int nr = 0;
            size_t used = 0;
            double xmin = INFINITY;
            for (int i = j->anchors[a]; i > j->anchors[a] - WINDOW && i >= 0; i--) {
                if (p0 + i + 1 < 2)
                    break;
                for (int b = 0; b < B; b++) {
                    cal_row *r = &rows[nr++];
                    r->n = p0 + i + 1;
                    r->x = xs + used;
                    used += (size_t)r->n;
                    score_row(j, b, h, i, r, &xmin);
                }
            }
            for (int kk = 0; kk < j->n_keeps; kk++) {
                long want = 0, total = 0;
                int all = 0;
                for (int r = 0; r < nr; r++) {
                    long kn = lround(j->keeps[kk] * rows[r].n);
                    rows[r].kn = (int)(kn < 1 ? 1 : kn);
                    all |= rows[r].kn >= rows[r].n;
                    want += rows[r].kn;
                    total += rows[r].n;
                }
                double th = 0, dh = 0;
                if (all) { /* a row keeps everything: any θ below the minimum */
                    th = j->pl == TT_PLACE_POST ? 0.5 * xmin : xmin - 1.0;
                } else if (j->pooled) {
                    /* θ = the (Σk+1)-th largest of the rows together: they keep Σk in all */
                    memcpy(pool, xs, sizeof *pool * (size_t)total);
                    th = tt__ref_kth_largest(pool, (int)total, (int)want + 1);
                } else {
                    /* the mean of each row's (k+1)-th largest */
                    for (int r = 0; r < nr; r++) {
                        memcpy(pool, rows[r].x, sizeof *pool * (size_t)rows[r].n);
                        th += tt__ref_kth_largest(pool, rows[r].n, rows[r].kn + 1) / nr;
                    }
                }
                for (int r = 0; r < nr && !all; r++)
                    dh += dropped(rows[r].x, rows[r].n, rows[r].m, j->pl, th) / nr;
                size_t at = ((size_t)kk * H + h) * j->n_anchors + a;
                j->theta[at] = (float)th;
                j->dhat[at] = (float)dh;
            }
        }
    }
    free(xs);
    free(pool);
    free(rows);
    return NULL;
}

tt_status bench_calibrate(const bench_samples *smp, tt_placement placement, int pooled,
                          const double *keeps, int n_keeps, tt_table **tables)
{
    const tt_attn_shape *s = &smp->s;
    const int H = s->n_heads, QL = s->q_len, p0 = s->kv_len - s->q_len;
    if (n_keeps < 1 || n_keeps > MAX_KEEPS)
        return bench_fail(TT_INVALID_VALUE, "calibration: 1 to %d kept fractions", MAX_KEEPS);
    for (int kk = 0; kk < n_keeps; kk++) {
        tables[kk] = NULL;
        if (!(keeps[kk] > 0 && keeps[kk] <= 1))
            return bench_fail(TT_INVALID_VALUE, "calibration: kept fraction %g outside (0, 1]",
                              keeps[kk]);
    }
    /* Lengths spread evenly over the chunk (decode: its one length); rows of length 1 are dense
     * (layer k = 1) anyway. */
    int anchors[MAX_ANCHORS], n_anchors = 0;
    const int want = smp->decode ? 1 : QL < MAX_ANCHORS ? QL : MAX_ANCHORS;
    for (int r = 0; r < want; r++) {
        int i = want == 1 ? QL - 1 : (int)lround((double)r * (QL - 1) / (want - 1));
        if (p0 + i + 1 >= 2 && (n_anchors == 0 || i > anchors[n_anchors - 1]))
            anchors[n_anchors++] = i;
    }
    const size_t per = (size_t)n_keeps * H * (n_anchors ? n_anchors : 1);
    float *theta = calloc(per, sizeof *theta), *dhat = calloc(per, sizeof *dhat);
    int *ns = malloc(sizeof *ns * (size_t)(n_anchors ? n_anchors : 1));
    if (!theta || !dhat || !ns) {
        free(theta);
        free(dhat);
        free(ns);
        return bench_fail(TT_OUT_OF_HOST_MEMORY, "calibration: out of host memory");
    }
    for (int r = 0; r < n_anchors; r++)
        ns[r] = p0 + anchors[r] + 1;

    const int T = bench_threads(H);
    pthread_t th[32];
    cal_job jobs[32];
    unsigned started = 0;
    for (int t = 0; t < T; t++) {
        jobs[t] = (cal_job){smp, placement, pooled, keeps, n_keeps, anchors, n_anchors,
                            theta, dhat, t, T, 0};
        if (t > 0 && pthread_create(&th[t], NULL, cal_worker, &jobs[t]) == 0)
            started |= 1u << t;
    }
    cal_worker(&jobs[0]);
    int oom = jobs[0].oom;
    for (int t = 1; t < T; t++) {
        if (started & (1u << t))
            pthread_join(th[t], NULL);
        else
            cal_worker(&jobs[t]);
        oom |= jobs[t].oom;
    }

    tt_status st = oom ? bench_fail(TT_OUT_OF_HOST_MEMORY, "calibration: out of host memory")
                       : TT_SUCCESS;
    tt_table_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.placement = placement;
    meta.n_layers = 1;
    meta.n_heads = H;
    meta.n_kv_heads = s->n_kv_heads;
    meta.head_dim = s->head_dim;
    meta.score_precision = s->kv_dtype == TT_DTYPE_F16 ? 16 : 32;
    meta.samples = (uint64_t)n_anchors * WINDOW * s->batch * H;
    strcpy(meta.model_name, "synthetic-bench");
    for (int kk = 0; kk < n_keeps && st == TT_SUCCESS; kk++) {
        if ((st = tt_table_create(&meta, &tables[kk])) ||
            (st = tt_table_set_layer_k(tables[kk], 0, 1))) {
            st = bench_fail(st, "calibration: %s", tt_last_error(NULL));
            break;
        }
        for (int h = 0; h < H && st == TT_SUCCESS; h++) {
            const size_t at = ((size_t)kk * H + h) * n_anchors;
            /* F = 1 (or no row long enough): a θ below every score keeps everything */
            const float all = placement == TT_PLACE_POST ? -1.0f : -1e6f, zero = 0.0f;
            const int one = 1;
            if (keeps[kk] >= 1.0 || n_anchors == 0)
                st = tt_table_set_curve(tables[kk], 0, h, 1, &one, &all, &zero);
            else
                st = tt_table_set_curve(tables[kk], 0, h, n_anchors, ns, theta + at, dhat + at);
            if (st != TT_SUCCESS)
                st = bench_fail(st, "calibration: %s", tt_last_error(NULL));
        }
    }
    free(theta);
    free(dhat);
    free(ns);
    if (st != TT_SUCCESS)
        for (int kk = 0; kk < n_keeps; kk++) {
            tt_table_destroy(tables[kk]);
            tables[kk] = NULL;
        }
    return st;
}

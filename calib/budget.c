/* budget.c — the kept-budget accumulator and the per-layer k choice (budget.h). Each sampled row
 * is reduced at once to per-candidate sums (dropped mass, kept count, length) of its layer, so the
 * memory is one occurrence counter per (layer, head, n) plus a few numbers per (layer, k). */
#include "budget.h"
#include "calib.h" /* tc__fail_msg */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TB_MAX_K (1 << 24)                  /* the table format's limit on k and n, as in calib.c */
#define TB_MAX_SEEN_BYTES ((size_t)1 << 32) /* occurrence-counter cap, a guard against typos */

const int tc_budget_default_k[TC_BUDGET_DEFAULT_COUNT] = {16,  24,  32,  48,  64, 96,
                                                          128, 192, 256, 384, 512};

struct tc_budget_acc {
    tc_budget_config cfg;
    int *cands;         /* [n_cands] */
    uint64_t *seen;     /* [n_layers][n_heads][max_n + 1]: rows offered, the sampling occurrence */
    double *drop;       /* [n_layers][n_cands]: Σ dropped mass */
    uint64_t *kept;     /* [n_layers][n_cands]: Σ min(k, n) */
    uint64_t *rows;     /* [n_layers]: rows sampled */
    uint64_t *len;      /* [n_layers]: Σ n */
    double *s, *p, *tail; /* scratch: scores [max_n], probabilities [max_n], tail sums [max_n+1] */
    char err[512];
};

#define BFAIL(a, st, ...) tc__fail_msg((a)->err, sizeof (a)->err, (st), __VA_ARGS__)

const char *tc_budget_error(const tc_budget_acc *a) { return a ? a->err : "no accumulator"; }

static tt_status check_config(const tc_budget_config *c, char *msg, size_t size)
{
    if (c->n_layers < 1 || c->n_heads < 1 || c->n_kv_heads < 1 || c->head_dim < 1 ||
        c->n_heads % c->n_kv_heads != 0 || c->n_layers > 4096 || c->n_heads > 4096)
        return tc__fail_msg(msg, size, TT_ERR_BAD_SHAPE,
                        "budget: shape %d layers, %d heads, %d KV heads, head_dim %d is invalid",
                        c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim);
    if (c->max_n < 1 || c->max_n > TB_MAX_K)
        return tc__fail_msg(msg, size, TT_ERR_BAD_SHAPE, "budget: max_n %d outside 1..%d", c->max_n,
                        TB_MAX_K);
    if (!(c->sample_p > 0 && c->sample_p <= 1))
        return tc__fail_msg(msg, size, TT_INVALID_VALUE,
                        "budget: sample probability %g outside (0, 1]", c->sample_p);
    if (!c->cands || c->n_cands < 1)
        return tc__fail_msg(msg, size, TT_INVALID_VALUE, "budget: the candidate k list is empty");
    for (int i = 0; i < c->n_cands; i++) {
        if (c->cands[i] < 1 || c->cands[i] > TB_MAX_K)
            return tc__fail_msg(msg, size, TT_ERR_BAD_K, "budget: candidate k %d outside 1..%d",
                            c->cands[i], TB_MAX_K);
        if (i > 0 && c->cands[i] <= c->cands[i - 1])
            return tc__fail_msg(msg, size, TT_INVALID_VALUE,
                            "budget: candidate k must be strictly increasing (%d after %d)",
                            c->cands[i], c->cands[i - 1]);
    }
    size_t nseen = (size_t)c->n_layers * c->n_heads * ((size_t)c->max_n + 1);
    if (nseen > TB_MAX_SEEN_BYTES / sizeof(uint64_t))
        return tc__fail_msg(msg, size, TT_ERR_TOO_LARGE,
                        "budget: %zu (layer, head, n) keys need more than %zu bytes", nseen,
                        TB_MAX_SEEN_BYTES);
    return TT_SUCCESS;
}

tt_status tc_budget_create(const tc_budget_config *cfg, tc_budget_acc **out, char *msg,
                           size_t msg_size)
{
    if (!cfg || !out)
        return tc__fail_msg(msg, msg_size, TT_ERR_NULL_ARGUMENT, "budget: NULL argument");
    *out = NULL;
    tt_status st = check_config(cfg, msg, msg_size);
    if (st != TT_SUCCESS)
        return st;
    size_t L = (size_t)cfg->n_layers, C = (size_t)cfg->n_cands, N = (size_t)cfg->max_n;
    tc_budget_acc *a = calloc(1, sizeof *a);
    if (a) {
        a->cands = malloc(C * sizeof *a->cands);
        a->seen = calloc(L * (size_t)cfg->n_heads * (N + 1), sizeof *a->seen);
        a->drop = calloc(L * C, sizeof *a->drop);
        a->kept = calloc(L * C, sizeof *a->kept);
        a->rows = calloc(L, sizeof *a->rows);
        a->len = calloc(L, sizeof *a->len);
        a->s = malloc(N * sizeof *a->s);
        a->p = malloc(N * sizeof *a->p);
        a->tail = malloc((N + 1) * sizeof *a->tail);
    }
    if (!a || !a->cands || !a->seen || !a->drop || !a->kept || !a->rows || !a->len || !a->s ||
        !a->p || !a->tail) {
        tc_budget_destroy(a);
        return tc__fail_msg(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "budget: out of memory");
    }
    memcpy(a->cands, cfg->cands, C * sizeof *a->cands);
    a->cfg = *cfg;
    a->cfg.cands = a->cands;
    *out = a;
    return TT_SUCCESS;
}

void tc_budget_destroy(tc_budget_acc *a)
{
    if (!a)
        return;
    free(a->cands), free(a->seen), free(a->drop), free(a->kept), free(a->rows), free(a->len);
    free(a->s), free(a->p), free(a->tail);
    free(a);
}

/* MurmurHash3's 64-bit finaliser: a bijective mixer that turns a key into a uniform draw. */
static uint64_t fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdu;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53u;
    return x ^ (x >> 33);
}

/* Counts an offered row of (l, h, n) and says whether it is sampled. The draw depends only on the
 * key and its occurrence index; the salt keeps it independent of the threshold pass's draws when
 * both use the same seed. */
static int take_row(tc_budget_acc *a, int l, int h, int n)
{
    uint64_t occ = a->seen[((size_t)l * a->cfg.n_heads + h) * ((size_t)a->cfg.max_n + 1) + n]++;
    if (a->cfg.sample_p >= 1)
        return 1;
    uint64_t r = fmix64(a->cfg.seed ^ 0x6a09e667f3bcc909u);
    r = fmix64(r + (uint64_t)l);
    r = fmix64(r + (uint64_t)h);
    r = fmix64(r + (uint64_t)n);
    r = fmix64(r + occ);
    return (double)(r >> 11) * 0x1.0p-53 < a->cfg.sample_p;
}

static int desc(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a < b) - (a > b);
}

/* The per-candidate sums of one sampled row. The dropped mass is summed from the smallest
 * probability up rather than taken as 1 − (top-k sum): a tail of 1e-12 would otherwise be lost in
 * the rounding of a sum near 1, and small tails are exactly what separates large k. */
static void accumulate(tc_budget_acc *a, int l, int n, const double *s)
{
    double m = -INFINITY, z = 0;
    for (int j = 0; j < n; j++)
        if (isfinite(s[j]) && s[j] > m)
            m = s[j];
    for (int j = 0; j < n; j++) {
        a->p[j] = isfinite(s[j]) ? exp(s[j] - m) : 0; /* a non-finite score carries no mass */
        z += a->p[j];
    }
    for (int j = 0; j < n; j++)
        a->p[j] = z > 0 ? a->p[j] / z : 0;
    qsort(a->p, (size_t)n, sizeof *a->p, desc);
    a->tail[n] = 0;
    for (int j = n - 1; j >= 0; j--)
        a->tail[j] = a->tail[j + 1] + a->p[j];
    size_t C = (size_t)a->cfg.n_cands;
    for (size_t c = 0; c < C; c++) {
        int k = a->cands[c];
        a->drop[l * C + c] += n <= k ? 0 : a->tail[k];
        a->kept[l * C + c] += (uint64_t)(n <= k ? n : k);
    }
    a->rows[l]++;
    a->len[l] += (uint64_t)n;
}

tt_status tc_budget_add_row(tc_budget_acc *a, int l, int h, int n, const double *scores)
{
    if (!a)
        return TT_ERR_NULL_ARGUMENT;
    if (!scores)
        return BFAIL(a, TT_ERR_NULL_ARGUMENT, "budget: NULL score row");
    if (l < 0 || l >= a->cfg.n_layers || h < 0 || h >= a->cfg.n_heads)
        return BFAIL(a, TT_ERR_TABLE_RANGE, "budget: layer %d head %d outside %d x %d", l, h,
                     a->cfg.n_layers, a->cfg.n_heads);
    if (n < 1 || n > a->cfg.max_n)
        return BFAIL(a, TT_ERR_BAD_SHAPE, "budget: row length %d outside 1..%d", n,
                     a->cfg.max_n);
    if (take_row(a, l, h, n))
        accumulate(a, l, n, scores);
    return TT_SUCCESS;
}

tt_status tc_budget_add_qk(tc_budget_acc *a, int l, int T, int p0, const float *q, const float *k,
                           double scale)
{
    if (!a)
        return TT_ERR_NULL_ARGUMENT;
    if (!q || !k)
        return BFAIL(a, TT_ERR_NULL_ARGUMENT, "budget: NULL Q or K");
    if (l < 0 || l >= a->cfg.n_layers)
        return BFAIL(a, TT_ERR_TABLE_RANGE, "budget: layer %d outside 0..%d", l,
                     a->cfg.n_layers - 1);
    if (T < 1 || p0 < 0 || p0 > a->cfg.max_n - T)
        return BFAIL(a, TT_ERR_BAD_SHAPE, "budget: rows %d..%d outside 1..%d", p0 + 1, p0 + T,
                     a->cfg.max_n);
    int d = a->cfg.head_dim, ratio = a->cfg.n_heads / a->cfg.n_kv_heads;
    size_t kv_len = (size_t)p0 + T;
    if (scale <= 0)
        scale = 1.0 / sqrt((double)d);
    for (int h = 0; h < a->cfg.n_heads; h++) {
        const float *kg = k + (size_t)(h / ratio) * kv_len * d;
        for (int i = 0; i < T; i++) {
            int n = p0 + i + 1;
            if (!take_row(a, l, h, n)) /* decided first: unsampled rows cost no dot products */
                continue;
            const float *qr = q + ((size_t)h * T + i) * d;
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int x = 0; x < d; x++)
                    dot += (double)qr[x] * kg[(size_t)j * d + x];
                a->s[j] = dot * scale;
            }
            accumulate(a, l, n, a->s);
        }
    }
    return TT_SUCCESS;
}

static int cand_index(const tc_budget_acc *a, int k)
{
    for (int c = 0; c < a->cfg.n_cands; c++)
        if (a->cands[c] == k)
            return c;
    return -1;
}

tt_status tc_budget_layer_stats(const tc_budget_acc *a, int l, int k, double *kept_frac,
                                double *dropped, uint64_t *rows)
{
    if (!a)
        return TT_ERR_NULL_ARGUMENT;
    if (l < 0 || l >= a->cfg.n_layers)
        return TT_ERR_TABLE_RANGE;
    int c = cand_index(a, k);
    if (c < 0)
        return TT_INVALID_VALUE;
    size_t i = (size_t)l * a->cfg.n_cands + c;
    if (kept_frac)
        *kept_frac = a->len[l] ? (double)a->kept[i] / (double)a->len[l] : 0;
    if (dropped)
        *dropped = a->rows[l] ? a->drop[i] / (double)a->rows[l] : 0;
    if (rows)
        *rows = a->rows[l];
    return TT_SUCCESS;
}

/* The greedy upgrade loop over per-layer curves kf (kept fraction) and dm (mean dropped mass),
 * both [L][C]; cur[L] holds candidate indices, all 0 on entry. */
static void greedy(int L, int C, const double *kf, const double *dm, double budget, int *cur)
{
    double total = 0; /* Σ of the current kept fractions */
    for (int l = 0; l < L; l++)
        total += kf[(size_t)l * C];
    for (;;) {
        int bl = -1, bc = -1;
        double best = 0;
        for (int l = 0; l < L; l++) {
            const double *f = kf + (size_t)l * C, *d = dm + (size_t)l * C;
            for (int c = cur[l] + 1; c < C; c++) {
                double dk = f[c] - f[cur[l]], dd = d[cur[l]] - d[c];
                /* No extra kept element means every row already fits in k: nothing to gain. */
                if (dk <= 0 || dd <= 0 || total + dk > budget * L)
                    continue;
                if (bl < 0 || dd / dk > best)
                    bl = l, bc = c, best = dd / dk;
            }
        }
        if (bl < 0)
            return;
        total += kf[(size_t)bl * C + bc] - kf[(size_t)bl * C + cur[bl]];
        cur[bl] = bc;
    }
}

tt_status tc_budget_choose(tc_budget_acc *a, double budget, int *layer_k_out,
                           tc_budget_result *result)
{
    if (!a)
        return TT_ERR_NULL_ARGUMENT;
    if (!layer_k_out)
        return BFAIL(a, TT_ERR_NULL_ARGUMENT, "budget: NULL output");
    if (!(budget > 0 && budget <= 1))
        return BFAIL(a, TT_INVALID_VALUE, "budget: kept budget %g outside (0, 1]", budget);
    int L = a->cfg.n_layers, C = a->cfg.n_cands;
    for (int l = 0; l < L; l++)
        if (!a->rows[l])
            return BFAIL(a, TT_INVALID_VALUE,
                         "budget: layer %d has no sampled row (more calibration sequences or a "
                         "higher sampling probability are needed)", l);
    size_t cells = (size_t)(unsigned)L * (unsigned)C; /* both >= 1, checked at creation */
    double *kf = malloc(cells * sizeof *kf), *dm = malloc(cells * sizeof *dm);
    int *cur = calloc((unsigned)L, sizeof *cur);
    if (!kf || !dm || !cur) {
        free(kf), free(dm), free(cur);
        return BFAIL(a, TT_OUT_OF_HOST_MEMORY, "budget: out of memory");
    }
    for (int l = 0; l < L; l++)
        for (int c = 0; c < C; c++)
            tc_budget_layer_stats(a, l, a->cands[c], &kf[(size_t)l * C + c],
                                  &dm[(size_t)l * C + c], NULL);
    /* Uniform k: the largest candidate that fits in every layer at once (the baseline). */
    int uc = -1;
    double ukf = 0, udm = 0;
    for (int c = C - 1; c >= 0 && uc < 0; c--) {
        double f = 0, d = 0;
        for (int l = 0; l < L; l++)
            f += kf[(size_t)l * C + c], d += dm[(size_t)l * C + c];
        if (f <= budget * L)
            uc = c, ukf = f / L, udm = d;
    }
    tt_status st = TT_SUCCESS;
    if (uc < 0) {
        double f0 = 0;
        for (int l = 0; l < L; l++)
            f0 += kf[(size_t)l * C];
        st = BFAIL(a, TT_INVALID_VALUE,
                   "budget: kept budget %g is below %g, what the smallest candidate k = %d keeps "
                   "in every layer", budget, f0 / L, a->cands[0]);
    } else {
        greedy(L, C, kf, dm, budget, cur);
        double f = 0, d = 0;
        for (int l = 0; l < L; l++)
            f += kf[(size_t)l * C + cur[l]], d += dm[(size_t)l * C + cur[l]];
        /* The greedy is not optimal on non-convex curves; never hand back less than uniform. */
        if (udm < d) {
            for (int l = 0; l < L; l++)
                cur[l] = uc;
            f = ukf * L, d = udm;
        }
        for (int l = 0; l < L; l++)
            layer_k_out[l] = a->cands[cur[l]];
        if (result) {
            result->kept_frac = f / L, result->dropped = d;
            result->uniform_k = a->cands[uc];
            result->uniform_kept_frac = ukf, result->uniform_dropped = udm;
        }
    }
    free(kf), free(dm), free(cur);
    return st;
}

/* eval.c — token files (one sequence of space-separated ids per line, strictly parsed) and
 * teacher-forced evaluation: each sequence runs dense and with the requested attention settings,
 * and the evaluated run's NLL, its agreement and KL against dense, and the kept-element and V-row
 * fractions reported by the library's statistics are accumulated over every predicted token. */
#include "common/fail_msg.h"
#include "model/model.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN_FILE ((size_t)1 << 30)

void tm_tokens_free(tm_tokens *t)
{
    if (!t)
        return;
    if (t->seq && t->n_seqs > 0)
        free(t->seq[0]); /* every sequence points into one id array */
    free(t->seq);
    free(t->len);
    free(t->first_target);
    free(t);
}

/* Appends to a growable int array; returns 0 when out of memory. */
static int push(int **a, size_t *n, size_t *cap, int v)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        int *p = realloc(*a, nc * sizeof(int));
        if (!p)
            return 0;
        *a = p, *cap = nc;
    }
    (*a)[(*n)++] = v;
    return 1;
}

tt_status tm_tokens_parse(const char *text, size_t len, int vocab, tm_tokens **out, char *msg,
                          size_t msg_size)
{
    if (!out || (!text && len))
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "tokens: NULL argument");
    *out = NULL;
    int *ids = NULL, *lens = NULL;
    size_t n_ids = 0, cap_ids = 0, n_lines = 0, cap_lines = 0;
    size_t i = 0, line = 1;
    tt_status st = TT_SUCCESS;
    while (i < len && st == TT_SUCCESS) {
        size_t line_start = i, count = 0;
        while (i < len && text[i] != '\n') {
            char ch = text[i];
            if (ch == ' ' || ch == '\t' || (ch == '\r' && i + 1 < len && text[i + 1] == '\n')) {
                i++;
                continue;
            }
            if (ch < '0' || ch > '9') {
                st = tools_fail(
                    msg, msg_size, TT_ERR_FORMAT,
                    "line %zu, column %zu: unexpected character 0x%02x (expected a token id)", line,
                    i - line_start + 1, (unsigned)(unsigned char)ch);
                break;
            }
            long long v = 0;
            size_t col = i - line_start + 1;
            while (i < len && text[i] >= '0' && text[i] <= '9') {
                v = v * 10 + (text[i] - '0');
                if (v > INT_MAX)
                    break;
                i++;
            }
            if (v > INT_MAX || (vocab > 0 && v >= vocab)) {
                st = tools_fail(msg, msg_size, TT_ERR_FORMAT,
                                "line %zu, column %zu: token id %s%lld outside 0..%d", line, col,
                                v > INT_MAX ? "> " : "", v > INT_MAX ? (long long)INT_MAX : v,
                                vocab > 0 ? vocab - 1 : INT_MAX);
                break;
            }
            if (i < len && text[i] != ' ' && text[i] != '\t' && text[i] != '\n' &&
                text[i] != '\r') {
                st =
                    tools_fail(msg, msg_size, TT_ERR_FORMAT,
                               "line %zu, column %zu: unexpected character 0x%02x after a token id",
                               line, i - line_start + 1, (unsigned)(unsigned char)text[i]);
                break;
            }
            if (!push(&ids, &n_ids, &cap_ids, (int)v))
                st = tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "tokens: out of memory");
            count++;
        }
        if (st != TT_SUCCESS)
            break;
        if (count == 0)
            st = tools_fail(msg, msg_size, TT_ERR_FORMAT, "line %zu: empty line (no token ids)",
                            line);
        else if (count > INT_MAX || !push(&lens, &n_lines, &cap_lines, (int)count))
            st = tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "tokens: out of memory");
        i++; /* past '\n' (or the end) */
        line++;
    }
    if (st == TT_SUCCESS && n_lines == 0)
        st = tools_fail(msg, msg_size, TT_ERR_FORMAT, "no sequences (empty input)");
    if (st == TT_SUCCESS && n_lines > INT_MAX)
        st = tools_fail(msg, msg_size, TT_ERR_TOO_LARGE, "too many sequences");
    tm_tokens *t = NULL;
    if (st == TT_SUCCESS) {
        t = calloc(1, sizeof *t);
        if (!t || !(t->seq = malloc(n_lines * sizeof(int *)))) {
            free(t);
            t = NULL;
            st = tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "tokens: out of memory");
        }
    }
    if (st != TT_SUCCESS) {
        free(ids);
        free(lens);
        return st;
    }
    t->n_seqs = (int)n_lines;
    t->len = lens;
    for (size_t s = 0, at = 0; s < n_lines; at += (size_t)lens[s], s++)
        t->seq[s] = ids + at;
    *out = t;
    return TT_SUCCESS;
}

tt_status tm_tokens_load(const char *path, int vocab, tm_tokens **out, char *msg, size_t msg_size)
{
    if (!path || !out)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "tokens: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tools_fail(msg, msg_size, TT_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    tt_status st = TT_SUCCESS;
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_TOKEN_FILE) {
                st = tools_fail(msg, msg_size, TT_ERR_TOO_LARGE, "%s: larger than %zu bytes", path,
                                MAX_TOKEN_FILE);
                break;
            }
            cap = cap ? cap * 2 : 1 << 16;
            char *p = realloc(buf, cap);
            if (!p) {
                st = tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
                break;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                st = tools_fail(msg, msg_size, TT_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == TT_SUCCESS) {
        st = tm_tokens_parse(buf, n, vocab, out, msg, msg_size);
        if (st != TT_SUCCESS && msg && msg_size) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", msg);
            snprintf(msg, msg_size, "%s: %s", path, tmp);
        }
    }
    free(buf);
    return st;
}

void tm_params_per_layer(const tt_attn_params *base, tt_attn_params *params, int n_layers)
{
    for (int l = 0; l < n_layers; l++) {
        params[l] = *base;
        params[l].layer = l;
    }
}

void tm_eval_result_free(tm_eval_result *res)
{
    if (res) {
        free(res->layers);
        res->layers = NULL;
    }
}

/* Runs tokens[0..n) from position 0 in chunks of `chunk` tokens, keeping every row's logits. */
static tt_status run_sequence(tm_runner *r, const int *toks, int n, int chunk, float *logits)
{
    int V = tm_runner_model(r)->cfg.vocab_size;
    tm_runner_reset(r);
    for (int at = 0; at < n; at += chunk) {
        int T = n - at < chunk ? n - at : chunk;
        tt_status st = tm_forward(r, toks + at, T, logits + (size_t)at * V, 1);
        if (st != TT_SUCCESS)
            return st;
    }
    return TT_SUCCESS;
}

/* log-softmax of one row in double (the reference numbers are to 1e-5 relative). */
static void log_softmax(const float *x, double *y, int n)
{
    double m = x[0];
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    double z = 0;
    for (int i = 0; i < n; i++)
        z += exp((double)x[i] - m);
    double lz = m + log(z);
    for (int i = 0; i < n; i++)
        y[i] = (double)x[i] - lz;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

tt_status tm_eval(tm_runner *r, const tm_tokens *toks, const tm_eval_config *cfg,
                  tm_eval_result *res, char *msg, size_t msg_size)
{
    if (!r || !toks || !cfg || !res)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "eval: NULL argument");
    memset(res, 0, sizeof *res);
    const tm_config *c = &tm_runner_model(r)->cfg;
    const tm_runner_config *rc = tm_runner_get_config(r);
    int L = c->n_layers, V = c->vocab_size;
    if (!rc->collect_stats)
        return tools_fail(msg, msg_size, TT_INVALID_VALUE,
                          "eval: the runner must collect statistics");
    int n_seqs = cfg->max_seqs > 0 && cfg->max_seqs < toks->n_seqs ? cfg->max_seqs : toks->n_seqs;
    int max_len = 0;
    for (int s = 0; s < n_seqs; s++) {
        if (toks->len[s] < 2 || toks->len[s] - 1 > rc->max_seq)
            return tools_fail(msg, msg_size, TT_ERR_BAD_SHAPE,
                              "eval: sequence %d has %d tokens; need 2..%d", s + 1, toks->len[s],
                              rc->max_seq + 1);
        for (int i = 0; i < toks->len[s]; i++)
            if (toks->seq[s][i] < 0 || toks->seq[s][i] >= V)
                return tools_fail(msg, msg_size, TT_ERR_FORMAT,
                                  "eval: sequence %d, token %d: id %d outside the vocabulary 0..%d",
                                  s + 1, i + 1, toks->seq[s][i], V - 1);
        max_len = toks->len[s] > max_len ? toks->len[s] : max_len;
    }
    int sparse_is_dense = 1;
    for (int l = 0; cfg->params && l < L; l++)
        sparse_is_dense &= cfg->params[l].mode == TT_MODE_DENSE;
    int chunk = cfg->chunk > 0 ? cfg->chunk : max_len;
    float *ld = malloc((size_t)max_len * V * sizeof(float));
    float *ls = sparse_is_dense ? ld : malloc((size_t)max_len * V * sizeof(float));
    double *pd = malloc((size_t)V * sizeof(double)), *ps = malloc((size_t)V * sizeof(double));
    res->layers = calloc((size_t)L, sizeof *res->layers);
    res->n_layers = L;
    tt_status st = TT_SUCCESS;
    if (!ld || !ls || !pd || !ps || !res->layers)
        st = tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "eval: out of memory");
    double nll = 0, dnll = 0, kl = 0;
    long agree = 0, count = 0;
    for (int s = 0; s < n_seqs && st == TT_SUCCESS; s++) {
        const int *tk = toks->seq[s];
        int n = toks->len[s];
        /* The last token is only a target, never an input: n - 1 rows, as in REFERENCE.md, so
         * the statistics cover exactly the attention rows behind the predictions. */
        if (!sparse_is_dense) {
            tm_runner_set_params(r, NULL);
            if ((st = run_sequence(r, tk, n - 1, chunk, ld)) != TT_SUCCESS)
                break;
        }
        /* Statistics count the evaluated run only. */
        tm_runner_set_params(r, cfg->params);
        tm_runner_stats_reset(r);
        if ((st = run_sequence(r, tk, n - 1, chunk, ls)) != TT_SUCCESS)
            break;
        for (int l = 0; l < L; l++) {
            const tm_layer_stats *a = tm_runner_stats(r, l);
            tm_layer_stats *b = &res->layers[l].stats;
            b->kept += a->kept, b->vrows += a->vrows, b->len_sum += a->len_sum, b->rows += a->rows;
        }
        int p_first = toks->first_target ? toks->first_target[s] - 1 : 0; /* context only */
        for (int p = p_first < 0 ? 0 : p_first; p + 1 < n; p++) {
            const float *rd = ld + (size_t)p * V, *rs = ls + (size_t)p * V;
            log_softmax(rs, ps, V);
            nll -= ps[tk[p + 1]];
            if (sparse_is_dense) {
                dnll -= ps[tk[p + 1]];
                agree++;
            } else {
                log_softmax(rd, pd, V);
                dnll -= pd[tk[p + 1]];
                agree += argmax(rd, V) == argmax(rs, V);
                double k = 0;
                for (int i = 0; i < V; i++)
                    k += exp(pd[i]) * (pd[i] - ps[i]);
                kl += k;
            }
            count++;
        }
        if (cfg->progress)
            cfg->progress(cfg->user, s + 1, n_seqs, nll / (double)count);
    }
    if (st != TT_SUCCESS && st != TT_OUT_OF_HOST_MEMORY)
        tools_fail(msg, msg_size, st, "eval: %s", tm_runner_error(r));
    if (ls != ld)
        free(ls);
    free(ld);
    free(pd);
    free(ps);
    if (st != TT_SUCCESS) {
        tm_eval_result_free(res);
        return st;
    }
    uint64_t kept = 0, vrows = 0, len_sum = 0;
    for (int l = 0; l < L; l++) {
        tm_eval_layer *e = &res->layers[l];
        double den = (double)e->stats.len_sum;
        e->kept_frac = den > 0 ? (double)e->stats.kept / (den * c->n_heads) : 0;
        e->vrow_frac = den > 0 ? (double)e->stats.vrows / (den * c->n_kv_heads) : 0;
        kept += e->stats.kept, vrows += e->stats.vrows, len_sum += e->stats.len_sum;
    }
    res->seqs = n_seqs;
    res->tokens = count;
    res->nll = nll / (double)count;
    res->ppl = exp(res->nll);
    res->dense_nll = dnll / (double)count;
    res->top1_agree = (double)agree / (double)count;
    res->kl = kl / (double)count;
    res->kept_frac = len_sum ? (double)kept / ((double)len_sum * c->n_heads) : 0;
    res->vrow_frac = len_sum ? (double)vrows / ((double)len_sum * c->n_kv_heads) : 0;
    return TT_SUCCESS;
}

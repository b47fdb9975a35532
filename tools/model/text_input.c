/* text_input.c — plain text as model input: a file tokenised with the model's BPE tokenizer, a part
 * of it chosen by byte fractions but cut on a token boundary, and sliding windows for strided
 * perplexity (each token scored once, with the context the window gives it). The arithmetic is in
 * model.h next to tm_text_config; tm_eval honours the windows' first_target. */
#include "common/fail_msg.h"
#include "model/model.h"
#include "tokenizer/bpe.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TEXT_FILE ((size_t)1 << 30)

void tm_text_config_init(tm_text_config *c)
{
    c->ctx = 0, c->stride = 0, c->from = 0.0, c->to = 1.0, c->bos = -1;
}

tt_status tm_text_read_file(const char *path, char **text, size_t *len, char *msg,
                            size_t msg_size)
{
    if (!path || !text || !len)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "text: NULL argument");
    *text = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f)
        return tools_fail(msg, msg_size, TT_ERR_IO, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return tools_fail(msg, msg_size, TT_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > MAX_TEXT_FILE) {
        fclose(f);
        return tools_fail(msg, msg_size, TT_ERR_TOO_LARGE, "%s: larger than %zu bytes", path,
                          MAX_TEXT_FILE);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f) || got != n;
    fclose(f);
    if (bad) {
        free(buf);
        return tools_fail(msg, msg_size, TT_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *text = buf, *len = n;
    return TT_SUCCESS;
}

tt_status tm_text_encode(const tm_model *m, const char *text, size_t len, double from, double to,
                         int **ids, size_t *n_ids, char *msg, size_t msg_size)
{
    if (!m || (!text && len) || !ids || !n_ids)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "text: NULL argument");
    *ids = NULL, *n_ids = 0;
    if (!m->tokenizer)
        return tools_fail(msg, msg_size, TT_ERR_UNSUPPORTED,
                          "this model has no tokenizer (llama2.c files): use token files");
    if (!(from >= 0 && from < to && to <= 1)) /* also rejects NaN */
        return tools_fail(msg, msg_size, TT_INVALID_VALUE, "range %g:%g is not 0 <= A < B <= 1",
                          from, to);
    int32_t *all = NULL;
    size_t n = 0;
    tt_status st = bpe_encode(m->tokenizer, text ? text : "", len, 0, &all, &n);
    if (st != TT_SUCCESS)
        return tools_fail(msg, msg_size, st, "tokenizer: %s", tt_status_name(st));
    /* Byte length of each vocabulary entry, once, then the tokens' start offsets. */
    int V = m->cfg.vocab_size;
    size_t *tlen = calloc((size_t)V, sizeof *tlen);
    int *out = malloc((n ? n : 1) * sizeof *out);
    if (!tlen || !out) {
        free(all), free(tlen), free(out);
        return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "text: out of memory");
    }
    for (int32_t v = 0; v < V && st == TT_SUCCESS; v++) {
        char *s = NULL;
        st = bpe_decode(m->tokenizer, &v, 1, 0, &s, &tlen[v]);
        free(s);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n && st == TT_SUCCESS; i++)
        total += tlen[all[i]];
    /* A token belongs to the part whose byte interval holds its first byte. */
    double lo = from * (double)total, hi = to * (double)total;
    size_t k = 0;
    uint64_t at = 0;
    for (size_t i = 0; i < n && st == TT_SUCCESS; i++) {
        if ((double)at >= lo && ((double)at < hi || to >= 1.0))
            out[k++] = all[i];
        at += tlen[all[i]];
    }
    free(all);
    free(tlen);
    if (st != TT_SUCCESS) {
        free(out);
        return tools_fail(msg, msg_size, st, "tokenizer: decode failed");
    }
    *ids = out, *n_ids = k;
    return TT_SUCCESS;
}

tt_status tm_text_windows(const int *ids, size_t n, int ctx, int stride, int bos_id,
                          tm_tokens **out, char *msg, size_t msg_size)
{
    if (!out || (!ids && n))
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "windows: NULL argument");
    *out = NULL;
    size_t b = bos_id >= 0; /* BOS takes one slot of each window */
    if (ctx < 2) /* one prediction needs two positions (BOS + a token, or two tokens) */
        return tools_fail(msg, msg_size, TT_ERR_BAD_SHAPE, "context %d too short (need 2)", ctx);
    size_t C = (size_t)ctx - b; /* content tokens per window */
    if (stride < 1 || (size_t)stride > C)
        return tools_fail(msg, msg_size, TT_ERR_BAD_SHAPE,
                          "stride %d outside 1..%zu (the text tokens "
                          "of a %d-token window%s)",
                          stride, C, ctx, b ? " after BOS" : "");
    /* Pass 0 counts windows and ids, pass 1 fills them. */
    size_t n_win = 0, n_tok = 0;
    tm_tokens *t = NULL;
    int *pool = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t w = 0, at = 0, prev_end = 0;
        for (size_t begin = 0; n > 0; begin += (size_t)stride) {
            size_t end = begin + C < n ? begin + C : n;
            size_t first = begin + 1 - b > prev_end ? begin + 1 - b : prev_end; /* content idx */
            size_t len = b + end - begin, ft = first - begin + b;
            if (ft < len) { /* something to score */
                if (pass == 1) {
                    int *dst = pool + at;
                    if (b)
                        dst[0] = bos_id;
                    memcpy(dst + b, ids + begin, (end - begin) * sizeof(int));
                    t->seq[w] = dst, t->len[w] = (int)len, t->first_target[w] = (int)ft;
                }
                w++, at += len;
            }
            prev_end = end;
            if (end == n)
                break;
        }
        if (pass == 0) {
            n_win = w, n_tok = at;
            if (n_win == 0)
                return tools_fail(msg, msg_size, TT_ERR_BAD_SHAPE,
                                  "%zu tokens: nothing to score (need at least %d)", n, b ? 1 : 2);
            if (n_win > INT32_MAX)
                return tools_fail(msg, msg_size, TT_ERR_TOO_LARGE, "too many windows");
            t = calloc(1, sizeof *t);
            pool = malloc(n_tok * sizeof(int));
            if (t) {
                t->seq = malloc(n_win * sizeof(int *));
                t->len = malloc(n_win * sizeof(int));
                t->first_target = malloc(n_win * sizeof(int));
            }
            if (!t || !pool || !t->seq || !t->len || !t->first_target) {
                free(pool);
                tm_tokens_free(t); /* n_seqs is 0: frees the arrays only */
                return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "windows: out of memory");
            }
        }
    }
    t->n_seqs = (int)n_win; /* seq[0] == pool: tm_tokens_free frees it */
    *out = t;
    return TT_SUCCESS;
}

tt_status tm_text_load(const tm_model *m, const char *path, const tm_text_config *cfg,
                       tm_tokens **out, char *msg, size_t msg_size)
{
    if (!m || !path || !out)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "text: NULL argument");
    *out = NULL;
    tm_text_config c;
    tm_text_config_init(&c);
    if (cfg)
        c = *cfg;
    int bos = c.bos < 0 ? m->add_bos : c.bos;
    if (bos && m->bos_id < 0)
        return tools_fail(msg, msg_size, TT_INVALID_VALUE,
                          "a BOS token was asked for, the model has "
                          "none");
    int ctx = c.ctx > 0 ? c.ctx : m->cfg.seq_len;
    if (ctx > m->cfg.seq_len)
        return tools_fail(msg, msg_size, TT_ERR_BAD_SHAPE, "context %d exceeds the model's %d", ctx,
                          m->cfg.seq_len);
    int stride = c.stride > 0 ? c.stride : ctx - bos;
    char *text = NULL;
    size_t len = 0, n = 0;
    int *ids = NULL;
    tt_status st = tm_text_read_file(path, &text, &len, msg, msg_size);
    if (st != TT_SUCCESS)
        return st; /* its message names the file already */
    st = tm_text_encode(m, text, len, c.from, c.to, &ids, &n, msg, msg_size);
    free(text);
    if (st == TT_SUCCESS)
        st = tm_text_windows(ids, n, ctx, stride, bos ? m->bos_id : -1, out, msg, msg_size);
    free(ids);
    if (st != TT_SUCCESS && msg && msg_size) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", msg);
        snprintf(msg, msg_size, "%s: %s", path, tmp);
    }
    return st;
}

long tm_tokens_scored(const tm_tokens *toks, int max_seqs)
{
    if (!toks)
        return 0;
    int n = max_seqs > 0 && max_seqs < toks->n_seqs ? max_seqs : toks->n_seqs;
    long s = 0;
    for (int i = 0; i < n; i++) {
        int ft = toks->first_target ? toks->first_target[i] : 1;
        s += toks->len[i] > ft ? toks->len[i] - ft : 0;
    }
    return s;
}

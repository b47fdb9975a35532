/* table_import.c — imports the reference implementation's text tables: th.txt (θ) and optionally
 * sdc.txt (offline-SDC D̂), one line "L<layer>_H<head>:<n> <value> <samples> [<k>]" per
 * calibrated (layer, head, n). Parsing is strict and every error names the file and the line, since
 * these files are often produced or edited by scripts outside this project. */
#include "internal.h"
#include "table_file.h"
#include "table_internal.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define MAX_LINE 4096

typedef struct rec {
    int layer, head, n, k; /* k = 0: the line gave none */
    float value;
    long long samples;
    long line;
} rec;

typedef struct recs {
    rec *v;
    size_t n, cap;
} recs;

/* Unsigned decimal without sign or blanks, at most max; advances *s. 0 on anything else. */
static int parse_uint(const char **s, long long max, long long *out)
{
    const char *p = *s;
    long long v = 0;
    if (*p < '0' || *p > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (max - (*p - '0')) / 10) /* checked before it could overflow */
            return 0;
        v = v * 10 + (*p - '0');
    }
    *s = p;
    *out = v;
    return 1;
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Parses one non-empty line into r. Statuses: FORMAT for syntax, NONFINITE for the value,
 * TABLE_SHAPE for a key outside the model. */
static tt_status parse_line(const char *path, long line, const char *s, const tt_table_meta *m,
                            rec *r)
{
    long long layer, head, n, samples, k = 0;
    const char *p = s;
    int ok = *p++ == 'L' && parse_uint(&p, 1 << 30, &layer) && *p++ == '_' && *p++ == 'H' &&
             parse_uint(&p, 1 << 30, &head) && *p++ == ':' &&
             parse_uint(&p, TT_TABLE_FILE_MAX_N, &n) && (*p == ' ' || *p == '\t');
    TT_RETURN_IF(NULL, !ok, TT_ERR_FORMAT,
                 "%s:%ld: expected \"L<layer>_H<head>:<n> <value> <samples> [<k>]\" with n in "
                 "1..%d, got \"%.60s\"", path, line, TT_TABLE_FILE_MAX_N, s);
    TT_RETURN_IF(NULL, n < 1, TT_ERR_FORMAT, "%s:%ld: row length 0", path, line);
    p = skip_blanks(p);
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    TT_RETURN_IF(NULL, end == p || (*end != ' ' && *end != '\t'), TT_ERR_FORMAT,
                 "%s:%ld: bad value \"%.30s\" (a number and a sample count must follow the key)",
                 path, line, p);
    /* Out of float range counts as non-finite too: the table stores fp32. */
    TT_RETURN_IF(NULL, !isfinite(v) || !isfinite((float)v), TT_ERR_NONFINITE,
                 "%s:%ld: value %.30s is not a finite fp32 number", path, line, p);
    p = skip_blanks(end);
    TT_RETURN_IF(NULL, *p == '-', TT_ERR_FORMAT, "%s:%ld: negative sample count", path, line);
    /* 2^40 rows per length is beyond any calibration and keeps the per-curve sums in range. */
    TT_RETURN_IF(NULL, !parse_uint(&p, (long long)1 << 40, &samples), TT_ERR_FORMAT,
                 "%s:%ld: bad sample count \"%.30s\"", path, line, p);
    const char *after = skip_blanks(p);
    if (after != p && *after) {
        p = after;
        TT_RETURN_IF(NULL, !parse_uint(&p, TT_TABLE_FILE_MAX_N, &k) || k < 1, TT_ERR_FORMAT,
                     "%s:%ld: bad k \"%.30s\" (1..%d)", path, line, after, TT_TABLE_FILE_MAX_N);
    }
    TT_RETURN_IF(NULL, *skip_blanks(p) != '\0', TT_ERR_FORMAT,
                 "%s:%ld: unexpected text after the fields: \"%.30s\"", path, line, skip_blanks(p));
    TT_RETURN_IF(NULL, layer >= m->n_layers || head >= m->n_heads, TT_ERR_TABLE_SHAPE,
                 "%s:%ld: L%lld_H%lld is outside the model's %d layers x %d heads", path, line,
                 layer, head, m->n_layers, m->n_heads);
    *r = (rec){(int)layer, (int)head, (int)n, (int)k, (float)v, samples, line};
    return TT_SUCCESS;
}

/* Orders by the key (layer, head, n). */
static int key_cmp(const rec *a, const rec *b)
{
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    if (a->head != b->head)
        return a->head < b->head ? -1 : 1;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* Key, then line, so that of two lines with one key the earlier one sorts first. */
static int rec_cmp(const void *pa, const void *pb)
{
    const rec *a = pa, *b = pb;
    int c = key_cmp(a, b);
    return c ? c : a->line < b->line ? -1 : a->line > b->line;
}

/* Where a text comes from: a file (path) or, for the fuzzer, a buffer (data, size) named path in
 * messages. Both are read through one stdio stream so they share every line of the parser. */
typedef struct text_src {
    const char *path;
    const void *data;
    size_t size;
} text_src;

static FILE *open_src(const text_src *src)
{
    if (!src->data)
        return fopen(src->path, "r");
    /* fmemopen refuses a zero-size buffer on some libcs; an empty text reads like /dev/null. */
    return src->size ? fmemopen((void *)src->data, src->size, "r") : fopen("/dev/null", "r");
}

/* Reads a whole text into out, sorted by (layer, head, n), rejecting duplicate keys. */
static tt_status read_file(const text_src *src, const tt_table_meta *m, recs *out)
{
    const char *path = src->path;
    FILE *f = open_src(src);
    TT_RETURN_IF(NULL, !f, TT_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t bcap = 0;
    long line = 0;
    ssize_t len;
    tt_status st = TT_SUCCESS;
    while (st == TT_SUCCESS && (len = getline(&buf, &bcap, f)) >= 0) {
        line++;
        if (len > MAX_LINE) {
            st = tt__fail(NULL, TT_ERR_FORMAT, "%s:%ld: line longer than %d bytes", path, line,
                          MAX_LINE);
            break;
        }
        if ((size_t)len != strlen(buf)) {
            st = tt__fail(NULL, TT_ERR_FORMAT, "%s:%ld: NUL byte in a text file", path, line);
            break;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                           buf[len - 1] == '\t'))
            buf[--len] = '\0';
        const char *s = skip_blanks(buf);
        if (!*s || *s == '#') /* blank lines and comments are allowed around the data */
            continue;
        if (out->n == out->cap) {
            if (out->n >= TT_TABLE_FILE_MAX_TOTAL_SAMPLES) {
                st = tt__fail(NULL, TT_ERR_TOO_LARGE, "%s: more than %d lines", path,
                              TT_TABLE_FILE_MAX_TOTAL_SAMPLES);
                break;
            }
            out->cap = out->cap ? 2 * out->cap : 256;
            rec *grown = realloc(out->v, out->cap * sizeof *grown);
            if (!grown) {
                st = tt__fail(NULL, TT_OUT_OF_HOST_MEMORY, "%s: out of memory", path);
                break;
            }
            out->v = grown;
        }
        st = parse_line(path, line, s, m, &out->v[out->n]);
        out->n += st == TT_SUCCESS;
    }
    if (st == TT_SUCCESS && ferror(f))
        st = tt__fail(NULL, TT_ERR_IO, "reading %s failed", path);
    free(buf);
    fclose(f);
    if (st != TT_SUCCESS)
        return st;
    /* A file without data lines is almost surely the wrong file or a failed calibration run. */
    TT_RETURN_IF(NULL, out->n == 0, TT_ERR_FORMAT, "%s: no data lines", path);
    qsort(out->v, out->n, sizeof *out->v, rec_cmp);
    for (size_t i = 1; i < out->n; i++) {
        const rec *a = &out->v[i - 1], *b = &out->v[i];
        TT_RETURN_IF(NULL, key_cmp(a, b) == 0, TT_ERR_FORMAT,
                     "%s:%ld: L%d_H%d:%d repeats the key of line %ld", path, b->line, b->layer,
                     b->head, b->n, a->line);
    }
    return TT_SUCCESS;
}

/* Fills the table from the sorted records: per-layer k (consistent within a layer), then one curve
 * per (layer, head) run of records. */
static tt_status build(tt_table *t, const char *th_path, const recs *th, const char *sdc_path,
                       const recs *sdc, int default_k)
{
    const int L = t->meta.n_layers;
    int *k = calloc((size_t)L, sizeof *k);
    long *k_line = calloc((size_t)L, sizeof *k_line);
    int *ns = malloc((th->n ? th->n : 1) * sizeof *ns);
    float *theta = malloc((th->n ? th->n : 1) * sizeof *theta);
    float *dhat = malloc((th->n ? th->n : 1) * sizeof *dhat);
    tt_status st = TT_SUCCESS;
    if (!k || !k_line || !ns || !theta || !dhat)
        st = tt__fail(NULL, TT_OUT_OF_HOST_MEMORY, "tt_table_import_ref: out of memory");
    for (size_t i = 0; st == TT_SUCCESS && i < th->n; i++) {
        const rec *r = &th->v[i];
        if (r->k && k[r->layer] && r->k != k[r->layer])
            st = tt__fail(NULL, TT_ERR_FORMAT, "%s:%ld: layer %d has k = %d, but line %ld says %d",
                          th_path, r->line, r->layer, r->k, k_line[r->layer], k[r->layer]);
        else if (r->k && !k[r->layer]) {
            k[r->layer] = r->k;
            k_line[r->layer] = r->line;
        }
    }
    for (size_t i = 0; st == TT_SUCCESS && sdc && i < sdc->n; i++) {
        const rec *r = &sdc->v[i];
        if (r->k && k[r->layer] && r->k != k[r->layer])
            st = tt__fail(NULL, TT_ERR_FORMAT, "%s:%ld: layer %d has k = %d, but %s:%ld says %d",
                          sdc_path, r->line, r->layer, r->k, th_path, k_line[r->layer],
                          k[r->layer]);
    }
    for (int l = 0; st == TT_SUCCESS && l < L; l++)
        if (k[l] || default_k > 0)
            st = tt_table_set_layer_k(t, l, k[l] ? k[l] : default_k);
    /* Total calibration rows, when the caller did not know it: every row of length n > k adds one
     * sample to each (layer, head) curve, so the largest per-curve sum is the row count. */
    uint64_t most = 0;
    for (size_t i = 0, j; st == TT_SUCCESS && i < th->n; i = j) {
        uint64_t sum = 0;
        for (j = i; j < th->n && th->v[j].layer == th->v[i].layer &&
                    th->v[j].head == th->v[i].head; j++) {
            ns[j - i] = th->v[j].n;
            theta[j - i] = th->v[j].value;
            if (sdc)
                dhat[j - i] = sdc->v[j].value;
            sum += (uint64_t)th->v[j].samples;
        }
        most = sum > most ? sum : most;
        if (j - i > TT_TABLE_MAX_SAMPLES) {
            st = tt__fail(NULL, TT_ERR_TOO_LARGE, "%s: layer %d head %d has more than %d lines",
                          th_path, th->v[i].layer, th->v[i].head, TT_TABLE_MAX_SAMPLES);
            break;
        }
        st = tt_table_set_curve(t, th->v[i].layer, th->v[i].head, (int)(j - i), ns, theta,
                                sdc ? dhat : NULL);
    }
    if (st == TT_SUCCESS && t->meta.samples == 0)
        t->meta.samples = most;
    free(k);
    free(k_line);
    free(ns);
    free(theta);
    free(dhat);
    return st;
}

/* The sdc file must calibrate exactly the keys of the th file: a D̂ curve with holes would make
 * offline SDC silently use interpolated values the calibration never produced. */
static tt_status same_keys(const char *th_path, const recs *th, const char *sdc_path,
                           const recs *sdc)
{
    for (size_t i = 0; i < th->n || i < sdc->n; i++) {
        const rec *a = i < th->n ? &th->v[i] : NULL, *b = i < sdc->n ? &sdc->v[i] : NULL;
        int c = !a ? 1 : !b ? -1 : key_cmp(a, b);
        TT_RETURN_IF(NULL, c < 0, TT_ERR_FORMAT, "%s:%ld: L%d_H%d:%d has no line in %s", th_path,
                     a->line, a->layer, a->head, a->n, sdc_path);
        TT_RETURN_IF(NULL, c > 0, TT_ERR_FORMAT, "%s:%ld: L%d_H%d:%d has no line in %s", sdc_path,
                     b->line, b->layer, b->head, b->n, th_path);
    }
    return TT_SUCCESS;
}

/* The import proper, from two text sources (sdc->path NULL: no D-hat file). */
static tt_status import(const text_src *th_src, const text_src *sdc_src, const tt_table_meta *meta,
                        int default_k, tt_table **out)
{
    const char *th_path = th_src->path, *sdc_path = sdc_src->path;
    *out = NULL;
    TT_RETURN_IF(NULL, default_k < 0 || default_k > TT_TABLE_FILE_MAX_N, TT_ERR_BAD_K,
                 "tt_table_import_ref: default k %d outside 0..%d", default_k, TT_TABLE_FILE_MAX_N);
    tt_table *t = NULL;
    tt_status st = tt_table_create(meta, &t);
    if (st != TT_SUCCESS)
        return st;
    recs th = {0}, sdc = {0};
    st = read_file(th_src, meta, &th);
    if (st == TT_SUCCESS && sdc_path && (st = read_file(sdc_src, meta, &sdc)) == TT_SUCCESS)
        st = same_keys(th_path, &th, sdc_path, &sdc);
    if (st == TT_SUCCESS)
        st = build(t, th_path, &th, sdc_path, sdc_path ? &sdc : NULL, default_k);
    free(th.v);
    free(sdc.v);
    if (st != TT_SUCCESS) {
        tt_table_destroy(t);
        return st;
    }
    *out = t;
    return TT_SUCCESS;
}

tt_status tt_table_import_ref(const char *th_path, const char *sdc_path,
                              const tt_table_meta *meta, int default_k, tt_table **out)
{
    TT_RETURN_IF(NULL, !th_path || !meta || !out, TT_ERR_NULL_ARGUMENT,
                 "tt_table_import_ref: NULL argument");
    const text_src th = {th_path, NULL, 0}, sdc = {sdc_path, NULL, 0};
    return import(&th, &sdc, meta, default_k, out);
}

tt_status tt__table_import_ref_memory(const void *th, size_t th_size, const void *sdc,
                                      size_t sdc_size, const tt_table_meta *meta, int default_k,
                                      tt_table **out)
{
    TT_RETURN_IF(NULL, (!th && th_size) || (!sdc && sdc_size) || !meta || !out,
                 TT_ERR_NULL_ARGUMENT, "tt__table_import_ref_memory: NULL argument");
    /* A non-NULL data pointer marks a memory source, even for an empty text. */
    const text_src ts = {"th.txt", th ? th : "", th_size};
    const text_src ss = {sdc ? "sdc.txt" : NULL, sdc ? sdc : "", sdc_size};
    return import(&ts, &ss, meta, default_k, out);
}

/* table_select.c — picks, for one device, the threshold table to use from a directory of *.ttt
 * files (docs/TABLE_FORMAT.md, "Per-device selection"): only tables of the wanted model shape and
 * placement qualify; an exact device-name match beats another device's table of the same score
 * precision, which beats a generic one. Only headers are read until the winner is verified. */
#include "internal.h"
#include "table_file.h"
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { RANK_NONE = 0, RANK_GENERIC = 1, RANK_PRECISION = 2, RANK_EXACT = 3 };

typedef struct cand {
    char *path;
    int rank, same_precision;
    int64_t created;
    uint64_t samples;
    tt_table_meta meta;
} cand;

/* Device names are compared without surrounding blanks: some drivers pad CL_DEVICE_NAME (Intel
 * CPUs report leading spaces), and a table's name may have been typed by hand. */
static int same_device(const char *a, const char *b)
{
    while (isspace((unsigned char)*a))
        a++;
    while (isspace((unsigned char)*b))
        b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && isspace((unsigned char)a[la - 1]))
        la--;
    while (lb && isspace((unsigned char)b[lb - 1]))
        lb--;
    return la > 0 && la == lb && memcmp(a, b, la) == 0;
}

/* 0 means "unknown" for n_kv_heads and head_dim (tt_table_meta allows it), so it matches anything;
 * the number of layers and query heads fix the table's own shape and must be equal. */
static int same_model(const tt_table_meta *a, const tt_table_meta *b)
{
    return a->placement == b->placement && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads &&
           (!a->n_kv_heads || !b->n_kv_heads || a->n_kv_heads == b->n_kv_heads) &&
           (!a->head_dim || !b->head_dim || a->head_dim == b->head_dim) &&
           (!a->model_hash || !b->model_hash || a->model_hash == b->model_hash);
}

/* Better candidates sort first; the file name breaks the last tie so the pick is reproducible. */
static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->rank != b->rank)
        return b->rank - a->rank;
    if (a->same_precision != b->same_precision)
        return b->same_precision - a->same_precision;
    if (a->created != b->created)
        return a->created > b->created ? -1 : 1;
    if (a->samples != b->samples)
        return a->samples > b->samples ? -1 : 1;
    return strcmp(a->path, b->path);
}

/* Reads the header of one file; 0 when it is not a readable v1 table. */
static int read_meta(const char *path, tt_table_meta *meta)
{
    unsigned char buf[TT_TABLE_FILE_MAX_HEADER];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return tt__table_read_header(buf, got, meta) == TT_SUCCESS;
}

static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

static const char *rank_text(const cand *c, char *buf, size_t cap, int want_precision)
{
    if (c->rank == RANK_EXACT)
        snprintf(buf, cap, "exact device match \"%s\"", c->meta.device_name);
    else if (c->rank == RANK_PRECISION)
        snprintf(buf, cap, "calibrated on \"%s\" with the same score precision (%d)",
                 c->meta.device_name, want_precision);
    else
        snprintf(buf, cap, "generic table (score precision %d%s)", c->meta.score_precision,
                 c->same_precision ? "" : ", not the wanted one");
    return buf;
}

tt_status tt_table_select(const char *dir, const tt_device_info *dev, const tt_table_meta *want,
                          char *path_out, size_t cap, char *reason, size_t reason_cap)
{
    TT_RETURN_IF(NULL, !dir || !want || !path_out || !cap || (!reason && reason_cap),
                 TT_ERR_NULL_ARGUMENT, "tt_table_select: NULL argument");
    path_out[0] = '\0';
    if (reason_cap)
        reason[0] = '\0';
    DIR *d = opendir(dir);
    TT_RETURN_IF(NULL, !d, TT_ERR_IO, "tt_table_select: cannot read directory %s", dir);
    cand *cs = NULL;
    size_t n = 0, n_cap = 0, n_files = 0, other_model = 0, other_device = 0, unreadable = 0;
    tt_status st = TT_SUCCESS;
    const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
    for (struct dirent *e; st == TT_SUCCESS && (e = readdir(d)) != NULL;) {
        if (!has_suffix(e->d_name, ".ttt"))
            continue;
        size_t len = strlen(dir) + strlen(sep) + strlen(e->d_name) + 1;
        cand c = {.path = malloc(len)};
        if (!c.path) {
            st = tt__fail(NULL, TT_OUT_OF_HOST_MEMORY, "tt_table_select: out of memory");
            break;
        }
        snprintf(c.path, len, "%s%s%s", dir, sep, e->d_name);
        struct stat sb;
        if (stat(c.path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(c.path);
            continue;
        }
        n_files++;
        if (!read_meta(c.path, &c.meta)) {
            unreadable++;
        } else if (!same_model(&c.meta, want)) {
            other_model++;
        } else {
            int generic = c.meta.device_name[0] == '\0';
            c.same_precision = c.meta.score_precision == want->score_precision;
            c.rank = generic ? RANK_GENERIC
                   : dev && same_device(c.meta.device_name, dev->name) ? RANK_EXACT
                   : c.same_precision ? RANK_PRECISION
                                      : RANK_NONE;
            c.created = c.meta.created_unix;
            c.samples = c.meta.samples;
            other_device += c.rank == RANK_NONE;
        }
        if (c.rank == RANK_NONE) {
            free(c.path);
            continue;
        }
        if (n == n_cap) {
            cand *grown = realloc(cs, (n_cap ? 2 * n_cap : 16) * sizeof *cs);
            if (!grown) {
                free(c.path);
                st = tt__fail(NULL, TT_OUT_OF_HOST_MEMORY, "tt_table_select: out of memory");
                break;
            }
            cs = grown;
            n_cap = n_cap ? 2 * n_cap : 16;
        }
        cs[n++] = c;
    }
    closedir(d);
    if (n > 1)
        qsort(cs, n, sizeof *cs, cand_cmp);
    /* The header said the table fits; a full load proves the rest of the file is intact, so a
     * damaged winner gives way to the next candidate instead of failing later. */
    size_t pick = n;
    for (size_t i = 0; st == TT_SUCCESS && i < n && pick == n; i++) {
        tt_table *t = NULL;
        if (tt_table_load(cs[i].path, &t) == TT_SUCCESS)
            pick = i;
        else
            unreadable++;
        tt_table_destroy(t);
    }
    char why[512], summary[256];
    snprintf(summary, sizeof summary,
             "%zu *.ttt file(s): %zu of another model or placement, %zu of another device and "
             "precision, %zu unreadable or damaged",
             n_files, other_model, other_device, unreadable);
    if (st == TT_SUCCESS && pick == n) {
        st = tt__fail(NULL, TT_ERR_NO_TABLE,
                      "tt_table_select: no table in %s fits %d layers x %d heads, placement %d, "
                      "device \"%s\" (%s)", dir, want->n_layers, want->n_heads,
                      (int)want->placement, dev ? dev->name : "", summary);
        if (reason_cap)
            snprintf(reason, reason_cap, "%s", tt_last_error(NULL));
    } else if (st == TT_SUCCESS) {
        if (strlen(cs[pick].path) >= cap) {
            st = tt__fail(NULL, TT_ERR_BUFFER_TOO_SMALL,
                          "tt_table_select: path %s does not fit in %zu bytes", cs[pick].path, cap);
        } else {
            snprintf(path_out, cap, "%s", cs[pick].path);
            tt__clear_error(NULL); /* the files passed over left messages that no longer apply */
            if (reason_cap)
                snprintf(reason, reason_cap, "%s: %s; %s", cs[pick].path,
                         rank_text(&cs[pick], why, sizeof why, want->score_precision), summary);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(cs[i].path);
    free(cs);
    return st;
}

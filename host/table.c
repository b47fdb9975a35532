/* table.c — the in-memory threshold table: per (layer, query head) curves of θ (and optional D̂)
 * sampled at increasing row lengths, k per layer, and the metadata the file format carries.
 * Lookup interpolates linearly between samples and holds the end values outside them. */
#include "internal.h"
#include "table_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TT_TABLE_MAX_LAYERS 4096
#define TT_TABLE_MAX_HEADS 4096

tt_status tt_table_create(const tt_table_meta *meta, tt_table **out)
{
    TT_RETURN_IF(NULL, !meta || !out, TT_ERR_NULL_ARGUMENT, "tt_table_create: NULL argument");
    *out = NULL;
    TT_RETURN_IF(NULL, meta->n_layers < 1 || meta->n_layers > TT_TABLE_MAX_LAYERS,
                 TT_ERR_BAD_SHAPE, "tt_table_create: n_layers %d outside 1..%d", meta->n_layers,
                 TT_TABLE_MAX_LAYERS);
    TT_RETURN_IF(NULL, meta->n_heads < 1 || meta->n_heads > TT_TABLE_MAX_HEADS, TT_ERR_BAD_SHAPE,
                 "tt_table_create: n_heads %d outside 1..%d", meta->n_heads, TT_TABLE_MAX_HEADS);
    TT_RETURN_IF(NULL, meta->n_kv_heads < 0 || meta->head_dim < 0, TT_ERR_BAD_SHAPE,
                 "tt_table_create: negative n_kv_heads or head_dim");
    TT_RETURN_IF(NULL, (unsigned)meta->placement > TT_PLACE_REL, TT_ERR_BAD_ENUM,
                 "tt_table_create: placement %d out of range", (int)meta->placement);
    TT_RETURN_IF(NULL, !isfinite(meta->sigma), TT_ERR_NONFINITE, "tt_table_create: sigma not finite");
    tt_table *t = calloc(1, sizeof *t);
    if (t)
        t->curves = calloc((size_t)meta->n_layers * meta->n_heads, sizeof *t->curves);
    if (t)
        t->layer_k = calloc((size_t)meta->n_layers, sizeof *t->layer_k);
    if (!t || !t->curves || !t->layer_k) {
        tt_table_destroy(t);
        return tt__fail(NULL, TT_OUT_OF_HOST_MEMORY, "tt_table_create: out of memory");
    }
    t->meta = *meta;
    t->meta.model_name[sizeof t->meta.model_name - 1] = '\0';
    t->meta.device_name[sizeof t->meta.device_name - 1] = '\0';
    t->meta.token_hash[sizeof t->meta.token_hash - 1] = '\0';
    *out = t;
    return TT_SUCCESS;
}

void tt_table_destroy(tt_table *t)
{
    if (!t)
        return;
    if (t->curves) {
        for (size_t i = 0; i < (size_t)t->meta.n_layers * t->meta.n_heads; i++) {
            free(t->curves[i].ns);
            free(t->curves[i].theta);
            free(t->curves[i].dhat);
        }
    }
    free(t->curves);
    free(t->layer_k);
    free(t);
}

tt_status tt_table_get_meta(const tt_table *t, tt_table_meta *meta)
{
    TT_RETURN_IF(NULL, !t || !meta, TT_ERR_NULL_ARGUMENT, "tt_table_get_meta: NULL argument");
    *meta = t->meta;
    return TT_SUCCESS;
}

tt_status tt_table_set_layer_k(tt_table *t, int layer, int k)
{
    TT_RETURN_IF(NULL, !t, TT_ERR_NULL_ARGUMENT, "tt_table_set_layer_k: NULL table");
    TT_RETURN_IF(NULL, layer < 0 || layer >= t->meta.n_layers, TT_ERR_TABLE_RANGE,
                 "tt_table_set_layer_k: layer %d outside 0..%d", layer, t->meta.n_layers - 1);
    TT_RETURN_IF(NULL, k < 1, TT_ERR_BAD_K, "tt_table_set_layer_k: k = %d, must be >= 1", k);
    t->layer_k[layer] = k;
    return TT_SUCCESS;
}

tt_status tt_table_get_layer_k(const tt_table *t, int layer, int *k)
{
    TT_RETURN_IF(NULL, !t || !k, TT_ERR_NULL_ARGUMENT, "tt_table_get_layer_k: NULL argument");
    TT_RETURN_IF(NULL, layer < 0 || layer >= t->meta.n_layers, TT_ERR_TABLE_RANGE,
                 "tt_table_get_layer_k: layer %d outside 0..%d", layer, t->meta.n_layers - 1);
    *k = t->layer_k[layer];
    return TT_SUCCESS;
}

static tt__curve *curve_at(const tt_table *t, int layer, int head)
{
    return &t->curves[(size_t)layer * t->meta.n_heads + head];
}

tt_status tt_table_set_curve(tt_table *t, int layer, int head, int count, const int *ns,
                             const float *theta, const float *dhat)
{
    TT_RETURN_IF(NULL, !t || (count > 0 && (!ns || !theta)), TT_ERR_NULL_ARGUMENT,
                 "tt_table_set_curve: NULL argument");
    TT_RETURN_IF(NULL, layer < 0 || layer >= t->meta.n_layers || head < 0 ||
                           head >= t->meta.n_heads,
                 TT_ERR_TABLE_RANGE, "tt_table_set_curve: (layer %d, head %d) outside %dx%d", layer,
                 head, t->meta.n_layers, t->meta.n_heads);
    TT_RETURN_IF(NULL, count < 0 || count > TT_TABLE_MAX_SAMPLES, TT_ERR_BAD_SHAPE,
                 "tt_table_set_curve: count %d outside 0..%d", count, TT_TABLE_MAX_SAMPLES);
    for (int i = 0; i < count; i++) {
        TT_RETURN_IF(NULL, ns[i] < 1 || (i > 0 && ns[i] <= ns[i - 1]), TT_ERR_BAD_SHAPE,
                     "tt_table_set_curve: lengths must be >= 1 and strictly increasing (n[%d] = %d)",
                     i, ns[i]);
        TT_RETURN_IF(NULL, !isfinite(theta[i]) || (dhat && !isfinite(dhat[i])), TT_ERR_NONFINITE,
                     "tt_table_set_curve: non-finite value at n = %d", ns[i]);
    }
    int *nn = NULL;
    float *th = NULL, *dh = NULL;
    if (count > 0) {
        nn = malloc((size_t)count * sizeof *nn);
        th = malloc((size_t)count * sizeof *th);
        dh = dhat ? malloc((size_t)count * sizeof *dh) : NULL;
        if (!nn || !th || (dhat && !dh)) {
            free(nn);
            free(th);
            free(dh);
            return tt__fail(NULL, TT_OUT_OF_HOST_MEMORY, "tt_table_set_curve: out of memory");
        }
        memcpy(nn, ns, (size_t)count * sizeof *nn);
        memcpy(th, theta, (size_t)count * sizeof *th);
        if (dh)
            memcpy(dh, dhat, (size_t)count * sizeof *dh);
    }
    tt__curve *c = curve_at(t, layer, head);
    free(c->ns);
    free(c->theta);
    free(c->dhat);
    c->ns = nn;
    c->theta = th;
    c->dhat = dh;
    c->count = count;
    return TT_SUCCESS;
}

tt_status tt_table_get_curve(const tt_table *t, int layer, int head, int *count, int *ns,
                             float *theta, float *dhat)
{
    TT_RETURN_IF(NULL, !t || !count, TT_ERR_NULL_ARGUMENT, "tt_table_get_curve: NULL argument");
    TT_RETURN_IF(NULL, layer < 0 || layer >= t->meta.n_layers || head < 0 ||
                           head >= t->meta.n_heads,
                 TT_ERR_TABLE_RANGE, "tt_table_get_curve: (layer %d, head %d) outside %dx%d", layer,
                 head, t->meta.n_layers, t->meta.n_heads);
    const tt__curve *c = curve_at(t, layer, head);
    *count = c->count;
    for (int i = 0; i < c->count; i++) {
        if (ns)
            ns[i] = c->ns[i];
        if (theta)
            theta[i] = c->theta[i];
        if (dhat)
            dhat[i] = c->dhat ? c->dhat[i] : NAN;
    }
    return TT_SUCCESS;
}

/* Linear interpolation of y over the sample lengths; end values held outside the samples. */
static float interp(const int *ns, const float *y, int count, int n)
{
    if (n <= ns[0])
        return y[0];
    if (n >= ns[count - 1])
        return y[count - 1];
    int lo = 0, hi = count - 1; /* ns[lo] < n < ns[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (ns[mid] <= n)
            lo = mid;
        else
            hi = mid;
    }
    if (ns[lo] == n)
        return y[lo];
    double f = (double)(n - ns[lo]) / (double)(ns[hi] - ns[lo]);
    return (float)((1.0 - f) * y[lo] + f * y[hi]);
}

tt_status tt_table_lookup(const tt_table *t, int layer, int head, int n, float *theta, float *dhat)
{
    TT_RETURN_IF(NULL, !t || !theta, TT_ERR_NULL_ARGUMENT, "tt_table_lookup: NULL argument");
    TT_RETURN_IF(NULL, layer < 0 || layer >= t->meta.n_layers || head < 0 ||
                           head >= t->meta.n_heads,
                 TT_ERR_TABLE_RANGE, "tt_table_lookup: (layer %d, head %d) outside %dx%d", layer,
                 head, t->meta.n_layers, t->meta.n_heads);
    TT_RETURN_IF(NULL, n < 1, TT_ERR_TABLE_RANGE, "tt_table_lookup: row length %d < 1", n);
    const tt__curve *c = curve_at(t, layer, head);
    TT_RETURN_IF(NULL, c->count == 0, TT_ERR_TABLE_RANGE,
                 "tt_table_lookup: no samples for layer %d head %d", layer, head);
    *theta = interp(c->ns, c->theta, c->count, n);
    if (dhat)
        *dhat = c->dhat ? interp(c->ns, c->dhat, c->count, n) : NAN;
    return TT_SUCCESS;
}

/* interp at consecutive n: lo only moves forward, so the walk costs O(count + samples) and lands on
 * the same (lo, hi) pair as interp's binary search (ns strictly increasing). */
static void fill_curve(const int *ns, const float *y, int samples, int n0, int count, float *out)
{
    int lo = 0;
    for (int i = 0; i < count; i++) {
        const int n = n0 + i;
        if (n <= ns[0] || n >= ns[samples - 1]) {
            out[i] = n <= ns[0] ? y[0] : y[samples - 1];
            continue;
        }
        while (ns[lo + 1] <= n)
            lo++;
        if (ns[lo] == n) {
            out[i] = y[lo];
            continue;
        }
        double f = (double)(n - ns[lo]) / (double)(ns[lo + 1] - ns[lo]);
        out[i] = (float)((1.0 - f) * y[lo] + f * y[lo + 1]);
    }
}

tt_status tt__table_fill(const tt_table *t, int layer, int head, int n0, int count, float *theta,
                         float *dhat)
{
    float th0;
    tt_status st = tt_table_lookup(t, layer, head, n0, &th0, NULL); /* the range checks */
    if (st != TT_SUCCESS || count <= 0)
        return st;
    const tt__curve *c = curve_at(t, layer, head);
    fill_curve(c->ns, c->theta, c->count, n0, count, theta);
    if (dhat && c->dhat)
        fill_curve(c->ns, c->dhat, c->count, n0, count, dhat);
    else if (dhat)
        for (int i = 0; i < count; i++)
            dhat[i] = NAN;
    return TT_SUCCESS;
}

int tt__table_n_layers(const tt_table *t) { return t->meta.n_layers; }
int tt__table_n_heads(const tt_table *t) { return t->meta.n_heads; }

int tt__table_has_dhat(const tt_table *t)
{
    for (size_t i = 0; i < (size_t)t->meta.n_layers * t->meta.n_heads; i++)
        if (t->curves[i].count > 0 && !t->curves[i].dhat)
            return 0;
    return 1;
}

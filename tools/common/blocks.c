/* blocks.c — kept-block occupancy of causal prefill tiles (blocks.h): the share of tensor-core
 * P·V blocks that a Top-θ tile must still multiply, measured on host score rows (a model's through
 * the runner observer here, for `toptheta eval --blocks`; the synthetic workload's in
 * tools/bench/bench_blocks.c). */
#include "blocks.h"
#include "reference_row.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int tt_blk_tile_positions(int group) { return group >= 32 ? 1 : 32 / group; }

void tt_blk_add_tile(tt_blk_counts *c, int nrows, const int *n, const unsigned char *kept,
                     size_t stride)
{
    int nmax = 0;
    for (int r = 0; r < nrows; r++)
        if (n[r] > nmax)
            nmax = n[r];
    /* Keys some row kept, then blocks of 16 and 32 over that union. */
    int bk16 = 0, bk32 = 0, any16 = 0, any32 = 0, u32 = 0;
    for (int j = 0; j < nmax; j++) {
        int any = 0;
        for (int r = 0; r < nrows && !any; r++)
            any = j < n[r] && kept[(size_t)r * stride + j];
        c->keys += 1;
        c->keys_kept += any;
        any16 |= any, any32 |= any, u32 += any;
        if ((j + 1) % TT_BLK_KEYS == 0 || j + 1 == nmax) {
            bk16 += any16;
            c->blocks += 1;
            any16 = 0;
        }
        if ((j + 1) % 32 == 0 || j + 1 == nmax) {
            bk32 += any32;
            c->tiles += 1;
            c->compact += (u32 + TT_BLK_KEYS - 1) / TT_BLK_KEYS;
            any32 = u32 = 0;
        }
    }
    c->blocks_kept += bk16;
    c->tiles_kept += bk32;
    for (int r = 0; r < nrows; r++) {
        c->pairs += n[r];
        for (int j = 0; j < n[r]; j++)
            c->kept += kept[(size_t)r * stride + j] != 0;
    }
}

tt_status tt_blk_row_kept(const tt_attn_params *p, int k_eff, int head, int n, const double *s,
                          unsigned char *kept, double *work)
{
    if (p->mode == TT_MODE_DENSE || k_eff <= 0 || n <= k_eff) {
        memset(kept, 1, (size_t)n);
        return TT_SUCCESS;
    }
    if (p->mode == TT_MODE_TOPK) { /* the k largest (ties at the k-th all kept, as the library) */
        memcpy(work, s, (size_t)n * sizeof *work);
        double cut = tt__ref_kth_largest(work, n, k_eff);
        for (int j = 0; j < n; j++)
            kept[j] = s[j] >= cut;
        return TT_SUCCESS;
    }
    float th = 0;
    tt_status st = tt_table_lookup(p->table, p->layer, head, n, &th, NULL);
    if (st != TT_SUCCESS)
        return st;
    double m = -INFINITY, z = 0;
    for (int j = 0; j < n; j++)
        m = s[j] > m ? s[j] : m;
    if (p->placement == TT_PLACE_POST)
        for (int j = 0; j < n; j++)
            z += exp(s[j] - m);
    for (int j = 0; j < n; j++)
        kept[j] = p->placement == TT_PLACE_PRE   ? s[j] > th
                  : p->placement == TT_PLACE_REL ? s[j] - m > th
                                                 : exp(s[j] - m) / z > th;
    return TT_SUCCESS;
}

int tt_blk_k_eff(const tt_attn_params *p)
{
    int k = 0;
    if (p->mode == TT_MODE_TOPK || (p->mode == TT_MODE_THETA && p->k > 0))
        return p->k;
    if (p->mode == TT_MODE_THETA && p->table)
        tt_table_get_layer_k(p->table, p->layer, &k);
    return k;
}

void tt_blk_merge(tt_blk_counts *a, const tt_blk_counts *b)
{
    a->pairs += b->pairs, a->kept += b->kept;
    a->blocks += b->blocks, a->blocks_kept += b->blocks_kept;
    a->tiles += b->tiles, a->tiles_kept += b->tiles_kept;
    a->keys += b->keys, a->keys_kept += b->keys_kept;
    a->compact += b->compact;
}

void tt_blk_scratch_free(tt_blk_scratch *w)
{
    free(w->s), free(w->work), free(w->kept), free(w->n);
    memset(w, 0, sizeof *w);
}

/* Room for tiles of `rows` rows of up to `len` keys; grows only. */
static int reserve(tt_blk_scratch *w, int rows, int len)
{
    if (rows <= w->cap_rows && len <= w->cap_len && w->n)
        return 0;
    const int cr = rows > w->cap_rows ? rows : w->cap_rows;
    const int cl = len > w->cap_len ? len : w->cap_len;
    tt_blk_scratch_free(w);
    w->cap_rows = cr, w->cap_len = cl;
    w->s = malloc(sizeof *w->s * (size_t)cl);
    w->work = malloc(sizeof *w->work * (size_t)cl);
    w->kept = malloc((size_t)cr * cl);
    w->n = malloc(sizeof *w->n * (size_t)cr);
    return w->s && w->work && w->kept && w->n ? 0 : -1;
}

tt_status tt_blk_add_query_tile(tt_blk_counts *c, tt_blk_scratch *w, const tt_attn_params *p,
                                int k_eff, const float *q, size_t q_head_stride, int h0,
                                int group, int i0, int i1, int p0, const void *k, int k_f16,
                                int d)
{
    const double scale = p->scale > 0 ? p->scale : 1.0 / sqrt((double)d);
    const int len = p0 + i1;
    if (reserve(w, (i1 - i0) * group, len) != 0)
        return TT_OUT_OF_HOST_MEMORY;
    int rows = 0;
    for (int i = i0; i < i1; i++)
        for (int h = h0; h < h0 + group; h++, rows++) {
            const float *qr = q + (size_t)h * q_head_stride + (size_t)i * d;
            const int n = p0 + i + 1;
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int e = 0; e < d; e++) {
                    const size_t x = (size_t)j * d + e;
                    acc += (double)qr[e] * (k_f16 ? tt_f16_to_f32(((const uint16_t *)k)[x])
                                                  : ((const float *)k)[x]);
                }
                w->s[j] = acc * scale;
            }
            w->n[rows] = n;
            tt_status st = tt_blk_row_kept(p, k_eff, h, n, w->s, w->kept + (size_t)rows * len,
                                           w->work);
            if (st != TT_SUCCESS)
                return st;
        }
    tt_blk_add_tile(c, rows, w->n, w->kept, (size_t)len);
    return TT_SUCCESS;
}

struct tt_blk_observer {
    const tt_attn_params *params;
    int L;
    tt_blk_counts *layer;
    tt_blk_scratch w;
};

tt_blk_observer *tt_blk_observer_create(int n_layers, const tt_attn_params *params)
{
    tt_blk_observer *b = calloc(1, sizeof *b);
    if (!b || !(b->layer = calloc((size_t)n_layers, sizeof *b->layer))) {
        free(b);
        return NULL;
    }
    b->params = params;
    b->L = n_layers;
    return b;
}

void tt_blk_observer_destroy(tt_blk_observer *b)
{
    if (!b)
        return;
    free(b->layer);
    tt_blk_scratch_free(&b->w);
    free(b);
}

int tt_blk_observe(void *user, int l, int H, int G, int d, int T, int p0, const float *q,
                   const float *k)
{
    tt_blk_observer *b = user;
    if (l < 0 || l >= b->L || G < 1 || H % G != 0)
        return TT_INVALID_VALUE;
    const tt_attn_params *p = &b->params[l];
    const int group = H / G, bq = tt_blk_tile_positions(group), k_eff = tt_blk_k_eff(p);
    for (int g = 0; g < G; g++) /* q [H][T][d], k [G][p0 + T][d] */
        for (int t0 = 0; t0 < T; t0 += bq) {
            tt_status st = tt_blk_add_query_tile(
                &b->layer[l], &b->w, p, k_eff, q, (size_t)T * d, g * group, group, t0,
                t0 + bq < T ? t0 + bq : T, p0, k + (size_t)g * (p0 + T) * d, 0, d);
            if (st != TT_SUCCESS)
                return st;
        }
    return 0;
}

int tt_blk_observer_layers(const tt_blk_observer *b) { return b->L; }

const tt_blk_counts *tt_blk_observer_layer(const tt_blk_observer *b, int layer)
{
    return &b->layer[layer];
}

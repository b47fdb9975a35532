/* bench_blocks.c — kept-block occupancy of a prefill workload (tools/common/blocks.h) on a sample
 * of its query tiles, with the timed call's mode and thresholds: how much of the tensor-core P·V a
 * Top-θ or top-k prefill can skip on this data. Every row of a 8K chunk would take minutes. */
#include "bench.h"
#include "common/blocks.h"
#include <math.h>
#include <stdlib.h>

tt_status bench_blocks(const bench_data *d, const tt_attn_params *p, int n_tiles,
                       bench_block_fracs *f)
{
    const tt_attn_shape *s = &d->s;
    f->block = f->keys = f->packed = NAN;
    if (!d->q || !d->k || s->q_len < 2)
        return TT_SUCCESS; /* decode, or no host copy of K: nothing to estimate */
    const int G = s->n_kv_heads, group = s->n_heads / G, D = s->head_dim, KL = s->kv_len;
    const int bq = tt_blk_tile_positions(group), QL = s->q_len, p0 = KL - QL;
    const int per_seq = (QL + bq - 1) / bq, rows_max = bq * group, k_eff = tt_blk_k_eff(p);
    const long total = (long)s->batch * G * per_seq;
    const double scale = p->scale > 0 ? p->scale : 1.0 / sqrt((double)D);
    double *sc = malloc(sizeof *sc * (size_t)KL), *work = malloc(sizeof *work * (size_t)KL);
    unsigned char *kept = malloc((size_t)rows_max * KL);
    int *n = malloc(sizeof *n * (size_t)rows_max);
    tt_status st = sc && work && kept && n ? TT_SUCCESS : TT_OUT_OF_HOST_MEMORY;
    tt_blk_counts c = {0};
    /* Tiles spread evenly over (sequence, KV head, tile), so early (short) and late rows mix. */
    for (int t = 0; t < n_tiles && t < total && st == TT_SUCCESS; t++) {
        long x = (long)((t + 0.5) * total / (n_tiles < total ? n_tiles : total));
        int tile = (int)(x % per_seq), bg = (int)(x / per_seq), b = bg / G, g = bg % G, rows = 0;
        for (int i = tile * bq; i < QL && i < (tile + 1) * bq; i++)
            for (int h = g * group; h < (g + 1) * group && st == TT_SUCCESS; h++, rows++) {
                const float *qr = d->q + (((size_t)b * s->n_heads + h) * QL + i) * D;
                const size_t kb = ((size_t)b * G + g) * KL * D;
                n[rows] = p0 + i + 1;
                for (int j = 0; j < n[rows]; j++) {
                    double acc = 0;
                    for (int e = 0; e < D; e++) {
                        size_t idx = kb + (size_t)j * D + e;
                        acc += (double)qr[e] * (d->elem == 2
                                                    ? tt_f16_to_f32(((const uint16_t *)d->k)[idx])
                                                    : ((const float *)d->k)[idx]);
                    }
                    sc[j] = acc * scale;
                }
                st = tt_blk_row_kept(p, k_eff, h, n[rows], sc, kept + (size_t)rows * KL, work);
            }
        if (st == TT_SUCCESS)
            tt_blk_add_tile(&c, rows, n, kept, (size_t)KL);
    }
    if (st == TT_SUCCESS && c.blocks > 0) {
        f->block = c.blocks_kept / c.blocks;
        f->keys = c.keys_kept / c.keys;
        f->packed = c.compact / c.blocks;
    }
    free(sc), free(work), free(kept), free(n);
    return st == TT_SUCCESS ? st : bench_fail(st, "block occupancy: %s", tt_status_name(st));
}

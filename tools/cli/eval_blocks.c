/* eval_blocks.c — the report of `toptheta eval --blocks`: per layer, the share of the prefill
 * kernel's (query tile × 16-key block) pieces holding a kept score, counted by the runner observer
 * of tools/common/blocks.c. The counts cover each pass the eval runs (dense and the mode see
 * nearly the same rows). */
#include "commands.h"
#include "common/blocks.h"
#include <math.h>
#include <stdio.h>

static double frac(double a, double b) { return b > 0 ? a / b : NAN; }

static void print_counts(const char *label, int l, const tt_blk_counts *c, int json,
                         const char *sep)
{
    double kf = frac(c->kept, c->pairs), bf = frac(c->blocks_kept, c->blocks);
    double tf = frac(c->tiles_kept, c->tiles), uf = frac(c->keys_kept, c->keys);
    double cf = frac(c->compact, c->blocks);
    if (json)
        printf("{\"layer\":%d,\"kept_frac\":%.6f,\"block_frac\":%.6f,\"tile_frac\":%.6f,"
               "\"union_frac\":%.6f,\"packed_frac\":%.6f,\"blocks\":%.0f}%s",
               l, kf, bf, tf, uf, cf, c->blocks, sep);
    else
        printf("%-8s kept %.4f  16-key blocks %.4f  32-key tiles %.4f  tile union %.4f  "
               "packed %.4f  (%.0f blocks)\n",
               label, kf, bf, tf, uf, cf, c->blocks);
}

void cli_blocks_report(const tt_blk_observer *b, int json)
{
    const int L = tt_blk_observer_layers(b);
    tt_blk_counts all = {0};
    for (int l = 0; l < L; l++)
        tt_blk_merge(&all, tt_blk_observer_layer(b, l));
    if (json) { /* a member of the eval's JSON object */
        printf("\"blocks\":{\"key_block\":%d,\"all\":", TT_BLK_KEYS);
        print_counts("all", -1, &all, 1, ",\"layers\":[");
        for (int l = 0; l < L; l++)
            print_counts("", l, tt_blk_observer_layer(b, l), 1, l + 1 < L ? "," : "");
        printf("]}");
        return;
    }
    printf("kept-block occupancy (query tile × %d-key block; a tensor-core P·V multiplies every "
           "occupied block; packed: the blocks left when each 32-key tile's kept keys are packed "
           "together):\n", TT_BLK_KEYS);
    char label[32];
    for (int l = 0; l < L; l++) {
        snprintf(label, sizeof label, "layer %d", l);
        print_counts(label, l, tt_blk_observer_layer(b, l), 0, "");
    }
    print_counts("all", -1, &all, 0, "");
}

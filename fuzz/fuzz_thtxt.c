/* fuzz_thtxt.c — libFuzzer harness for the reference text importer (tt_table_import_ref, through
 * its in-memory twin): the input is a th.txt, optionally followed by a line "--sdc--" and an
 * sdc.txt. The model shape is fixed (4 layers x 4 heads) so that keys in range are easy to hit. */
#include "table_file.h"
#include "toptheta.h"
#include <stdint.h>
#include <string.h>

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static const char separator[] = "\n--sdc--\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_table_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.placement = TT_PLACE_PRE;
    meta.score_precision = 32;
    meta.n_layers = 4;
    meta.n_heads = 4;
    meta.n_kv_heads = 2;
    meta.head_dim = 16;
    /* Split at the first separator; memmem is a GNU extension, so search by hand. */
    const size_t sl = sizeof separator - 1;
    size_t cut = size;
    for (size_t i = 0; i + sl <= size; i++)
        if (memcmp(data + i, separator, sl) == 0) {
            cut = i;
            break;
        }
    const uint8_t *sdc = cut < size ? data + cut + sl : NULL;
    size_t sdc_size = cut < size ? size - cut - sl : 0;
    tt_table *t = (tt_table *)&t; /* must come back NULL on failure */
    tt_status st = tt__table_import_ref_memory(data, cut, sdc, sdc_size, &meta, 8, &t);
    if (st != TT_SUCCESS) {
        REQUIRE(t == NULL && tt_last_error(NULL)[0] != '\0');
        return 0;
    }
    REQUIRE(t != NULL);
    for (int l = 0; l < 4; l++)
        for (int h = 0; h < 4; h++) {
            int count = 0, ns[64];
            REQUIRE(tt_table_get_curve(t, l, h, &count, NULL, NULL, NULL) == TT_SUCCESS);
            if (count > 0 && count <= 64) {
                float th[64], dh[64];
                REQUIRE(tt_table_get_curve(t, l, h, &count, ns, th, dh) == TT_SUCCESS);
                for (int i = 1; i < count; i++)
                    REQUIRE(ns[i] > ns[i - 1]);
            }
            float th = 0;
            st = tt_table_lookup(t, l, h, 100, &th, NULL);
            REQUIRE(count == 0 ? st == TT_ERR_TABLE_RANGE : st == TT_SUCCESS);
        }
    tt_table_destroy(t);
    return 0;
}

/* fuzz_table.c — libFuzzer harness for the threshold-table loader (tt_table_load_memory and the
 * header reader behind tt_table_select). Each input is loaded as given and once more with its
 * CRC re-sealed, so the fuzzer also reaches the success path and the table's read accessors. */
#include "table_file.h"
#include "toptheta.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A broken promise of the API (no message, *out set on failure, ...) is a finding: trap so that
 * libFuzzer records the input like any crash. */
#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

/* Reads back everything a loaded table holds, as the attention path would. */
static void exercise(const tt_table *t)
{
    tt_table_meta m;
    REQUIRE(tt_table_get_meta(t, &m) == TT_SUCCESS);
    REQUIRE(m.n_layers >= 1 && m.n_heads >= 1);
    for (int l = 0; l < m.n_layers && l < 64; l++) {
        int k = -1;
        REQUIRE(tt_table_get_layer_k(t, l, &k) == TT_SUCCESS && k >= 0);
        for (int h = 0; h < m.n_heads && h < 64; h++) {
            int count = -1;
            REQUIRE(tt_table_get_curve(t, l, h, &count, NULL, NULL, NULL) == TT_SUCCESS);
            REQUIRE(count >= 0);
            static const int ns[] = {1, 2, 17, 1000, 1 << 24, 1 << 30};
            for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
                float th = 0, dh = 0;
                tt_status st = tt_table_lookup(t, l, h, ns[i], &th, &dh);
                REQUIRE(count == 0 ? st == TT_ERR_TABLE_RANGE : st == TT_SUCCESS);
            }
        }
    }
}

static void load_one(const uint8_t *data, size_t size)
{
    tt_table *t = (tt_table *)&t; /* must come back NULL on failure */
    tt_status st = tt_table_load_memory(data, size, &t);
    if (st == TT_SUCCESS) {
        REQUIRE(t != NULL);
        exercise(t);
        tt_table_destroy(t);
    } else {
        REQUIRE(t == NULL);
        REQUIRE(tt_last_error(NULL)[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_table_meta m;
    (void)tt__table_read_header(data, size, &m);
    load_one(data, size);
    if (size >= 8) {
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        uint32_t crc = tt__crc32(copy, size - 4);
        for (int i = 0; i < 4; i++)
            copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        load_one(copy, size);
        free(copy);
    }
    return 0;
}

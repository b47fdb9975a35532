/* table_internal.h — the layout of tt_table, shared by the in-memory table (table.c) and the file
 * reader/writer (table_file.c). */
#ifndef TT_TABLE_INTERNAL_H
#define TT_TABLE_INTERNAL_H

#include "toptheta.h"

#define TT_TABLE_MAX_SAMPLES (1 << 20)

typedef struct tt__curve {
    int count;
    int *ns;
    float *theta;
    float *dhat; /* NULL when the curve has no D̂ samples */
} tt__curve;

struct tt_table {
    tt_table_meta meta;
    int *layer_k;      /* [n_layers]; 0 = layer never thresholded */
    tt__curve *curves; /* [n_layers][n_heads] */
};

#endif

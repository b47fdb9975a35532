/* reference_row.h — the per-row core of the CPU reference (reference.c): given one row of scores,
 * the kept set, its weights and the row's normalisers, exactly as design §1 defines them. Private;
 * shared so that calibration can reuse the same selection and k-th-largest code as the oracle. */
#ifndef TT_REFERENCE_ROW_H
#define TT_REFERENCE_ROW_H

#include "toptheta.h"

/* How a row is selected. Dense keeps every finite score; top-k keeps scores >= the k-th largest
 * finite score; Top-θ keeps x_j > θ with x given by the placement. */
typedef enum tt__row_rule { TT__ROW_DENSE = 0, TT__ROW_TOPK = 1, TT__ROW_THETA = 2 } tt__row_rule;

/* Tile length of the one-pass post-softmax prefill cut (BK of both prefill kernels). */
#define TT__ONEPASS_TILE 32

typedef struct tt__row_spec {
    tt__row_rule rule;
    tt_placement placement; /* Top-θ only */
    tt_sdc sdc;             /* top-k and Top-θ pre / max-relative; ignored for dense and post */
    double lambda;          /* scales D_miss */
    int k;                  /* top-k only */
    double theta;           /* Top-θ only, in the placement's domain */
    double dhat;            /* offline SDC only: D̂ at this (layer, head, n) */
    int n;                  /* the row's real length (exp-threshold SDC counts n - |S|) */
    int onepass_tile;       /* Top-θ post: 0 exact; else the one-pass cut over tiles this long */
} tt__row_spec;

typedef struct tt__row_info {
    double m;       /* max finite score */
    double z;       /* Σ exp(s_j - m) over finite scores */
    double d_kept;  /* D_S */
    double d_miss;  /* D_miss before λ (0 for dense and post) */
    double denom;   /* the weights' denominator: z for dense/post, else D_S + λ·D_miss */
    double cut;     /* the cut on the score axis: top-k and dense the smallest kept score;
                     * Top-θ θ (pre), θ + m (max-relative), m + ln Z + ln θ (post) */
    double p_sum;   /* Σ of the kept weights */
    int n_finite;   /* finite scores in the row */
    int n_kept;     /* |S| */
} tt__row_info;

/* Selects one row. s[0..n) are the scores (non-finite ones are never kept and never counted as
 * dropped); scratch holds n doubles (used by top-k). On return idx[0..n_kept) lists the kept key
 * indices in increasing order and w[t] is the weight of key idx[t]. Returns n_kept, or -1 when
 * the row has no finite score (then nothing is written to idx or w and the caller emits NaN). */
int tt__ref_row(const double *s, int n, const tt__row_spec *spec, double *scratch, int *idx,
                double *w, tt__row_info *info);

/* The k-th largest (1 <= k <= n) of x[0..n), which must all be finite. Reorders x. Expected O(n). */
double tt__ref_kth_largest(double *x, int n, int k);

#endif

/* selftest_cases.c — which cases the selftest sweeps: every variant (mode, placement, SDC, λ,
 * VMC) on decode and prefill, for every KV type, head size {8, 64, 128} and GQA ratio
 * {1, 2, 3, 4, 8} (3: a group that is not a power of two, as in 24 / 8 heads), with row lengths
 * rotating through 1, k, k+1, odd sizes, non-multiples of the work-group size and lengths above
 * 4096, and layouts rotating through head- and token-major. */
#include "selftest_sweep.h"
#include "synth.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    tt_mode mode;
    tt_placement placement;
    tt_sdc sdc;
    float lambda;
    int vmc;
    int onepass; /* post-softmax prefill cut in one pass (checked as a superset of exact) */
} variant;

static const variant variants[] = {
    {"dense", TT_MODE_DENSE, TT_PLACE_PRE, TT_SDC_NONE, 1.0f, 0, 0},
    {"topk", TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_NONE, 1.0f, 0, 0},
    {"topk-exact+vmc", TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXACT, 1.0f, 1, 0},
    {"topk-expth", TT_MODE_TOPK, TT_PLACE_PRE, TT_SDC_EXP_THRESHOLD, 1.0f, 0, 0},
    {"theta-pre", TT_MODE_THETA, TT_PLACE_PRE, TT_SDC_NONE, 1.0f, 0, 0},
    {"theta-pre-exact+vmc", TT_MODE_THETA, TT_PLACE_PRE, TT_SDC_EXACT, 1.0f, 1, 0},
    {"theta-pre-expth", TT_MODE_THETA, TT_PLACE_PRE, TT_SDC_EXP_THRESHOLD, 1.0f, 0, 0},
    {"theta-pre-offline-l0.5", TT_MODE_THETA, TT_PLACE_PRE, TT_SDC_OFFLINE, 0.5f, 0, 0},
    {"theta-post", TT_MODE_THETA, TT_PLACE_POST, TT_SDC_NONE, 1.0f, 0, 0},
    {"theta-post+vmc", TT_MODE_THETA, TT_PLACE_POST, TT_SDC_NONE, 1.0f, 1, 0},
    {"theta-rel-exact", TT_MODE_THETA, TT_PLACE_REL, TT_SDC_EXACT, 1.0f, 0, 0},
    {"theta-rel-expth+vmc-l0.7", TT_MODE_THETA, TT_PLACE_REL, TT_SDC_EXP_THRESHOLD, 0.7f, 1, 0},
    {"theta-post-onepass", TT_MODE_THETA, TT_PLACE_POST, TT_SDC_NONE, 1.0f, 0, 1},
};
#define N_VARIANTS ((int)(sizeof variants / sizeof variants[0]))

int tt_sweep_n_variants(void) { return N_VARIANTS; }

const char *tt_sweep_variant_name(int v)
{
    return v >= 0 && v < N_VARIANTS ? variants[v].name : "?";
}

/* Rotating length choices; k comes from ks. Chosen to hit 1, k, k+1, odd sizes, non-multiples of
 * 64 and lengths past 4096. */
static const int ks[] = {4, 16, 32, 7};
static const int decode_len[] = {1, -1, -2, 37, 63, 65, 129, 257, 1000, 1025, 4097, 300};
static const int prefill_q[] = {1, 5, 17, 33, 64, 70, 3, 29};
static const int prefill_p0[] = {0, -1, -3, 3, 100, 500, 4083, 211};

/* Level 2: a few large cases (long prefill chunks at n = 8192, decode at n = 131072) for GPUs. */
static int big_cases(tt_case *cases, int cap)
{
    static const struct {
        int q_len, kv_len, heads, kv_heads, variant;
    } big[] = {
        {8192, 8192, 1, 1, 0},  {512, 8192, 4, 1, 0},  {512, 8192, 4, 1, 4}, {512, 8192, 4, 1, 8},
        {512, 8192, 4, 1, 10},  {1, 131072, 8, 2, 0},  {1, 131072, 8, 2, 5}, {1, 131072, 8, 2, 9},
        {1, 32768, 32, 8, 2},   {1, 32768, 24, 8, 5},   {512, 8192, 4, 1, 12},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof big / sizeof big[0] && n < cap; i++) {
        tt_case *c = &cases[n++];
        memset(c, 0, sizeof *c);
        c->shape = (tt_attn_shape){1, big[i].heads, big[i].kv_heads, 128, big[i].q_len,
                                   big[i].kv_len, TT_DTYPE_F16};
        const variant *va = &variants[big[i].variant];
        tt_attn_params_init(&c->params);
        c->params.mode = va->mode;
        c->params.placement = va->placement;
        c->params.sdc = va->sdc;
        c->params.sdc_lambda = va->lambda;
        c->params.vmc = va->vmc;
        c->params.post_variant = va->onepass ? TT_POST_ONEPASS : TT_POST_EXACT;
        c->variant = big[i].variant;
        c->k = 64;
        c->params.k = va->mode == TT_MODE_DENSE ? 0 : 64;
        c->use_vsum = va->vmc;
        c->llm_like = 1;
    }
    return n;
}

int tt_sweep_cases(tt_case *cases, int cap, int level)
{
    if (level >= 2)
        return big_cases(cases, cap);
    static const int dims_full[] = {8, 64, 128}, dims_short[] = {64};
    static const int gqa_full[] = {1, 2, 3, 4, 8}, gqa_short[] = {1, 4};
    const int *dims = level ? dims_full : dims_short;
    const int *gqas = level ? gqa_full : gqa_short;
    int nd = level ? 3 : 1, ng = level ? 5 : 2;
    int n = 0, serial = 0;
    for (int dt = 0; dt < 2; dt++)
        for (int di = 0; di < nd; di++)
            for (int gi = 0; gi < ng; gi++)
                for (int v = 0; v < N_VARIANTS; v++)
                    for (int op = 0; op < 2; op++, serial++) {
                        if (!level && v % 2 == 1 && v != 1)
                            continue; /* the short sweep keeps every other variant */
                        if (n >= cap)
                            return n;
                        tt_case *c = &cases[n++];
                        memset(c, 0, sizeof *c);
                        int gqa = gqas[gi];
                        int k = ks[serial % 4];
                        c->shape.batch = serial % 5 == 4 ? 2 : 1;
                        c->shape.n_kv_heads = gqa == 8 ? 1 : 2;
                        c->shape.n_heads = gqa * c->shape.n_kv_heads;
                        c->shape.head_dim = dims[di];
                        c->shape.kv_dtype = dt ? TT_DTYPE_F16 : TT_DTYPE_F32;
                        if (op == 0) {
                            int L = decode_len[(serial / 2) % 12];
                            if (!level && L > 1100)
                                L = 1100;
                            c->shape.q_len = 1;
                            c->shape.kv_len = L == -1 ? k : L == -2 ? k + 1 : L;
                        } else {
                            int qlen = prefill_q[(serial / 2) % 8];
                            int p0 = prefill_p0[(serial / 2 + serial / 16) % 8];
                            if (!level && p0 > 600)
                                p0 = 600;
                            p0 = p0 == -1 ? k - 1 : p0 == -3 ? k : p0;
                            c->shape.q_len = qlen;
                            c->shape.kv_len = p0 + qlen;
                        }
                        const variant *va = &variants[v];
                        tt_attn_params_init(&c->params);
                        c->params.mode = va->mode;
                        c->params.placement = va->placement;
                        c->params.sdc = va->sdc;
                        c->params.sdc_lambda = va->lambda;
                        c->params.vmc = va->vmc;
                        c->params.post_variant = va->onepass ? TT_POST_ONEPASS : TT_POST_EXACT;
                        /* Top-θ alternates between the table's k and an explicit one. */
                        c->params.k = va->mode == TT_MODE_THETA && serial % 3 == 0 ? 0 : k;
                        if (va->mode == TT_MODE_DENSE)
                            c->params.k = 0;
                        c->variant = v;
                        c->k = k;
                        c->token_major = serial % 3 == 1;
                        c->use_vsum = va->vmc && serial % 2 == 0;
                        /* a few with clustered kept keys: packed prefill tiles (prefill.cl) */
                        c->llm_like = serial % 4 == 2   ? 1
                                      : serial % 8 == 3 ? TT_SYNTH_CLUSTERED
                                                        : 0;
                    }
    /* The largest head size (256, as in Gemma) at one GQA ratio: a few variants, both KV types,
     * decode and prefill, since kernels size their private arrays and vectors by it. */
    static const int big_d_variants[] = {0, 4, 8, 12};
    for (int x = 0; level && x < 8 && n < cap; x++) {
        tt_case *c = &cases[n++];
        memset(c, 0, sizeof *c);
        const variant *va = &variants[big_d_variants[x % 4]];
        c->shape = (tt_attn_shape){1, 8, 2, 256, x < 4 ? 1 : 37, x < 4 ? 300 : 107,
                                   (x + x / 4) % 2 ? TT_DTYPE_F16 : TT_DTYPE_F32};
        tt_attn_params_init(&c->params);
        c->params.mode = va->mode;
        c->params.placement = va->placement;
        c->params.sdc = va->sdc;
        c->params.vmc = va->vmc;
        c->params.post_variant = va->onepass ? TT_POST_ONEPASS : TT_POST_EXACT;
        c->variant = big_d_variants[x % 4];
        c->k = 16;
        c->params.k = va->mode == TT_MODE_DENSE ? 0 : 16;
        c->token_major = x % 3 == 1;
        c->llm_like = x % 2;
    }
    return n;
}

void tt_sweep_describe(const tt_case *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "%-7s %s d=%-3d gqa=%d b=%d q=%-3d n=%-5d %-24s%s%s",
             c->shape.q_len == 1 ? "decode" : "prefill",
             c->shape.kv_dtype == TT_DTYPE_F16 ? "f16" : "f32", c->shape.head_dim,
             c->shape.n_heads / c->shape.n_kv_heads, c->shape.batch, c->shape.q_len,
             c->shape.kv_len, tt_sweep_variant_name(c->variant),
             c->token_major ? " token-major" : "", c->use_vsum ? " vsum" : "");
}

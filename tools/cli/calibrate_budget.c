/* calibrate_budget.c — the first pass of `toptheta calibrate --budget F`: a dense run whose sampled
 * rows feed the calib/ budget accumulator, then the per-layer k choice, printed on stderr next to
 * the uniform k of the same budget, so the gain (or its absence) shows before the table pass. */
#include "budget.h"
#include "commands.h"
#include "model/model.h"
#include <stdlib.h>

static int observe(void *user, int layer, int H, int G, int d, int T, int p0, const float *q,
                   const float *k)
{
    (void)H, (void)G, (void)d; /* the accumulator was created with the model's shape */
    return tc_budget_add_qk(user, layer, T, p0, q, k, 0);
}

/* --budget-k (default: the library's list) and --budget-sample into the accumulator's config. */
static int options(int argc, char **argv, tc_budget_config *cfg, int *cands)
{
    const char *spec = cli_opt(argc, argv, "budget-k");
    cfg->cands = spec ? cands : tc_budget_default_k;
    cfg->n_cands = TC_BUDGET_DEFAULT_COUNT;
    if (spec && cli_parse_int_list("budget-k", spec, cands, 64, &cfg->n_cands) != 0)
        return 2;
    cfg->sample_p = cli_opt_double(argc, argv, "budget-sample", 0.02);
    if (!(cfg->sample_p > 0 && cfg->sample_p <= 1)) {
        fprintf(stderr, "error: calibrate: --budget-sample %g outside (0, 1]\n", cfg->sample_p);
        return 2;
    }
    cfg->seed = (uint64_t)cli_opt_long(argc, argv, "seed", 1);
    return 0;
}

/* The choice, one line per layer, then the totals of the choice and of uniform k. */
static void print_choice(const tc_budget_acc *acc, int L, const int *chosen, const int *ks,
                         const cli_budget *b)
{
    uint64_t rows = 0;
    tc_budget_layer_stats(acc, 0, chosen[0], NULL, NULL, &rows);
    fprintf(stderr, "budget %.4g: per-layer k from %llu sampled rows per layer\n", b->budget,
            (unsigned long long)rows);
    for (int l = 0; l < L; l++) {
        double kf = 0, dm = 0;
        tc_budget_layer_stats(acc, l, chosen[l], &kf, &dm, NULL);
        fprintf(stderr, "  layer %d: k %-4d kept %.4f  dropped mass %.5f%s\n", l, chosen[l], kf,
                dm, ks[l] ? "" : "  (covers every row: never thresholded)");
    }
    fprintf(stderr, "  per-layer k: mean kept %.4f, dropped mass %.5f (sum over layers)\n",
            b->kept_frac, b->dropped);
    fprintf(stderr, "  uniform k %d: mean kept %.4f, dropped mass %.5f (sum over layers)\n",
            b->uniform_k, b->uniform_kept_frac, b->uniform_dropped);
}

int cli_calib_budget(int argc, char **argv, tm_runner *r, const tm_tokens *toks, int n_seqs,
                     int longest, int *ks, cli_budget *out)
{
    const tm_config *c = &tm_runner_model(r)->cfg;
    int cands[64], *chosen = calloc((size_t)c->n_layers, sizeof *chosen), rc = 1;
    tc_budget_config cfg = {c->n_layers, c->n_heads, c->n_kv_heads, c->head_size, longest,
                            NULL, 0, 0, 0};
    tc_budget_acc *acc = NULL;
    tc_budget_result res;
    char msg[512];
    if (!chosen) {
        fprintf(stderr, "error: calibrate: out of memory\n");
        return 1;
    }
    if ((rc = options(argc, argv, &cfg, cands)) != 0)
        goto done;
    rc = 1;
    tt_status st = tc_budget_create(&cfg, &acc, msg, sizeof msg);
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: calibrate: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    /* Dense attention: the choice is about what top-k would drop from the model's own rows. */
    tm_runner_set_params(r, NULL);
    if ((st = tm_runner_set_observer(r, observe, acc)) != TT_SUCCESS) {
        fprintf(stderr, "error: runner: %s\n", tm_runner_error(r));
        goto done;
    }
    if (cli_calib_pass(r, toks, n_seqs, "budget", tc_budget_error(acc), NULL) != 0)
        goto done;
    tm_runner_set_observer(r, NULL, NULL);
    if ((st = tc_budget_choose(acc, out->budget, chosen, &res)) != TT_SUCCESS) {
        fprintf(stderr, "error: calibrate: %s: %s\n", tt_status_name(st), tc_budget_error(acc));
        goto done;
    }
    /* A k that covers the longest row keeps everything: the layer stays dense (k = 0), which is
     * also the only way the table pass can represent it (it needs rows with n > k). */
    for (int l = 0; l < c->n_layers; l++)
        ks[l] = chosen[l] >= longest ? 0 : chosen[l];
    out->kept_frac = res.kept_frac, out->dropped = res.dropped;
    out->uniform_k = res.uniform_k;
    out->uniform_kept_frac = res.uniform_kept_frac, out->uniform_dropped = res.uniform_dropped;
    print_choice(acc, c->n_layers, chosen, ks, out);
    rc = 0;
done:
    tm_runner_set_observer(r, NULL, NULL);
    tc_budget_destroy(acc);
    free(chosen);
    return rc;
}

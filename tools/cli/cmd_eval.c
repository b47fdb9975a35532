/* cmd_eval.c — `toptheta eval`: teacher-forced perplexity of a model on a token file with the
 * chosen attention mode, plus top-1 agreement and KL against dense and the kept / V-row fractions.
 * It also holds the attention-option and runner setup that `generate` shares (cli_model_params,
 * cli_model_runner), so both subcommands accept the same mode options with the same meaning. */
#include "commands.h"
#include "common/blocks.h"
#include "model/model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* Index of s in the NULL-terminated names, or -1 with a message naming the option. */
static int pick(const char *opt, const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i]))
            return i;
    fprintf(stderr, "error: --%s: unknown value '%s' (one of:", opt, s);
    for (int i = 0; names[i]; i++)
        fprintf(stderr, " %s", names[i]);
    fprintf(stderr, ")\n");
    return -1;
}

/* --mode --k --layer-k --placement --sdc --lambda --vmc --post --table → one tt_attn_params per
 * layer. Returns 0 on success (the caller destroys *table), else an exit code after a message. */
int cli_model_params(int argc, char **argv, int n_layers, tt_attn_params *params,
                     tt_table **table)
{
    static const char *const modes[] = {"dense", "topk", "theta", NULL};
    static const char *const places[] = {"pre", "post", "rel", NULL};
    static const char *const sdcs[] = {"none", "exact", "exp-threshold", "offline", NULL};
    static const char *const posts[] = {"exact", "onepass", NULL};
    tt_attn_params p;
    tt_attn_params_init(&p);
    *table = NULL;
    const char *s = cli_opt(argc, argv, "mode");
    int mode = pick("mode", s ? s : "dense", modes);
    if (mode < 0)
        return 2;
    p.mode = (tt_mode)mode;
    const char *tpath = cli_opt(argc, argv, "table");
    if (tpath) {
        tt_status st = tt_table_load(tpath, table);
        if (st != TT_SUCCESS)
            return cli_error(tpath, st, NULL);
    }
    if (p.mode == TT_MODE_THETA && !*table) {
        fprintf(stderr, "error: --mode theta needs --table FILE\n");
        return 2;
    }
    long k = cli_opt_long(argc, argv, "k", 0);
    const char *lk = cli_opt(argc, argv, "layer-k");
    if (lk && p.mode != TT_MODE_TOPK) { /* Top-θ takes its per-layer k from the table */
        fprintf(stderr, "error: --layer-k applies to --mode topk only\n");
        return 2;
    }
    if (k < 0 || k > 1 << 30 || (p.mode == TT_MODE_TOPK && k < 1 && !lk)) {
        fprintf(stderr, "error: --k %ld: top-k needs k >= 1 (Top-theta: 0 = table's k)\n", k);
        return 2;
    }
    p.k = (int)k;
    /* Top-θ defaults to the table's own placement, since a table is calibrated for one. */
    tt_table_meta meta;
    if (*table && tt_table_get_meta(*table, &meta) == TT_SUCCESS)
        p.placement = meta.placement;
    if ((s = cli_opt(argc, argv, "placement"))) {
        int v = pick("placement", s, places);
        if (v < 0)
            return 2;
        p.placement = (tt_placement)v;
    }
    if ((s = cli_opt(argc, argv, "sdc"))) {
        int v = pick("sdc", s, sdcs);
        if (v < 0)
            return 2;
        p.sdc = (tt_sdc)v;
    }
    if ((s = cli_opt(argc, argv, "post"))) {
        int v = pick("post", s, posts);
        if (v < 0)
            return 2;
        p.post_variant = (tt_post_variant)v;
    }
    double lambda = cli_opt_double(argc, argv, "lambda", 1.0);
    if (!isfinite(lambda) || lambda < 0) {
        fprintf(stderr, "error: --lambda must be finite and >= 0\n");
        return 2;
    }
    p.sdc_lambda = (float)lambda;
    p.vmc = cli_flag(argc, argv, "vmc");
    p.table = *table;
    tm_params_per_layer(&p, params, n_layers);
    if (lk) { /* per-layer top-k over --k (layers given neither stay dense, as with k = 0) */
        int *ks = malloc(sizeof(int) * (size_t)n_layers);
        if (!ks || cli_parse_layer_k("layer-k", lk, k, n_layers, ks) != 0) {
            if (!ks)
                fprintf(stderr, "error: out of memory\n");
            free(ks);
            return 2;
        }
        for (int l = 0; l < n_layers; l++) {
            params[l].k = ks[l];
            params[l].mode = ks[l] > 0 ? TT_MODE_TOPK : TT_MODE_DENSE;
        }
        free(ks);
    }
    return 0;
}

/* --backend --kv --device → a runner (and, for the device backend, a context). */
int cli_model_runner(int argc, char **argv, const tm_model *m, int collect_stats, int max_chunk,
                     tt_context **ctx, tm_runner **runner)
{
    static const char *const backends[] = {"device", "reference", NULL};
    static const char *const kvs[] = {"f32", "f16", NULL};
    const char *s = cli_opt(argc, argv, "backend");
    int b = pick("backend", s ? s : "device", backends);
    s = cli_opt(argc, argv, "kv");
    int kv = pick("kv", s ? s : "f32", kvs);
    if (b < 0 || kv < 0)
        return 2;
    *ctx = NULL;
    if (b == TM_BACKEND_DEVICE && !(*ctx = cli_context(argc, argv)))
        return 1;
    tm_runner_config rc = {(tm_backend)b, *ctx, (tt_dtype)kv, 0, max_chunk, collect_stats};
    tt_status st = tm_runner_create(m, &rc, runner);
    if (st != TT_SUCCESS) {
        int code = cli_error("runner", st, *ctx);
        tt_context_destroy(*ctx);
        *ctx = NULL;
        return code;
    }
    return 0;
}

static void progress(void *user, int done, int total, double nll)
{
    (void)user;
    fprintf(stderr, "eval: %d/%d sequences, running ppl %.6f\n", done, total, exp(nll));
}

/* JSON has no NaN/Inf: print null instead. */
static void jnum(const char *key, double v, const char *sep)
{
    if (isfinite(v))
        printf("\"%s\":%.9g%s", key, v, sep);
    else
        printf("\"%s\":null%s", key, sep);
}

static void report(const tm_eval_result *r, int json, int verbose, double secs,
                   const tt_blk_observer *blocks)
{
    if (json) {
        printf("{");
        jnum("ppl", r->ppl, ",");
        jnum("nll", r->nll, ",");
        jnum("top1_agree", r->top1_agree, ",");
        jnum("kl", r->kl, ",");
        jnum("kept_frac", r->kept_frac, ",");
        jnum("vrow_frac", r->vrow_frac, ",");
        printf("\"tokens\":%ld,\"seqs\":%d,", r->tokens, r->seqs);
        jnum("dense_ppl", exp(r->dense_nll), ",");
        jnum("seconds", secs, verbose || blocks ? "," : "");
        if (blocks) {
            cli_blocks_report(blocks, 1);
            printf("%s", verbose ? "," : "");
        }
        if (verbose) {
            printf("\"layers\":[");
            for (int l = 0; l < r->n_layers; l++) {
                const tm_eval_layer *e = &r->layers[l];
                printf("{\"layer\":%d,", l);
                jnum("kept_frac", e->kept_frac, ",");
                jnum("vrow_frac", e->vrow_frac, ",");
                printf("\"kept\":%llu,\"vrows\":%llu,\"len_sum\":%llu}%s",
                       (unsigned long long)e->stats.kept, (unsigned long long)e->stats.vrows,
                       (unsigned long long)e->stats.len_sum, l + 1 < r->n_layers ? "," : "");
            }
            printf("]");
        }
        printf("}\n");
        return;
    }
    double dppl = exp(r->dense_nll);
    printf("perplexity  %.6f  (dense %.6f, %+.3f %%)\n", r->ppl, dppl, 100.0 * (r->ppl / dppl - 1));
    printf("mean_nll    %.6f\n", r->nll);
    printf("top1_agree  %.6f\n", r->top1_agree);
    printf("kl          %.6g\n", r->kl);
    printf("kept_frac   %.6f\n", r->kept_frac);
    printf("vrow_frac   %.6f\n", r->vrow_frac);
    printf("tokens      %ld  (%d sequences, %.2f s)\n", r->tokens, r->seqs, secs);
    if (verbose)
        for (int l = 0; l < r->n_layers; l++) {
            const tm_eval_layer *e = &r->layers[l];
            printf("layer %d: kept_frac %.6f vrow_frac %.6f (kept %llu, vrows %llu, rows %llu)\n",
                   l, e->kept_frac, e->vrow_frac, (unsigned long long)e->stats.kept,
                   (unsigned long long)e->stats.vrows, (unsigned long long)e->stats.rows);
        }
    if (blocks)
        cli_blocks_report(blocks, 0);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: toptheta eval --model M (--tokens T | --text FILE [--ctx N] [--stride S]\n"
            "       [--range A:B]) [--table FILE] --mode dense|topk|theta\n"
            "       [--k K] [--layer-k 0:128,1:64] [--placement pre|post|rel]\n"
            "       [--sdc none|exact|exp-threshold|offline]\n"
            "       [--lambda L] [--vmc] [--post exact|onepass] [--kv f32|f16] [--chunk N]\n"
            "       [--max-seqs N] [--json] [--verbose] [--device SEL]\n"
            "       [--backend device|reference] [--blocks]\n"
            "--layer-k (topk): k per layer over --k, e.g. the choice of calibrate --budget;\n"
            "a layer with k 0 (or without --k and not listed) stays dense.\n"
            "--text (GGUF models): the file tokenised by the model's tokenizer, cut into windows\n"
            "of --ctx tokens (default: the model's context) starting every --stride tokens\n"
            "(default: --ctx, disjoint); later windows score only their last stride tokens, so\n"
            "each token is scored once (strided perplexity). --range A:B takes the part of the\n"
            "file between byte fractions A and B, cut on a token boundary (0:0.8, 0.8:1).\n"
            "--blocks: also count the (query tile x 16-key block) pieces of the prefill kernel\n"
            "that hold a kept score of the mode (what a tensor-core P.V still multiplies),\n"
            "per layer, on the host (slow: every score row again).\n");
}

int cmd_eval(int argc, char **argv)
{
    static const char *const known[] = {"model", "tokens", "table", "mode", "k", "layer-k",
                                        "placement", "sdc", "lambda", "vmc", "post", "kv",
                                        "chunk", "max-seqs", "json", "verbose", "device",
                                        "backend", "text", "ctx", "stride", "range", "help",
                                        "blocks", NULL};
    if (cli_flag(argc, argv, "help")) {
        usage();
        return 0;
    }
    if (!cli_check_options(argc, argv, known, "eval"))
        return 2;
    const char *mpath = cli_opt(argc, argv, "model"), *tpath = cli_opt(argc, argv, "tokens");
    if (!mpath || !tpath == !cli_opt(argc, argv, "text")) { /* exactly one of --tokens, --text */
        usage();
        return 2;
    }
    long chunk = cli_opt_long(argc, argv, "chunk", 0);
    long max_seqs = cli_opt_long(argc, argv, "max-seqs", 0);
    if (chunk < 0 || chunk > 1 << 20 || max_seqs < 0 || max_seqs > 1 << 30) {
        fprintf(stderr, "error: --chunk and --max-seqs must be >= 0 (0 = whole / all)\n");
        return 2;
    }
    int json = cli_flag(argc, argv, "json"), verbose = cli_flag(argc, argv, "verbose");
    char msg[1024];
    tm_model *m = NULL;
    tm_tokens *toks = NULL;
    tt_table *table = NULL;
    tt_context *ctx = NULL;
    tm_runner *r = NULL;
    tt_attn_params *params = NULL;
    tt_blk_observer *blocks = NULL;
    int rc = 1;
    tt_status st = tm_model_open(mpath, &m, msg, sizeof msg); /* llama2.c or GGUF */
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: model: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    if (!tpath) {
        if ((rc = cli_text_tokens(argc, argv, m, &toks)) != 0)
            goto done;
        rc = 1;
    } else
        st = tm_tokens_load(tpath, m->cfg.vocab_size, &toks, msg, sizeof msg);
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: tokens: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    params = calloc((size_t)m->cfg.n_layers, sizeof *params);
    if (!params)
        goto done;
    if ((rc = cli_model_params(argc, argv, m->cfg.n_layers, params, &table)) != 0)
        goto done;
    if ((rc = cli_model_runner(argc, argv, m, 1, (int)chunk, &ctx, &r)) != 0)
        goto done;
    if (cli_flag(argc, argv, "blocks")) {
        if (!(blocks = tt_blk_observer_create(m->cfg.n_layers, params)) ||
            tm_runner_set_observer(r, tt_blk_observe, blocks) != TT_SUCCESS) {
            fprintf(stderr, "error: --blocks: out of host memory\n");
            goto done;
        }
    }
    tm_eval_config ec = {params, (int)chunk, (int)max_seqs, verbose ? progress : NULL, NULL};
    tm_eval_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = tm_eval(r, toks, &ec, &res, msg, sizeof msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: eval: %s: %s\n", tt_status_name(st), msg);
        rc = 1;
        goto done;
    }
    report(&res, json, verbose, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec),
           blocks);
    tm_eval_result_free(&res);
    rc = 0;
done:
    tm_runner_destroy(r);
    tt_blk_observer_destroy(blocks);
    tt_context_destroy(ctx);
    tt_table_destroy(table);
    free(params);
    tm_tokens_free(toks);
    tm_model_free(m);
    return rc;
}

/* cmd_calibrate.c — `toptheta calibrate`: runs a model over a token file, feeds every layer's score
 * rows (observed before that layer's attention, optionally with top-k at calibration) to the calib/
 * accumulator, and writes the threshold table (and an SVG of θ(n)) only once everything succeeded,
 * each atomically, so a failed or interrupted run leaves no partial output. With --budget a first
 * pass (calibrate_budget.c) chooses the per-layer k. */
#include "calib.h"
#include "fit.h"
#include "commands.h"
#include "model/model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_write_atomic(const char *path, const void *data, size_t len); /* cmd_table.c */
int cli_fit_options(int argc, char **argv, const char *to_opt, tc_fit_config *c); /* table_fit.c */
int cli_fit_apply(tt_table **t, const tc_fit_config *c, int json);

static void usage(void)
{
    fprintf(stderr,
            "usage: toptheta calibrate --model M --tokens T (--k K [--layer-k 0:128,1:64] |\n"
            "       --budget F [--budget-k 16,32,...] [--budget-sample P]) --out FILE\n"
            "       [--placement pre|post|rel] [--sigma C] [--tac]\n"
            "       [--tac-sdc none|exact] [--sample P] [--every R] [--seed S] [--smooth W]\n"
            "       [--max-seqs N] [--plot FILE.svg] [--kv f32|f16] [--json] [--device SEL]\n"
            "       [--backend device|reference] [--fit [--fit-to N] [--per-octave P]]\n"
            "theta = mean + C * std of the (k+1)-th largest x per (layer, head, n); C defaults to\n"
            "0 (the reference numbers use 0; the paper's default is C = 0.1). --layer-k overrides\n"
            "--k per layer (k <= 0: never thresholded). --tac runs exact top-k in every layer\n"
            "while calibrating (no compensation unless --tac-sdc exact). --sample keeps each row\n"
            "with probability P, --every every R-th row of each (layer, head, n); --smooth\n"
            "averages W neighbouring lengths. D-hat (offline SDC) curves are always stored.\n"
            "--budget F chooses k per layer instead: a first dense pass samples rows with\n"
            "probability P (default 0.02; --seed) and measures, for every candidate k (default\n"
            "16,24,32,48,64,96,128,192,256,384,512), the softmax mass top-k drops and the\n"
            "elements it keeps; more k goes to the layers where it removes the most dropped mass\n"
            "per kept element, while the mean kept fraction over layers stays <= F. The choice\n"
            "and the uniform k with the same budget are printed; then the table is calibrated\n"
            "with that k per layer, as if --layer-k had been given.\n"
            "--fit stores each curve as the means of its samples at P knots per octave of n\n"
            "(default 4) instead of one sample per length; --fit-to N also extends it to length\n"
            "N along the tail fitted on its last two octaves (as `toptheta table fit --to N`).\n");
}

typedef struct progress {
    int tty, last_pct;
    struct timespec t0;
    const char *label;
} progress;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* A bar redrawn in place on a terminal; in a log, one line per 10 %. */
static void show_progress(progress *pg, int done, int total)
{
    double el = since(&pg->t0), eta = done ? el / done * (total - done) : 0;
    int pct = total ? 100 * done / total : 100;
    if (!pg->tty && done < total && pct / 10 == pg->last_pct / 10)
        return;
    pg->last_pct = pct;
    char bar[31];
    int fill = total ? 30 * done / total : 30;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "%s%s [%s] %d/%d sequences  %3d%%  elapsed %.0fs  ETA %.0fs%s",
            pg->tty ? "\r" : "", pg->label, bar, done, total, pct, el, eta,
            pg->tty && done < total ? "" : "\n");
    fflush(stderr);
}

int cli_calib_pass(tm_runner *r, const tm_tokens *toks, int n_seqs, const char *label,
                   const char *why, int *truncated)
{
    int max_seq = tm_runner_get_config(r)->max_seq;
    progress pg = {isatty(2), -100, {0, 0}, label};
    clock_gettime(CLOCK_MONOTONIC, &pg.t0);
    show_progress(&pg, 0, n_seqs);
    for (int s = 0; s < n_seqs; s++) {
        int n = toks->len[s] < max_seq ? toks->len[s] : max_seq;
        if (truncated)
            *truncated += toks->len[s] > max_seq;
        tm_runner_reset(r);
        tt_status st = tm_forward(r, toks->seq[s], n, NULL, 0);
        if (st != TT_SUCCESS) {
            fprintf(stderr, "\nerror: sequence %d: %s: %s%s%s\n", s + 1, tt_status_name(st),
                    tm_runner_error(r), *why ? ": " : "", why);
            return 1;
        }
        show_progress(&pg, s + 1, n_seqs);
    }
    return 0;
}

/* The runner's observer: every score row of the layer goes to the accumulator. */
static int observe(void *user, int layer, int H, int G, int d, int T, int p0, const float *q,
                   const float *k)
{
    (void)H, (void)G, (void)d; /* the accumulator was created with the model's shape */
    return tc_add_qk(user, layer, T, p0, q, k, 0);
}

static const char *const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                     "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

/* One panel per layer (3 per row), one polyline per head, axes with labels; hand-written SVG. */
static void write_svg(FILE *f, const tt_table *t, const char *title)
{
    tt_table_meta m;
    tt_table_get_meta(t, &m);
    int L = m.n_layers, H = m.n_heads, cols = L < 3 ? L : 3, rows = (L + cols - 1) / cols;
    const int PW = 340, PH = 240, ML = 62, MR = 12, MT = 28, MB = 40, TOP = 48;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" "
               "height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" font-size=\"14\">",
            cols * PW, TOP + rows * PH);
    for (const char *c = title; *c; c++) { /* escape what XML needs */
        if (*c == '<' || *c == '>' || *c == '&')
            fputs(*c == '<' ? "&lt;" : *c == '>' ? "&gt;" : "&amp;", f);
        else
            fputc(*c, f);
    }
    fprintf(f, "</text>\n");
    for (int h = 0; h < H; h++) /* legend: heads */
        fprintf(f, "<text x=\"%d\" y=\"38\" fill=\"%s\">head %d</text>\n", 10 + 60 * h,
                colors[h % 8], h);
    for (int l = 0; l < L; l++) {
        int x0 = (l % cols) * PW + ML, y0 = TOP + (l / cols) * PH + MT;
        int w = PW - ML - MR, hgt = PH - MT - MB, k = 0, nmax = 1;
        tt_table_get_layer_k(t, l, &k);
        double lo = INFINITY, hi = -INFINITY;
        for (int h = 0; h < H; h++) { /* the panel's ranges */
            int c = 0;
            tt_table_get_curve(t, l, h, &c, NULL, NULL, NULL);
            int *ns = malloc(sizeof(int) * (size_t)(c + 1));
            float *th = malloc(sizeof(float) * (size_t)(c + 1));
            if (ns && th && tt_table_get_curve(t, l, h, &c, ns, th, NULL) == TT_SUCCESS)
                for (int i = 0; i < c; i++) {
                    lo = th[i] < lo ? th[i] : lo, hi = th[i] > hi ? th[i] : hi;
                    nmax = ns[i] > nmax ? ns[i] : nmax;
                }
            free(ns), free(th);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">layer %d (k = %d)</text>\n", x0,
                y0 - 8, l, k);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                   "stroke=\"#444\"/>\n", x0, y0, w, hgt);
        if (!(lo <= hi)) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#888\">not thresholded</text>\n",
                    x0 + w / 3, y0 + hgt / 2);
            continue;
        }
        if (hi - lo < 1e-12 * (fabs(hi) + 1e-30))
            lo -= 0.5 * fabs(lo) + 1e-9, hi += 0.5 * fabs(hi) + 1e-9;
        for (int i = 0; i <= 2; i++) { /* ticks: ends and middle of both axes */
            double v = lo + (hi - lo) * i / 2;
            int yy = y0 + hgt - hgt * i / 2, xx = x0 + w * i / 2;
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n", x0 - 4,
                    yy + 4, v);
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", xx,
                    y0 + hgt + 14, 1 + (nmax - 1) * i / 2);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">row length n</text>\n",
                x0 + w / 2, y0 + hgt + 30);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d "
                   "%d)\">theta (%s)</text>\n", x0 - 48, y0 + hgt / 2, x0 - 48, y0 + hgt / 2,
                m.placement == TT_PLACE_PRE    ? "pre"
                : m.placement == TT_PLACE_POST ? "post"
                                               : "rel");
        for (int h = 0; h < H; h++) {
            int c = 0;
            tt_table_get_curve(t, l, h, &c, NULL, NULL, NULL);
            int *ns = malloc(sizeof(int) * (size_t)(c + 1));
            float *th = malloc(sizeof(float) * (size_t)(c + 1));
            if (c && ns && th && tt_table_get_curve(t, l, h, &c, ns, th, NULL) == TT_SUCCESS) {
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1\" points=\"",
                        colors[h % 8]);
                for (int i = 0; i < c; i++)
                    fprintf(f, "%.1f,%.1f ", x0 + w * (double)(ns[i] - 1) / (nmax - 1 + (nmax < 2)),
                            y0 + hgt - hgt * (th[i] - lo) / (hi - lo));
                fprintf(f, "\"/>\n");
            }
            free(ns), free(th);
        }
    }
    fprintf(f, "</svg>\n");
}

/* "key":"value" with the JSON escapes a path may need (NULL prints null). */
static void jpath(const char *key, const char *v)
{
    printf("\"%s\":", key);
    if (!v) {
        printf("null");
        return;
    }
    putchar('"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            printf("\\%c", *v);
        else if ((unsigned char)*v < 0x20)
            printf("\\u%04x", (unsigned char)*v);
        else
            putchar(*v);
    }
    putchar('"');
}

/* Summary: per layer k, rows offered / sampled and the θ range; then the output path. */
static void summary(const tc_acc *acc, const tt_table *t, const char *out, const char *plot,
                    int json, int seqs, double secs, const cli_budget *b)
{
    tt_table_meta m;
    tt_table_get_meta(t, &m);
    for (int l = 0; l < m.n_layers; l++) {
        uint64_t off = 0, smp = 0;
        int k = 0;
        tc_layer_counts(acc, l, &off, &smp);
        tt_table_get_layer_k(t, l, &k);
        float lo = INFINITY, hi = -INFINITY;
        for (int h = 0; h < m.n_heads; h++) {
            int c = 0;
            tt_table_get_curve(t, l, h, &c, NULL, NULL, NULL);
            float *th = malloc(sizeof(float) * (size_t)(c + 1));
            if (th && tt_table_get_curve(t, l, h, &c, NULL, th, NULL) == TT_SUCCESS)
                for (int i = 0; i < c; i++)
                    lo = th[i] < lo ? th[i] : lo, hi = th[i] > hi ? th[i] : hi;
            free(th);
        }
        if (json)
            printf("{\"layer\":%d,\"k\":%d,\"rows_offered\":%llu,\"rows_sampled\":%llu,"
                   "\"theta_min\":%.9g,\"theta_max\":%.9g}\n", l, k, (unsigned long long)off,
                   (unsigned long long)smp, k ? lo : 0.0, k ? hi : 0.0);
        else if (k)
            printf("layer %d: k %-4d rows sampled %llu of %llu, theta %.6g .. %.6g\n", l, k,
                   (unsigned long long)smp, (unsigned long long)off, lo, hi);
        else
            printf("layer %d: never thresholded (k = 0)\n", l);
    }
    if (json) {
        printf("{");
        jpath("out", out);
        printf(",");
        jpath("plot", plot);
        printf(",\"seqs\":%d,\"samples\":%llu,\"tac\":%d,\"token_hash\":\"%s\","
               "\"seconds\":%.3f", seqs, (unsigned long long)m.samples, m.tac, m.token_hash, secs);
        if (b) { /* the per-layer k of the choice, as stored in the table */
            printf(",\"budget\":%.9g,\"layer_k\":[", b->budget);
            for (int l = 0; l < m.n_layers; l++) {
                int k = 0;
                tt_table_get_layer_k(t, l, &k);
                printf("%s%d", l ? "," : "", k);
            }
            printf("],\"budget_kept\":%.9g,\"budget_dropped\":%.9g,\"uniform_k\":%d,"
                   "\"uniform_kept\":%.9g,\"uniform_dropped\":%.9g", b->kept_frac, b->dropped,
                   b->uniform_k, b->uniform_kept_frac, b->uniform_dropped);
        }
        printf("}\n");
    } else {
        printf("wrote %s (%d sequences, %llu rows per head at most, %.1f s)\n", out, seqs,
               (unsigned long long)m.samples, secs);
        if (plot)
            printf("wrote %s\n", plot);
    }
}

int cmd_calibrate(int argc, char **argv)
{
    static const char *const known[] = {"model", "tokens", "k", "layer-k", "placement", "sigma",
                                        "tac", "tac-sdc", "sample", "every", "seed", "smooth",
                                        "max-seqs", "plot", "kv", "device", "backend", "json",
                                        "out", "help", "text", "ctx", "stride", "range",
                                        "budget", "budget-k", "budget-sample", "fit", "fit-to",
                                        "per-octave", NULL};
    if (cli_flag(argc, argv, "help"))
        return usage(), 0;
    if (!cli_check_options(argc, argv, known, "calibrate"))
        return 2;
    const char *mpath = cli_opt(argc, argv, "model"), *tpath = cli_opt(argc, argv, "tokens");
    const char *out = cli_opt(argc, argv, "out"), *plot = cli_opt(argc, argv, "plot");
    const char *pl = cli_opt(argc, argv, "placement"), *tsdc = cli_opt(argc, argv, "tac-sdc");
    const char *kv = cli_opt(argc, argv, "kv");
    long kdef = cli_opt_long(argc, argv, "k", 0);
    long max_seqs = cli_opt_long(argc, argv, "max-seqs", 0);
    long every = cli_opt_long(argc, argv, "every", 1);
    long smooth = cli_opt_long(argc, argv, "smooth", 0);
    long seed = cli_opt_long(argc, argv, "seed", 1);
    double sigma = cli_opt_double(argc, argv, "sigma", 0.0);
    double sample = cli_opt_double(argc, argv, "sample", 1.0);
    int json = cli_flag(argc, argv, "json"), tac = cli_flag(argc, argv, "tac");
    const char *text = cli_opt(argc, argv, "text"), *lk = cli_opt(argc, argv, "layer-k");
    int use_budget = cli_opt(argc, argv, "budget") != NULL;
    double budget = cli_opt_double(argc, argv, "budget", 0);
    if (use_budget && (cli_opt(argc, argv, "k") || lk))
        return fprintf(stderr, "error: calibrate: --budget chooses k per layer; it cannot be "
                       "combined with --k or --layer-k\n"), 2;
    if (use_budget && !(budget > 0 && budget <= 1))
        return fprintf(stderr, "error: calibrate: --budget %g: the mean kept fraction must be in "
                       "(0, 1]\n", budget), 2;
    if (!use_budget && (cli_opt(argc, argv, "budget-k") || cli_opt(argc, argv, "budget-sample")))
        return fprintf(stderr, "error: calibrate: --budget-k and --budget-sample need --budget\n"),
               2;
    if (!mpath || !tpath == !text || !out || (kdef < 1 && !lk && !use_budget))
        return usage(), 2;
    int place = !pl || !strcmp(pl, "pre") ? 0
                : !strcmp(pl, "post")       ? 1
                : !strcmp(pl, "rel")        ? 2
                                            : -1;
    int tac_sdc = !tsdc || !strcmp(tsdc, "none") ? 0 : !strcmp(tsdc, "exact") ? 1 : -1;
    if (place < 0 || tac_sdc < 0 || !isfinite(sigma) || !(sample > 0 && sample <= 1) ||
        every < 1 || smooth < 0 || max_seqs < 0 || kdef > 1 << 24)
        return fprintf(stderr, "error: calibrate: bad --placement, --tac-sdc, --sigma, --sample "
                       "(0 < P <= 1), --every (>= 1), --smooth, --max-seqs or --k\n"), 2;
    int fit = cli_flag(argc, argv, "fit") || cli_opt(argc, argv, "fit-to");
    tc_fit_config fitc;
    if (!fit && cli_opt(argc, argv, "per-octave"))
        return fprintf(stderr, "error: calibrate: --per-octave needs --fit\n"), 2;
    if (fit && cli_fit_options(argc, argv, "fit-to", &fitc) != 0)
        return 2;
    char msg[1024];
    tm_model *m = NULL;
    tm_tokens *toks = NULL;
    tt_context *ctx = NULL;
    tm_runner *r = NULL;
    tc_acc *acc = NULL;
    tt_table *table = NULL;
    int *ks = NULL, rc = 1;
    tt_attn_params *params = NULL;
    char *svg = NULL;
    size_t svg_len = 0;
    tt_status st = tm_model_open(mpath, &m, msg, sizeof msg);
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: model: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    const tm_config *c = &m->cfg;
    if (!tpath) { /* --text: tokenised and cut into windows (use stride = ctx here: overlapping
                   * windows would observe the same rows twice) */
        if ((rc = cli_text_tokens(argc, argv, m, &toks)) != 0)
            goto done;
        rc = 1;
    } else if ((st = tm_tokens_load(tpath, c->vocab_size, &toks, msg, sizeof msg)) != TT_SUCCESS) {
        fprintf(stderr, "error: tokens: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    ks = calloc((size_t)c->n_layers, sizeof *ks);
    params = calloc((size_t)c->n_layers, sizeof *params);
    if (!ks || !params) {
        fprintf(stderr, "error: calibrate: out of memory\n");
        goto done;
    }
    if ((rc = cli_parse_layer_k("layer-k", lk, kdef, c->n_layers, ks)) != 0)
        goto done;
    rc = 1;
    tc_config cfg;
    memset(&cfg, 0, sizeof cfg);
    tt_table_meta *mt = &cfg.meta;
    mt->placement = (tt_placement)place;
    mt->sigma = (float)sigma;
    mt->score_precision = kv && !strcmp(kv, "f16") ? 16 : 32;
    mt->n_layers = c->n_layers, mt->n_heads = c->n_heads;
    mt->n_kv_heads = c->n_kv_heads, mt->head_dim = c->head_size;
    const char *base = strrchr(mpath, '/') ? strrchr(mpath, '/') + 1 : mpath;
    snprintf(mt->model_name, sizeof mt->model_name, "%.63s", base);
    mt->tac = tac;
    if ((st = tc_sha256_file(tpath ? tpath : text, mt->token_hash)) != TT_SUCCESS) {
        fprintf(stderr, "error: %s: cannot hash the token file\n", tpath ? tpath : text);
        goto done;
    }
    char mhex[65]; /* model identity: the first 64 bits of the weight file's SHA-256 */
    if (tc_sha256_file(mpath, mhex) == TT_SUCCESS) {
        mhex[16] = '\0';
        mt->model_hash = (uint64_t)strtoull(mhex, NULL, 16);
    }
    cfg.layer_k = ks;
    cfg.max_n = c->seq_len;
    for (int i = 0; i < toks->n_seqs; i++) /* rows never exceed the longest window */
        cfg.max_n = i == 0 || toks->len[i] > cfg.max_n ? toks->len[i] : cfg.max_n;
    cfg.sample_p = sample, cfg.sample_every = (int)every, cfg.seed = (uint64_t)seed;
    cfg.smooth = (int)smooth;
    cfg.dhat = 1;
    if ((rc = cli_model_runner(argc, argv, m, 0, 0, &ctx, &r)) != 0)
        goto done;
    rc = 1;
    int n_seqs = max_seqs > 0 && max_seqs < toks->n_seqs ? (int)max_seqs : toks->n_seqs;
    int max_seq = tm_runner_get_config(r)->max_seq, truncated = 0;
    cli_budget choice = {budget, 0, 0, 0, 0, 0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (use_budget) { /* fills ks before the accumulator copies them */
        int longest = 1; /* the longest row the passes will see */
        for (int s = 0; s < n_seqs; s++)
            longest = toks->len[s] > longest ? toks->len[s] : longest;
        longest = longest < max_seq ? longest : max_seq;
        if ((rc = cli_calib_budget(argc, argv, r, toks, n_seqs, longest, ks, &choice)) != 0)
            goto done;
        rc = 1;
    }
    if ((st = tc_create(&cfg, &acc, msg, sizeof msg)) != TT_SUCCESS) {
        fprintf(stderr, "error: calibrate: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    for (int l = 0; l < c->n_layers; l++) { /* dense, or exact top-k everywhere under TAC */
        tt_attn_params_init(&params[l]);
        params[l].layer = l;
        if (tac && ks[l] > 0) {
            params[l].mode = TT_MODE_TOPK;
            params[l].k = ks[l];
            params[l].sdc = tac_sdc ? TT_SDC_EXACT : TT_SDC_NONE;
        }
    }
    tm_runner_set_params(r, params);
    if ((st = tm_runner_set_observer(r, observe, acc)) != TT_SUCCESS) {
        fprintf(stderr, "error: runner: %s\n", tm_runner_error(r));
        goto done;
    }
    if (cli_calib_pass(r, toks, n_seqs, "calibrate", tc_error(acc), &truncated) != 0)
        goto done;
    if (truncated)
        fprintf(stderr, "note: %d sequences longer than the context %d were truncated\n",
                truncated, max_seq);
    if ((st = tc_finish(acc, &table)) != TT_SUCCESS) {
        fprintf(stderr, "error: calibrate: %s: %s\n", tt_status_name(st), tc_error(acc));
        goto done;
    }
    if (fit && cli_fit_apply(&table, &fitc, 0) != 0)
        goto done;
    if (plot) { /* rendered before anything is written, so a failure writes nothing */
        FILE *f = open_memstream(&svg, &svg_len);
        char title[256];
        snprintf(title, sizeof title, "%s: theta(n), %s-softmax, sigma %g, %d sequences%s",
                 mt->model_name, place == 0 ? "pre" : place == 1 ? "post" : "max-relative",
                 sigma, n_seqs, tac ? ", TAC" : "");
        if (f)
            write_svg(f, table, title);
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "error: calibrate: cannot render the plot (out of memory)\n");
            goto done;
        }
    }
    /* All or nothing, and nothing the user had is lost: the plot goes to a temp file beside its
     * target first, the table is saved atomically, and only then is the plot renamed into place. */
    char plot_tmp[4200] = "";
    if (plot) {
        snprintf(plot_tmp, sizeof plot_tmp, "%s.tmp.XXXXXX", plot);
        int fd = mkstemp(plot_tmp);
        FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        int ok = f && fwrite(svg, 1, svg_len, f) == svg_len && fflush(f) == 0 && fsync(fd) == 0;
        if (f ? fclose(f) != 0 : (fd >= 0 && close(fd) != 0))
            ok = 0;
        if (!ok) {
            fprintf(stderr, "error: calibrate: cannot write the plot %s\n", plot);
            if (fd >= 0)
                unlink(plot_tmp);
            goto done;
        }
    }
    if ((st = tt_table_save(table, out)) != TT_SUCCESS) {
        rc = cli_error(out, st, NULL);
        if (plot)
            unlink(plot_tmp);
        goto done;
    }
    if (plot && rename(plot_tmp, plot) != 0) {
        fprintf(stderr, "error: calibrate: cannot rename the plot into %s\n", plot);
        unlink(plot_tmp);
        goto done;
    }
    summary(acc, table, out, plot, json, n_seqs, since(&t0), use_budget ? &choice : NULL);
    rc = 0;
done:
    free(svg);
    tt_table_destroy(table);
    tm_runner_destroy(r);
    tt_context_destroy(ctx);
    tc_destroy(acc);
    free(params);
    free(ks);
    tm_tokens_free(toks);
    tm_model_free(m);
    return rc;
}

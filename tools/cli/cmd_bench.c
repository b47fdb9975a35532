/* cmd_bench.c — `toptheta bench`: one attention operation (decode or a causal prefill chunk) timed
 * on device-resident LLM-like synthetic data, always next to the library's own dense kernel of the
 * same run; with --compare also dense through CLBlast, top-k and Top-θ at the same kept fraction.
 * Thresholds come from separate samples (--keep) or a table file (--table). */
#include "commands.h"
#include "bench/bench.h"
#include "common/synth.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEEPS 16

typedef struct {
    tt_context *ctx;
    bench_data *d;
    tt_attn_params p;
    int use_vsum;
} own_call;

/* VMC decode gets the running V sum so it pays O(d); the call advances the sum, so it is put
 * back before every run, outside the timed span. */
static tt_status own_prep(void *user, cl_command_queue q, cl_event *last)
{
    own_call *c = user;
    (void)last;
    if (!c->use_vsum)
        return TT_SUCCESS;
    size_t bytes = (size_t)c->d->s.batch * c->d->s.n_kv_heads * c->d->s.head_dim * 4;
    cl_int err = clEnqueueWriteBuffer(q, c->d->dvsum, CL_FALSE, 0, bytes, c->d->vsum0, 0, NULL,
                                      NULL);
    return err ? bench_fail((tt_status)err, "V sum reset: %s", tt_status_name(err)) : TT_SUCCESS;
}

static tt_status own_run(void *user, cl_command_queue q, cl_event *last)
{
    own_call *c = user;
    const tt_attn_shape *s = &c->d->s;
    tt_tensor tq = tt_tensor_head_major(c->d->dq, s->n_heads, s->q_len, s->head_dim);
    tt_tensor tk = tt_tensor_head_major(c->d->dk, s->n_kv_heads, s->kv_len, s->head_dim);
    tt_tensor tv = tt_tensor_head_major(c->d->dv, s->n_kv_heads, s->kv_len, s->head_dim);
    tt_tensor to = tt_tensor_head_major(c->d->dout, s->n_heads, s->q_len, s->head_dim);
    tt_status st = tt_attention_enqueue(c->ctx, q, s, &c->p, &tq, &tk, &tv, &to,
                                        c->use_vsum ? c->d->dvsum : NULL, c->d->dstats, 0, NULL,
                                        last);
    return st ? bench_fail(st, "%s", tt_last_error(c->ctx)) : TT_SUCCESS;
}

typedef struct {
    tt_context *ctx;
    bench_kernels bk;
    bench_data d;
    bench_run_info ri;
    int reps, warmup, json, block_tiles;
    float *dense_o; /* own dense output, the CLBlast baseline's yardstick */
} run_state;

static void emit(run_state *rs, const bench_result *r)
{
    if (rs->json)
        bench_print_json(stdout, &rs->ri, r);
    else
        bench_print_row(stdout, &rs->ri, r);
}

/* Times one configuration of the library and derives its work from the timed call's stats. */
static int measure_own(run_state *rs, const tt_attn_params *p, double keep, bench_result *r)
{
    own_call c = {rs->ctx, &rs->d, *p, p->vmc && p->mode != TT_MODE_DENSE};
    memset(r, 0, sizeof *r);
    r->impl = "own";
    r->mode = p->mode;
    r->keep = keep;
    r->k = p->mode == TT_MODE_TOPK ? p->k : 0;
    r->max_rel_err = -1;
    r->blk.block = r->blk.keys = r->blk.packed = NAN;
    fprintf(stderr, "bench: timing own %s", p->mode == TT_MODE_DENSE  ? "dense"
                                            : p->mode == TT_MODE_TOPK ? "top-k"
                                                                      : "Top-theta");
    if (keep >= 0)
        fprintf(stderr, " at keep %.2f", keep);
    fprintf(stderr, "...\n");
    tt_status st = bench_time(&rs->bk, own_prep, own_run, &c, rs->warmup, rs->reps, &r->t);
    const tt_attn_shape *s = &rs->d.s;
    uint32_t *stats = malloc(tt_stats_size(s));
    if (st == TT_SUCCESS && !stats)
        st = bench_fail(TT_OUT_OF_HOST_MEMORY, "out of host memory");
    if (st == TT_SUCCESS) {
        cl_int err = clEnqueueReadBuffer(rs->bk.queue, rs->d.dstats, CL_TRUE, 0, tt_stats_size(s),
                                         stats, 0, NULL, NULL);
        if (!err && p->mode == TT_MODE_DENSE && rs->dense_o)
            err = clEnqueueReadBuffer(rs->bk.queue, rs->d.dout, CL_TRUE, 0, rs->d.qn * 4,
                                      rs->dense_o, 0, NULL, NULL);
        if (err)
            st = bench_fail((tt_status)err, "reading results: %s", tt_status_name(err));
    }
    if (st == TT_SUCCESS)
        bench_work_compute(s, stats, &r->w);
    if (st == TT_SUCCESS && s->q_len > 1 && rs->block_tiles > 0) {
        if (p->mode == TT_MODE_DENSE)
            r->blk.block = r->blk.keys = r->blk.packed = 1.0;
        else
            st = bench_blocks(&rs->d, p, rs->block_tiles, &r->blk);
    }
    free(stats);
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: bench: %s: %s\n", tt_status_name(st), bench_error());
        return 1;
    }
    return 0;
}

/* CLBlast dense on the same data; a failure here is reported but does not end the run. */
static void measure_clblast(run_state *rs)
{
    bench_clblast *cb = NULL;
    bench_result r;
    memset(&r, 0, sizeof r);
    r.impl = "clblast";
    r.mode = TT_MODE_DENSE;
    r.keep = -1;
    r.blk.block = r.blk.keys = r.blk.packed = NAN;
    fprintf(stderr, "bench: timing CLBlast dense (first use compiles CLBlast's kernels)...\n");
    tt_status st = bench_clblast_create(&rs->bk, &rs->d, &cb);
    if (st == TT_SUCCESS)
        st = bench_time(&rs->bk, NULL, bench_clblast_enqueue, cb, rs->warmup, rs->reps, &r.t);
    float *o = st == TT_SUCCESS ? malloc(rs->d.qn * 4) : NULL;
    if (st == TT_SUCCESS && o &&
        clEnqueueReadBuffer(rs->bk.queue, bench_clblast_output(cb), CL_TRUE, 0, rs->d.qn * 4, o, 0,
                            NULL, NULL) == CL_SUCCESS)
        r.max_rel_err = bench_max_rel_err(o, rs->dense_o, rs->d.qn);
    else
        r.max_rel_err = -1;
    free(o);
    bench_clblast_destroy(cb);
    if (st != TT_SUCCESS) {
        fprintf(stderr, "warning: bench: CLBlast baseline skipped: %s\n", bench_error());
        return;
    }
    bench_work_compute(&rs->d.s, NULL, &r.w);
    emit(rs, &r);
    if (!rs->json)
        fprintf(stdout, "         (CLBlast output vs own dense: max rel. error %.2e%s)\n",
                r.max_rel_err, rs->d.s.kv_dtype == TT_DTYPE_F16
                                   ? "; fp32 GEMMs on K/V converted from fp16 once, untimed"
                                   : "");
}

static int pick(const char *opt, const char *v, const char *const *names, int def)
{
    if (!v)
        return def;
    for (int i = 0; names[i]; i++)
        if (!strcmp(v, names[i]))
            return i;
    fprintf(stderr, "error: bench: unknown --%s '%s' (one of:", opt, v);
    for (int i = 0; names[i]; i++)
        fprintf(stderr, " %s", names[i]);
    fprintf(stderr, ")\n");
    return -1;
}

static int parse_keeps(const char *v, double *keeps)
{
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *end;
        double x = strtod(tok, &end);
        if (end == tok || *end || !(x > 0 && x <= 1) || n == MAX_KEEPS) {
            fprintf(stderr, "error: bench: --keep takes fractions in (0, 1], comma-separated "
                            "(at most %d); got '%s'\n", MAX_KEEPS, v);
            return -1;
        }
        keeps[n++] = x;
    }
    return n;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: toptheta bench [--op decode|prefill] [--mode dense|topk|theta] [--len N]\n"
            "       [--heads H] [--kv-heads G] [--head-dim D] [--dtype f32|f16] [--batch B]\n"
            "       [--placement pre|post|rel] [--sdc none|exact|exp-threshold|offline]\n"
            "       [--lambda L] [--vmc] [--post exact|onepass]\n"
            "       [--keep F[,F...] [--calib pooled|mean] | --table FILE [--layer L]] [--k K]\n"
            "       [--compare] [--reps R] [--warmup W] [--seed S] [--hold delay|gate|none]\n"
            "       [--block-tiles T] [--data scattered|clustered] [--json] [--device SEL]\n"
            "defaults: decode, theta, N 8192, 32 / 8 heads, D 128, f16, batch 1, keep 0.1,\n"
            "10 runs after 2 warm-ups, held by a delay kernel; --keep takes a list (one\n"
            "configuration per fraction); prefill: --block-tiles query tiles (default 64, 0 =\n"
            "none) sampled on the host for the share of 16-key blocks holding a kept score;\n"
            "--data clustered: LLM-like data whose neighbouring queries keep the same keys (a\n"
            "salience per key and a positional band, as in real models) instead of scattered\n");
}

int cmd_bench(int argc, char **argv)
{
    static const char *const known[] = {
        "op",   "mode",  "len",   "heads", "kv-heads", "head-dim", "dtype",  "batch",
        "placement", "sdc", "lambda", "vmc", "post", "keep", "calib", "table", "layer", "k",
        "compare", "reps", "warmup", "seed", "hold", "no-gate", "json", "device", "help",
        "block-tiles", "data", NULL};
    static const char *const ops[] = {"decode", "prefill", NULL};
    static const char *const modes[] = {"dense", "topk", "theta", NULL};
    static const char *const dtypes[] = {"f32", "f16", NULL};
    static const char *const places[] = {"pre", "post", "rel", NULL};
    static const char *const sdcs[] = {"none", "exact", "exp-threshold", "offline", NULL};
    static const char *const posts[] = {"exact", "onepass", NULL};
    static const char *const rules[] = {"mean", "pooled", NULL};
    static const char *const holds[] = {"delay", "gate", "none", NULL}; /* bench_hold's order */
    static const char *const datas[] = {"scattered", "clustered", NULL};
    if (!cli_check_options(argc, argv, known, "bench"))
        return 2;
    if (cli_flag(argc, argv, "help")) {
        usage();
        return 0;
    }
    const int prefill = pick("op", cli_opt(argc, argv, "op"), ops, 0);
    const int mode = pick("mode", cli_opt(argc, argv, "mode"), modes, TT_MODE_THETA);
    const int dtype = pick("dtype", cli_opt(argc, argv, "dtype"), dtypes, TT_DTYPE_F16);
    int place = pick("placement", cli_opt(argc, argv, "placement"), places, TT_PLACE_PRE);
    const int sdc = pick("sdc", cli_opt(argc, argv, "sdc"), sdcs, TT_SDC_NONE);
    const int post = pick("post", cli_opt(argc, argv, "post"), posts, TT_POST_EXACT);
    const int calib_rule = pick("calib", cli_opt(argc, argv, "calib"), rules, 1);
    /* --no-gate: the older spelling of --hold none */
    const int hold = pick("hold", cli_opt(argc, argv, "hold"), holds,
                          cli_flag(argc, argv, "no-gate") ? BENCH_HOLD_NONE : BENCH_HOLD_DELAY);
    const int data = pick("data", cli_opt(argc, argv, "data"), datas, 0);
    if (prefill < 0 || mode < 0 || dtype < 0 || place < 0 || sdc < 0 || post < 0 ||
        calib_rule < 0 || hold < 0 || data < 0)
        return 2;
    const int synth = data == 1 ? TT_SYNTH_CLUSTERED : 1;
    const long len = cli_opt_long(argc, argv, "len", 8192);
    const long heads = cli_opt_long(argc, argv, "heads", 32);
    const long kvh = cli_opt_long(argc, argv, "kv-heads", 8);
    const long hd = cli_opt_long(argc, argv, "head-dim", 128);
    const long batch = cli_opt_long(argc, argv, "batch", 1);
    const long reps = cli_opt_long(argc, argv, "reps", 10);
    const long warmup = cli_opt_long(argc, argv, "warmup", 2);
    const long layer = cli_opt_long(argc, argv, "layer", 0);
    const long kopt = cli_opt_long(argc, argv, "k", 0);
    const long block_tiles = cli_opt_long(argc, argv, "block-tiles", 64);
    const double lambda = cli_opt_double(argc, argv, "lambda", 1.0);
    const char *bad = len < 1 || len > (1L << 24) ? "--len must be 1 .. 16777216"
                      : heads < 1 || kvh < 1      ? "--heads and --kv-heads must be >= 1"
                      : heads % kvh               ? "--heads must be a multiple of --kv-heads"
                      : hd < 1 || hd > 256        ? "--head-dim must be 1 .. 256"
                      : batch < 1 || batch > 4096 ? "--batch must be 1 .. 4096"
                      : reps < 1 || reps > 1000   ? "--reps must be 1 .. 1000"
                      : warmup < 0 || warmup > 100 ? "--warmup must be 0 .. 100"
                      : kopt < 0                  ? "--k must be >= 1"
                      : layer < 0                 ? "--layer must be >= 0"
                      : block_tiles < 0 || block_tiles > 1000000 ? "--block-tiles must be 0 .. 1000000"
                                                  : NULL;
    if (bad) {
        fprintf(stderr, "error: bench: %s\n", bad);
        return 2;
    }
    const char *table_path = cli_opt(argc, argv, "table"), *keep_s = cli_opt(argc, argv, "keep");
    if (table_path && keep_s) {
        fprintf(stderr, "error: bench: give --keep or --table, not both\n");
        return 2;
    }
    double keeps[MAX_KEEPS] = {0.1};
    int n_keeps = keep_s ? parse_keeps(keep_s, keeps) : 1;
    if (n_keeps < 0)
        return 2;
    const int compare = cli_flag(argc, argv, "compare"), json = cli_flag(argc, argv, "json");
    const int want_theta = compare || mode == TT_MODE_THETA;
    const int want_topk = compare || mode == TT_MODE_TOPK;
    /* offline SDC reads D̂ from a table, for top-k too: the calibrated one of the same keep */
    const int want_tables = want_theta || (want_topk && sdc == TT_SDC_OFFLINE);
    tt_table *loaded = NULL;
    if (table_path) {
        tt_status st = tt_table_load(table_path, &loaded);
        if (st != TT_SUCCESS)
            return cli_error(table_path, st, NULL);
        tt_table_meta meta;
        tt_table_get_meta(loaded, &meta);
        if (meta.n_heads != heads || meta.n_kv_heads != kvh || meta.head_dim != hd) {
            fprintf(stderr, "error: bench: %s was made for %d heads / %d KV heads / head size %d, "
                            "not %ld / %ld / %ld\n", table_path, meta.n_heads, meta.n_kv_heads,
                    meta.head_dim, heads, kvh, hd);
            tt_table_destroy(loaded);
            return 2;
        }
        place = meta.placement; /* a table is calibrated for one placement */
        n_keeps = 1;
        keeps[0] = -1;
    }
    int topk_table_k = (int)kopt;
    if (loaded && !topk_table_k)
        tt_table_get_layer_k(loaded, (int)layer, &topk_table_k);
    if (loaded && want_topk && topk_table_k < 1) {
        fprintf(stderr, "error: bench: top-k needs --k K (the table has no k for layer %ld)\n",
                layer);
        tt_table_destroy(loaded);
        return 2;
    }

    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.reps = (int)reps;
    rs.warmup = (int)warmup;
    rs.json = json;
    rs.block_tiles = (int)block_tiles;
    tt_attn_shape s = {(int)batch, (int)heads, (int)kvh, (int)hd, prefill ? (int)len : 1, (int)len,
                       (tt_dtype)dtype};
    uint64_t seed = (uint64_t)cli_opt_long(argc, argv, "seed", 1234);
    int rc = 1;
    tt_table *tables[MAX_KEEPS] = {0};
    tt_device_info info;
    if (!(rs.ctx = cli_context(argc, argv)))
        goto out;
    tt_context_device_info(rs.ctx, &info);
    tt_status st = bench_kernels_create(rs.ctx, &rs.bk);
    if (st == TT_SUCCESS) {
        rs.bk.hold = (bench_hold)hold;
        fprintf(stderr, "bench: generating the workload (%zu MiB of K/V)...\n",
                (size_t)2 * batch * kvh * len * hd * (dtype == TT_DTYPE_F16 ? 2 : 4) >> 20);
        /* prefill keeps the host K for the block occupancy (8K: 16 MiB) */
        st = bench_data_create(rs.ctx, &s, seed, synth, prefill && block_tiles > 0, &rs.d);
    }
    if (st == TT_SUCCESS && want_tables && !loaded) {
        bench_samples smp;
        fprintf(stderr, "bench: calibrating thresholds on separate samples...\n");
        st = bench_samples_create(&s, seed + 7777, synth, &smp);
        if (st == TT_SUCCESS)
            st = bench_calibrate(&smp, (tt_placement)place, calib_rule, keeps, n_keeps, tables);
        if (st == TT_SUCCESS)
            fprintf(stderr, "bench: thresholds from %d sample %s (seed %llu)\n", smp.s.batch,
                    prefill ? "chunks" : "sequences", (unsigned long long)(seed + 7777));
        bench_samples_destroy(&smp);
    }
    /* 1 GiB on GPUs: on the H200 256 MiB reached 3.87 TB/s and 1 GiB 4.17 TB/s (launch and tail
     * effects); a CPU device's caches are far smaller than 64 MiB already. */
    size_t copy_bytes = rs.bk.type & CL_DEVICE_TYPE_CPU ? (size_t)64 << 20 : (size_t)1 << 30;
    if (st == TT_SUCCESS) {
        fprintf(stderr, "bench: measuring copy bandwidth...\n");
        st = bench_copy_gbps(&rs.bk, &copy_bytes, (int)reps, &rs.ri.copy_gbps);
    }
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: bench: %s: %s\n", tt_status_name(st), bench_error());
        goto out;
    }
    rs.ri = (bench_run_info){prefill, s, (tt_placement)place, (tt_sdc)sdc,
                             cli_flag(argc, argv, "vmc"), rs.ri.copy_gbps, copy_bytes, info.name,
                             (int)reps, (int)warmup, 0, 0, 0, rs.bk.hold,
                             data ? "clustered" : "scattered"};
    if (compare && !(rs.dense_o = malloc(rs.d.qn * 4))) {
        fprintf(stderr, "error: bench: out of host memory\n");
        goto out;
    }

    tt_attn_params p;
    tt_attn_params_init(&p);
    p.placement = (tt_placement)place;
    p.sdc = (tt_sdc)sdc;
    p.sdc_lambda = (float)lambda;
    p.vmc = rs.ri.vmc;
    p.post_variant = (tt_post_variant)post;
    p.layer = loaded ? (int)layer : 0;
    bench_result r;
    p.mode = TT_MODE_DENSE;
    if (measure_own(&rs, &p, -1, &r))
        goto out;
    rs.ri.dense_ms = r.t.median_ms;
    rs.ri.dense_bytes = r.w.bytes;
    rs.ri.dense_flops = r.w.flops;
    if (!json)
        bench_print_header(stdout, &rs.ri);
    emit(&rs, &r);
    if (compare) {
        if (bench_have_clblast())
            measure_clblast(&rs);
        else
            fprintf(stderr, "bench: built without CLBlast: no CLBlast baseline\n");
    }
    for (int kk = 0; kk < n_keeps; kk++) {
        if (want_topk) {
            p.mode = TT_MODE_TOPK;
            p.k = kopt ? (int)kopt : loaded ? topk_table_k : bench_topk_k(&s, keeps[kk]);
            p.table = sdc == TT_SDC_OFFLINE ? (loaded ? loaded : tables[kk]) : NULL;
            if (measure_own(&rs, &p, keeps[kk], &r))
                goto out;
            emit(&rs, &r);
        }
        if (want_theta) {
            p.mode = TT_MODE_THETA;
            p.k = 0;
            p.table = loaded ? loaded : tables[kk];
            if (measure_own(&rs, &p, keeps[kk], &r))
                goto out;
            emit(&rs, &r);
        }
    }
    if (!json && prefill && want_topk && !kopt && !loaded)
        printf("\nnote: top-k uses one k for every row of the chunk, round(keep * N / 2), so its "
               "kept fraction only matches on average.\n");
    if (!json && !loaded && want_theta)
        printf("%snote: Top-theta thresholds calibrated for the kept fraction on separate "
               "synthetic samples (not the timed data).\n",
               prefill && want_topk && !kopt ? "" : "\n");
    rc = 0;
out:
    for (int kk = 0; kk < MAX_KEEPS; kk++)
        tt_table_destroy(tables[kk]);
    tt_table_destroy(loaded);
    free(rs.dense_o);
    bench_data_destroy(&rs.d);
    if (rs.bk.prog)
        bench_kernels_destroy(&rs.bk);
    tt_context_destroy(rs.ctx);
    return rc;
}

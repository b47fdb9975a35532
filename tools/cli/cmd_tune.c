/* cmd_tune.c — `toptheta tune`: measures the attention launch parameters (work-group size WG and
 * decode chunk CHUNK) on the current device with a decode workload on device-resident buffers,
 * prints the table, and stores the fastest pair in the user overlay (host/tune_overlay.c).
 * Uses the library's private tuning hooks (host/tune_db.h); timing is the wall-clock median. */
#include "commands.h"
#include "common/synth.h"
#include "tune_db.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CAND 16

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "32,64,128" -> values (at most MAX_CAND); 0 on a malformed list. */
static int parse_list(const char *s, int *out)
{
    int n = 0;
    while (s && *s && n < MAX_CAND) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > TT_TUNE_MAX_CHUNK || (*end && *end != ','))
            return 0;
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return n;
}

static const char *level_name(tt__tune_level l)
{
    static const char *const names[] = {"override", "overlay", "device", "architecture",
                                        "vendor",   "type",    "forced"};
    return names[l];
}

static cl_mem upload(cl_context cx, const void *data, size_t bytes)
{
    cl_int err;
    return clCreateBuffer(cx, CL_MEM_READ_WRITE | (data ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                          (void *)data, &err);
}

int cmd_tune(int argc, char **argv)
{
    static const char *const known[] = {"device", "json", "len", "heads", "kv-heads",
                                        "head-dim", "reps", "dtype", "mode", "keep", "wgs",
                                        "chunks", "dry-run", NULL};
    if (!cli_check_options(argc, argv, known, "tune"))
        return 2;
    const int json = cli_flag(argc, argv, "json"), dry = cli_flag(argc, argv, "dry-run");
    tt_attn_shape s = {1, (int)cli_opt_long(argc, argv, "heads", 32),
                       (int)cli_opt_long(argc, argv, "kv-heads", 8),
                       (int)cli_opt_long(argc, argv, "head-dim", 128), 1,
                       (int)cli_opt_long(argc, argv, "len", 8192), TT_DTYPE_F16};
    const char *dt = cli_opt(argc, argv, "dtype"), *mode = cli_opt(argc, argv, "mode");
    const int reps = (int)cli_opt_long(argc, argv, "reps", 5);
    const double keep = cli_opt_double(argc, argv, "keep", 0.2);
    int wgs[MAX_CAND] = {32, 64, 128, 256}, chunks[MAX_CAND] = {0, 256, 1024, 4096};
    int nw = 4, nch = 4;
    if (cli_opt(argc, argv, "wgs"))
        nw = parse_list(cli_opt(argc, argv, "wgs"), wgs);
    if (cli_opt(argc, argv, "chunks"))
        nch = parse_list(cli_opt(argc, argv, "chunks"), chunks);
    if (dt && strcmp(dt, "f16") && strcmp(dt, "f32")) {
        fprintf(stderr, "error: tune: --dtype must be f16 or f32\n");
        return 2;
    }
    if (mode && strcmp(mode, "theta") && strcmp(mode, "dense")) {
        fprintf(stderr, "error: tune: --mode must be theta or dense\n");
        return 2;
    }
    if (!nw || !nch || reps < 1 || s.kv_len < 1 || s.n_kv_heads < 1 || s.n_heads < 1 ||
        s.head_dim < 1 || s.n_heads % s.n_kv_heads || keep <= 0 || keep >= 1) {
        fprintf(stderr, "error: tune: bad --wgs/--chunks list, shape, --reps or --keep\n");
        return 2;
    }
    if (dt && !strcmp(dt, "f32"))
        s.kv_dtype = TT_DTYPE_F32;
    /* The developer override would replace every candidate; the measurement needs them. */
    if (getenv("TT_WG")) {
        fprintf(stderr, "tune: ignoring TT_WG=%s while measuring\n", getenv("TT_WG"));
        unsetenv("TT_WG");
    }
    tt_context *ctx = cli_context(argc, argv);
    if (!ctx)
        return 1;
    tt_device_info info;
    tt_context_device_info(ctx, &info);
    tt__tune_result cur;
    tt_status st = tt__tune_lookup(&info, &cur);
    if (st != TT_SUCCESS) {
        tt_context_destroy(ctx);
        return cli_error("tune", st, NULL);
    }
    fprintf(stderr, "tune: %s (architecture \"%s\", vendor \"%s\"); now WG=%d CHUNK=%d from %s%s\n",
            cur.dev.name, cur.dev.arch, cur.dev.vendor, cur.params.wg, cur.params.chunk,
            level_name(cur.level), cur.env_override ? " + TOPTHETA_TUNE" : "");
    if (cur.overlay_status != TT_SUCCESS)
        fprintf(stderr, "tune: warning: overlay ignored: %s\n", cur.overlay_message);
    if (cur.override_status != TT_SUCCESS)
        fprintf(stderr, "tune: warning: %s\n", cur.override_message);

    /* Inputs: LLM-like synthetic data; Top-θ thresholds keep about `keep` of the row. */
    const size_t kv_elems = (size_t)s.n_kv_heads * s.kv_len * s.head_dim;
    const size_t esz = s.kv_dtype == TT_DTYPE_F16 ? 2 : 4;
    float *q = malloc((size_t)s.n_heads * s.head_dim * 4);
    void *k = malloc(kv_elems * esz), *v = malloc(kv_elems * esz);
    tt_table *table = NULL;
    cl_mem bq = NULL, bk = NULL, bv = NULL, bo = NULL;
    cl_context cx;
    cl_command_queue queue;
    tt_context_cl(ctx, &cx, NULL, &queue);
    tt_attn_params p;
    tt_attn_params_init(&p);
    int rc = 1;
    if (!q || !k || !v) {
        fprintf(stderr, "error: tune: out of memory\n");
        goto done;
    }
    tt_rng rng;
    tt_rng_seed(&rng, 1234);
    tt_synth_qkv(&s, 1, &rng, q, k, v);
    if (!mode || !strcmp(mode, "theta")) {
        int kk = (int)(keep * s.kv_len) > 0 ? (int)(keep * s.kv_len) : 1;
        if ((st = tt_synth_table(&s, TT_PLACE_POST, kk, 1.0f / sqrtf((float)s.head_dim), q,
                                 k, &table))) {
            rc = cli_error("tune: thresholds", st, NULL);
            goto done;
        }
        p.mode = TT_MODE_THETA;
        p.placement = TT_PLACE_POST;
        p.vmc = 1;
        p.table = table;
    }
    bq = upload(cx, q, (size_t)s.n_heads * s.head_dim * 4);
    bk = upload(cx, k, kv_elems * esz);
    bv = upload(cx, v, kv_elems * esz);
    bo = upload(cx, NULL, (size_t)s.n_heads * s.head_dim * 4);
    if (!bq || !bk || !bv || !bo) {
        fprintf(stderr, "error: tune: cannot allocate device buffers\n");
        goto done;
    }
    tt_tensor tq = tt_tensor_head_major(bq, s.n_heads, 1, s.head_dim);
    tt_tensor tk = tt_tensor_head_major(bk, s.n_kv_heads, s.kv_len, s.head_dim);
    tt_tensor tv = tt_tensor_head_major(bv, s.n_kv_heads, s.kv_len, s.head_dim);
    tt_tensor to = tt_tensor_head_major(bo, s.n_heads, 1, s.head_dim);

    if (!json)
        printf("%6s %7s %12s %12s\n", "WG", "CHUNK", "median_ms", "min_ms");
    tt__tune_params best = {0, 0};
    double best_ms = 0;
    const int group = s.n_heads / s.n_kv_heads;
    for (int i = 0; i < nw; i++) {
        /* Capability checks: only candidates the device takes as they are. */
        if (wgs[i] < 1 || (wgs[i] & (wgs[i] - 1)) ||
            tt__tune_clamp_wg(&info, wgs[i], s.head_dim, group) != wgs[i])
            continue;
        for (int j = 0; j < nch; j++) {
            if (chunks[j] && (chunks[j] < wgs[i] || chunks[j] > s.kv_len))
                continue;
            tt__tune_force(ctx, (tt__tune_params){wgs[i], chunks[j]});
            double t[64];
            int n = reps < 64 ? reps : 64;
            /* The first call builds the program (or loads it from the cache): not timed. */
            st = tt_attention_enqueue(ctx, queue, &s, &p, &tq, &tk, &tv, &to, NULL, NULL, 0,
                                      NULL, NULL);
            for (int r = 0; r < n && st == TT_SUCCESS; r++) {
                clFinish(queue);
                double t0 = now_ms();
                st = tt_attention_enqueue(ctx, queue, &s, &p, &tq, &tk, &tv, &to, NULL, NULL, 0,
                                          NULL, NULL);
                clFinish(queue);
                t[r] = now_ms() - t0;
            }
            if (st != TT_SUCCESS) {
                fprintf(stderr, "tune: WG=%d CHUNK=%d skipped: %s: %s\n", wgs[i], chunks[j],
                        tt_status_name(st), tt_last_error(ctx));
                continue;
            }
            qsort(t, (size_t)n, sizeof t[0], cmp_double);
            double med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
            if (json)
                printf("{\"wg\":%d,\"chunk\":%d,\"median_ms\":%.4f,\"min_ms\":%.4f}\n", wgs[i],
                       chunks[j], med, t[0]);
            else
                printf("%6d %7d %12.4f %12.4f\n", wgs[i], chunks[j], med, t[0]);
            fflush(stdout);
            if (!best.wg || med < best_ms) {
                best = (tt__tune_params){wgs[i], chunks[j]};
                best_ms = med;
            }
        }
    }
    if (!best.wg) {
        fprintf(stderr, "error: tune: no candidate could run on this device\n");
        goto done;
    }
    char path[4096], msg[512];
    if (!tt__tune_overlay_path(path, sizeof path)) {
        fprintf(stderr, "error: tune: no overlay path (set TOPTHETA_TUNE_FILE or HOME)\n");
        goto done;
    }
    if (json)
        printf("{\"best\":{\"device\":\"%s\",\"wg\":%d,\"chunk\":%d,\"median_ms\":%.4f},"
               "\"overlay\":\"%s\",\"written\":%s}\n",
               cur.dev.name, best.wg, best.chunk, best_ms, path, dry ? "false" : "true");
    else
        printf("best: device=%s WG=%d CHUNK=%d (%.4f ms)%s %s\n", cur.dev.name, best.wg,
               best.chunk, best_ms, dry ? "; dry run, not written to" : "; written to", path);
    rc = 0;
    if (!dry && (st = tt__tune_overlay_write(path, cur.dev.name, best, msg, sizeof msg))) {
        fprintf(stderr, "error: tune: %s: %s\n", tt_status_name(st), msg);
        rc = 1;
    }
done:;
    cl_mem all[] = {bq, bk, bv, bo};
    for (int i = 0; i < 4; i++)
        if (all[i])
            clReleaseMemObject(all[i]);
    tt_table_destroy(table);
    free(q);
    free(k);
    free(v);
    tt_context_destroy(ctx);
    return rc;
}

/* bench_report.c — how `toptheta bench` prints a run: a readable table (one row per measured
 * configuration) or one JSON object per configuration. Rates are derived here from the byte and
 * FLOP model (bench_work) so the text and JSON forms can never disagree. */
#include "bench.h"
#include <math.h>
#include <string.h>

static const char *mode_name(tt_mode m)
{
    return m == TT_MODE_DENSE ? "dense" : m == TT_MODE_TOPK ? "topk" : "theta";
}

static const char *place_name(tt_placement p)
{
    return p == TT_PLACE_PRE ? "pre" : p == TT_PLACE_POST ? "post" : "rel";
}

static const char *sdc_name(tt_sdc s)
{
    static const char *const n[] = {"none", "exact", "exp-threshold", "offline"};
    return (unsigned)s < 4 ? n[s] : "?";
}

typedef struct {
    double gbps, gflops, copy_frac, speedup, speedup_bound, bound_ms;
} rates;

/* Bounds (design §4): decode moves bytes, so its ceiling over own dense is the byte ratio and its
 * time floor is bytes at copy bandwidth; prefill is compute-bound, so its ceiling is the FLOP
 * ratio (no time floor: the device's peak FLOP rate is not measured here). */
static rates derive(const bench_run_info *ri, const bench_result *r)
{
    rates x;
    const double ms = r->t.median_ms;
    x.gbps = ms > 0 ? r->w.bytes / (ms * 1e6) : 0;
    x.gflops = ms > 0 ? r->w.flops / (ms * 1e6) : 0;
    x.copy_frac = ri->copy_gbps > 0 ? x.gbps / ri->copy_gbps : 0;
    x.speedup = ms > 0 ? ri->dense_ms / ms : 0;
    if (!ri->prefill) {
        x.speedup_bound = r->w.bytes > 0 ? ri->dense_bytes / r->w.bytes : 0;
        x.bound_ms = ri->copy_gbps > 0 ? r->w.bytes / (ri->copy_gbps * 1e6) : 0;
    } else {
        x.speedup_bound = r->w.flops > 0 ? ri->dense_flops / r->w.flops : 0;
        x.bound_ms = -1;
    }
    return x;
}

void bench_print_header(FILE *f, const bench_run_info *ri)
{
    const tt_attn_shape *s = &ri->s;
    fprintf(f, "toptheta bench: %s on %s\n", ri->prefill ? "prefill" : "decode", ri->device);
    fprintf(f, "  batch %d, %d heads / %d KV heads, head size %d, %s KV, %d query row(s) per "
               "head, %d keys (causal)\n",
            s->batch, s->n_heads, s->n_kv_heads, s->head_dim,
            s->kv_dtype == TT_DTYPE_F16 ? "fp16" : "fp32", s->q_len, s->kv_len);
    fprintf(f, "  Top-theta placement %s, SDC %s, VMC %s; LLM-like synthetic data (%s kept keys) "
               "on the device\n",
            place_name(ri->placement), sdc_name(ri->sdc), ri->vmc ? "on" : "off",
            ri->data ? ri->data : "scattered");
    fprintf(f, "  copy bandwidth: %.1f GB/s (float4 copy of %zu MiB, bytes read + written)\n",
            ri->copy_gbps, ri->copy_bytes >> 20);
    fprintf(f, "  times: median of %d runs after %d warm-up(s), device time from OpenCL profiling "
               "events, from the end of the %s; wall = host enqueue + device\n\n",
            ri->reps, ri->warmup,
            ri->hold == BENCH_HOLD_DELAY
                ? "delay kernel that covers the host's enqueue (--hold delay)"
            : ri->hold == BENCH_HOLD_GATE
                ? "stamp kernel held with the call by a user event (--hold gate)"
                : "stamp kernel, not held (--hold none)");
    fprintf(f, "%-8s %-6s %5s %7s %10s %10s %8s %8s %6s %7s %9s %9s %7s\n", "impl", "mode", "keep",
            "k", "ms", "wall ms", "x dense", "bound x", "kept", "V rows", "GB/s", "GFLOP/s",
            "copy %");
}

void bench_print_row(FILE *f, const bench_run_info *ri, const bench_result *r)
{
    rates x = derive(ri, r);
    char keep[16] = "-", k[16] = "-";
    if (r->keep >= 0)
        snprintf(keep, sizeof keep, "%.2f", r->keep);
    if (r->k > 0)
        snprintf(k, sizeof k, "%d", r->k);
    fprintf(f, "%-8s %-6s %5s %7s %10.3f %10.3f %7.2fx %7.2fx %6.3f %7.3f %9.1f %9.1f %6.1f%%\n",
            r->impl, mode_name(r->mode), keep, k, r->t.median_ms, r->t.wall_ms, x.speedup,
            x.speedup_bound, r->w.kept_frac, r->w.vrow_frac, x.gbps, x.gflops,
            100.0 * x.copy_frac);
    if (isfinite(r->blk.block))
        fprintf(f, "         (sampled tiles: %.3f of 16-key blocks hold a kept score, a tile's "
                   "rows keep %.3f of its keys together, packed into %.3f of the blocks)\n",
                r->blk.block, r->blk.keys, r->blk.packed);
    fflush(f);
}

static void json_str(FILE *f, const char *key, const char *v)
{
    fprintf(f, "\"%s\": \"", key);
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            fputc('\\', f);
        if ((unsigned char)*v >= 0x20)
            fputc(*v, f);
    }
    fputs("\", ", f);
}

static void json_num(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v))
        fprintf(f, "\"%s\": %.6g%s", key, v, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

void bench_print_json(FILE *f, const bench_run_info *ri, const bench_result *r)
{
    const tt_attn_shape *s = &ri->s;
    rates x = derive(ri, r);
    fputc('{', f);
    json_str(f, "op", ri->prefill ? "prefill" : "decode");
    json_str(f, "mode", mode_name(r->mode));
    json_str(f, "impl", r->impl);
    fprintf(f, "\"len\": %d, \"batch\": %d, \"heads\": %d, \"kv_heads\": %d, \"head_dim\": %d, ",
            s->kv_len, s->batch, s->n_heads, s->n_kv_heads, s->head_dim);
    json_str(f, "dtype", s->kv_dtype == TT_DTYPE_F16 ? "f16" : "f32");
    json_str(f, "data", ri->data ? ri->data : "scattered");
    json_str(f, "placement", place_name(ri->placement));
    json_str(f, "sdc", sdc_name(ri->sdc));
    fprintf(f, "\"vmc\": %s, ", ri->vmc ? "true" : "false");
    json_num(f, "keep", r->keep >= 0 ? r->keep : NAN, 0);
    json_num(f, "k", r->k > 0 ? r->k : NAN, 0);
    json_num(f, "median_ms", r->t.median_ms, 0);
    json_num(f, "min_ms", r->t.min_ms, 0);
    json_num(f, "wall_ms", r->t.wall_ms, 0);
    fprintf(f, "\"reps\": %d, ", r->t.reps);
    json_str(f, "hold", bench_hold_name(ri->hold));
    fprintf(f, "\"hold_retries\": %d, ", r->t.hold_retries);
    fprintf(f, "\"hold_fallback\": %d, ", r->t.hold_fallback);
    json_num(f, "bytes", r->w.bytes, 0);
    json_num(f, "flops", r->w.flops, 0);
    json_num(f, "gbps", x.gbps, 0);
    json_num(f, "gflops", x.gflops, 0);
    json_num(f, "copy_gbps", ri->copy_gbps, 0);
    json_num(f, "copy_frac", x.copy_frac, 0);
    json_num(f, "kept_frac", r->w.kept_frac, 0);
    json_num(f, "vrow_frac", r->w.vrow_frac, 0);
    json_num(f, "block_frac", r->blk.block, 0);
    json_num(f, "union_frac", r->blk.keys, 0);
    json_num(f, "packed_frac", r->blk.packed, 0);
    json_num(f, "speedup_vs_dense", x.speedup, 0);
    json_num(f, "speedup_bound", x.speedup_bound, 0);
    json_num(f, "bound_ms", x.bound_ms >= 0 ? x.bound_ms : NAN, 0);
    json_num(f, "max_rel_err", r->max_rel_err >= 0 ? r->max_rel_err : NAN, 0);
    fputs("\"device\": \"", f);
    for (const char *v = ri->device; *v; v++)
        if (*v != '"' && *v != '\\' && (unsigned char)*v >= 0x20)
            fputc(*v, f);
    fputs("\"}\n", f);
    fflush(f);
}

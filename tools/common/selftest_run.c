/* selftest_run.c — drives the sweep: prints the seed (for --seed replay), runs every case with a
 * per-case seed derived from it, aggregates a table per (variant, operation) and prints the
 * summary line `selftest: N passed, M failed` last. */
#include "selftest_run.h"
#include "selftest_sweep.h"
#include <stdlib.h>
#include <string.h>

#define MAX_CASES 1024

int tt_selftest_run(tt_context *ctx, const tt_selftest_opts *o, FILE *out)
{
    tt_case *cases = calloc(MAX_CASES, sizeof *cases);
    if (!cases) {
        fprintf(out, "selftest: out of memory\nselftest: 0 passed, 1 failed\n");
        return 1;
    }
    int n = tt_sweep_cases(cases, MAX_CASES, o->level);
    tt_device_info info;
    tt_context_device_info(ctx, &info);
    if (!o->json)
        fprintf(out, "selftest on %s (%s), seed %llu (replay: --seed %llu), %d cases\n",
                info.name, info.platform_name, (unsigned long long)o->seed,
                (unsigned long long)o->seed, n);
    int nv = tt_sweep_n_variants();
    int(*pass)[2] = calloc((size_t)nv, sizeof *pass), (*fail)[2] = calloc((size_t)nv, sizeof *fail);
    double(*maxe)[2] = calloc((size_t)nv, sizeof *maxe);
    long(*amb)[2] = calloc((size_t)nv, sizeof *amb);
    int passed = 0, failed = 0;
    for (int i = 0; i < n && pass && fail && maxe && amb; i++) {
        char desc[200];
        tt_sweep_describe(&cases[i], desc, sizeof desc);
        if (o->filter && !strstr(desc, o->filter))
            continue;
        tt_case_result r;
        tt_status st = tt_sweep_run(ctx, &cases[i], o->seed + (uint64_t)i * 7919u, &r);
        int ok = st == TT_SUCCESS && r.ok;
        int v = cases[i].variant, op = cases[i].shape.q_len > 1;
        ok ? (passed++, pass[v][op]++) : (failed++, fail[v][op]++);
        if (r.max_err > maxe[v][op])
            maxe[v][op] = r.max_err;
        amb[v][op] += r.ambiguous;
        if (o->json) {
            fprintf(out, "{\"case\":%d,\"desc\":\"%s\",\"ok\":%s,\"err\":%.3g,\"kept_frac\":%.4f,"
                         "\"ambiguous_rows\":%ld,\"msg\":\"%s\"}\n",
                    i, desc, ok ? "true" : "false", r.max_err,
                    r.elements ? (double)r.kept / r.elements : 0.0, r.ambiguous, ok ? "" : r.msg);
        } else if (!ok || o->verbose) {
            fprintf(out, "%s case %3d  %s  err %.2g kept %.3f%s%s\n", ok ? "PASS" : "FAIL", i, desc,
                    r.max_err, r.elements ? (double)r.kept / r.elements : 0.0, ok ? "" : "  ",
                    ok ? "" : r.msg);
        }
        fflush(out);
    }
    if (!o->json && pass && fail) {
        fprintf(out, "\n%-26s %-8s %6s %6s %10s %9s\n", "variant", "op", "passed", "failed",
                "max err/tol", "ambig.rows");
        for (int v = 0; v < nv; v++)
            for (int op = 0; op < 2; op++)
                if (pass[v][op] + fail[v][op])
                    fprintf(out, "%-26s %-8s %6d %6d %10.3f %9ld\n", tt_sweep_variant_name(v),
                            op ? "prefill" : "decode", pass[v][op], fail[v][op], maxe[v][op],
                            amb[v][op]);
    }
    if (o->json)
        fprintf(out, "{\"selftest\":true,\"passed\":%d,\"failed\":%d,\"seed\":%llu}\n", passed,
                failed, (unsigned long long)o->seed);
    else
        fprintf(out, "selftest: %d passed, %d failed\n", passed, failed);
    free(pass);
    free(fail);
    free(maxe);
    free(amb);
    free(cases);
    return failed;
}

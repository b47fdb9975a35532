/* table_fit.c — `toptheta table fit` and calibrate's --fit / --fit-to: replace every θ(n) curve of
 * a table by its compact fitted form (calib/fit.h), optionally extended past the calibrated length
 * with the fitted tail, and report what the fit did. */
#include "commands.h"
#include "fit.h"
#include <stdlib.h>
#include <string.h>

int cli_write_atomic(const char *path, const void *data, size_t len);

/* Reads --per-octave --fit-to/--to --tail-octaves --max-slope into *c; 0, or 2 after a message. */
int cli_fit_options(int argc, char **argv, const char *to_opt, tc_fit_config *c)
{
    long po = cli_opt_long(argc, argv, "per-octave", 4), to = cli_opt_long(argc, argv, to_opt, 0);
    double tail = cli_opt_double(argc, argv, "tail-octaves", 2);
    double slope = cli_opt_double(argc, argv, "max-slope", 1);
    if (po < 1 || po > 64 || to < 0 || to > (1 << 24) || !(tail >= 0.25 && tail <= 16) ||
        !(slope > 0 && slope <= 16))
        return fprintf(stderr, "error: fit: --per-octave (1..64), --%s (0..2^24), --tail-octaves "
                       "(0.25..16) or --max-slope ((0, 16]) out of range\n", to_opt), 2;
    *c = (tc_fit_config){.per_octave = (int)po, .to_n = (int)to, .tail_octaves = tail,
                         .max_slope = slope};
    return 0;
}

/* Replaces *t by its fit; prints a one-line summary (JSON object fields when json). 0 or 1. */
int cli_fit_apply(tt_table **t, const tc_fit_config *c, int json)
{
    tt_table *fitted = NULL;
    tc_fit_summary s;
    char msg[256];
    tt_status st = tc_fit_table(*t, c, &fitted, &s, msg, sizeof msg);
    if (st != TT_SUCCESS)
        return fprintf(stderr, "error: %s\n", msg), 1;
    tt_table_destroy(*t);
    *t = fitted;
    if (json)
        printf("\"fit\":{\"curves\":%d,\"samples_in\":%ld,\"knots_out\":%ld,\"to_n\":%d,"
               "\"per_octave\":%d,\"slope_min\":%.6g,\"slope_median\":%.6g,\"slope_max\":%.6g,"
               "\"clamped\":%d,\"flat\":%d}",
               s.curves, s.samples_in, s.knots_out, c->to_n, c->per_octave, s.slope_min,
               s.slope_median, s.slope_max, s.clamped, s.flat);
    else
        fprintf(stderr, "fit: %d curves, %ld samples -> %ld knots%s%d, tail slope %.3g .. %.3g "
                "(median %.3g), %d clamped, %d flat\n", s.curves, s.samples_in, s.knots_out,
                c->to_n ? ", extended to n = " : "", c->to_n, s.slope_min, s.slope_max,
                s.slope_median, s.clamped, s.flat);
    return 0;
}

/* toptheta table fit FILE --out OUT [--per-octave P] [--to N] [--tail-octaves T] [--max-slope S] */
int cli_table_fit(int argc, char **argv, const char *file, int json)
{
    const char *out = cli_opt(argc, argv, "out");
    if (!out)
        return fprintf(stderr, "error: table fit: --out FILE is required\n"), 2;
    tc_fit_config c;
    int rc = cli_fit_options(argc, argv, "to", &c);
    if (rc)
        return rc;
    tt_table *t = NULL;
    tt_status st = tt_table_load(file, &t);
    if (st != TT_SUCCESS)
        return cli_error(file, st, NULL);
    if (json)
        printf("{");
    if ((rc = cli_fit_apply(&t, &c, json)) == 0 && (st = tt_table_save(t, out)) != TT_SUCCESS)
        rc = cli_error(out, st, NULL);
    if (json && rc == 0)
        printf(",\"out\":\"%s\"}\n", out);
    else if (json)
        printf("}\n");
    else if (rc == 0)
        printf("wrote %s\n", out);
    tt_table_destroy(t);
    return rc;
}

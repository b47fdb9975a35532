/* cmd_table.c — `toptheta table show | export-text | import-ref`: inspect a threshold table, write
 * it as the reference code's text lines, or build one from th.txt / sdc.txt. Also home of
 * cli_write_atomic(), the temp-file + rename writer that calibrate uses for its plot too, so a
 * failed or interrupted command never leaves a half-written output behind. */
#include "commands.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_write_atomic(const char *path, const void *data, size_t len);
int cli_table_fit(int argc, char **argv, const char *file, int json); /* table_fit.c */

/* Writes len bytes to <path>.tmp.XXXXXX, fsyncs, renames over path. 0 on success, else -1 with
 * a message on stderr and no file left behind. */
int cli_write_atomic(const char *path, const void *data, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 12);
    if (!tmp)
        return fprintf(stderr, "error: %s: out of memory\n", path), -1;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "error: %s: cannot create a temporary file: %s\n", path, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *step = NULL;
    const unsigned char *p = data;
    for (size_t done = 0; !step && done < len;) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            step = "write";
        else
            done += (size_t)w;
    }
    if (!step && fchmod(fd, 0644) != 0)
        step = "chmod";
    if (!step && fsync(fd) != 0)
        step = "fsync";
    if (close(fd) != 0 && !step)
        step = "close";
    if (!step && rename(tmp, path) != 0)
        step = "rename";
    if (step) {
        fprintf(stderr, "error: %s: %s failed: %s\n", path, step, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return step ? -1 : 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: toptheta table show FILE [--json]\n"
            "       toptheta table export-text FILE [--out TH.txt] [--sdc-out SDC.txt]\n"
            "       toptheta table fit FILE --out OUT [--per-octave P] [--to N]\n"
            "                [--tail-octaves T] [--max-slope S]\n"
            "       toptheta table import-ref --th th.txt [--sdc sdc.txt] --layers L --heads H\n"
            "                [--kv-heads G] [--head-dim D] --placement pre|post|rel [--k K]\n"
            "                [--sigma C] [--model-name NAME] --out FILE\n"
            "export-text writes lines \"L<l>_H<h>:<n> <theta> <samples> [<k>]\" (samples per\n"
            "length are not stored in tables: 0); --sdc-out writes the D-hat curves alike.\n"
            "fit replaces each curve by the means of its samples at P knots per octave of n\n"
            "(default 4) and, with --to N, extends it to length N along a tail fitted on the\n"
            "last T octaves (default 2): power law for post, log-linear for pre / rel, slope\n"
            "limited to +-S (default 1).\n");
}

static const char *place_name(tt_placement p)
{
    return p == TT_PLACE_PRE ? "pre" : p == TT_PLACE_POST ? "post" : "rel";
}

/* A JSON string (table strings are printable; paths may hold anything). */
static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static int show(const char *path, int json)
{
    tt_table *t = NULL;
    tt_status st = tt_table_load(path, &t);
    if (st != TT_SUCCESS)
        return cli_error(path, st, NULL);
    tt_table_meta m;
    tt_table_get_meta(t, &m);
    if (json) {
        printf("{\"file\":");
        jstr(stdout, path);
        printf(",\"placement\":\"%s\",\"sigma\":%.9g,\"score_precision\":%d,\"n_layers\":%d,"
               "\"n_heads\":%d,\"n_kv_heads\":%d,\"head_dim\":%d,\"model_name\":",
               place_name(m.placement), m.sigma, m.score_precision, m.n_layers, m.n_heads,
               m.n_kv_heads, m.head_dim);
        jstr(stdout, m.model_name);
        printf(",\"model_hash\":\"%016llx\",\"device_name\":", (unsigned long long)m.model_hash);
        jstr(stdout, m.device_name);
        printf(",\"samples\":%llu,\"token_hash\":\"%s\",\"created_unix\":%lld,\"tac\":%d}\n",
               (unsigned long long)m.samples, m.token_hash, (long long)m.created_unix, m.tac);
    } else {
        printf("table         %s\n", path);
        printf("placement     %s\nsigma         %g\nscore bits    %d\n", place_name(m.placement),
               m.sigma, m.score_precision);
        printf("shape         %d layers, %d heads, %d KV heads, head_dim %d\n", m.n_layers,
               m.n_heads, m.n_kv_heads, m.head_dim);
        printf("model         %s (hash %016llx)\n", m.model_name[0] ? m.model_name : "-",
               (unsigned long long)m.model_hash);
        printf("device        %s\n", m.device_name[0] ? m.device_name : "(generic)");
        printf("samples       %llu rows\ntoken sha256  %s\ncreated       %lld (unix)\ntac"
               "           %s\n", (unsigned long long)m.samples,
               m.token_hash[0] ? m.token_hash : "-", (long long)m.created_unix,
               m.tac ? "yes" : "no");
    }
    for (int l = 0; l < m.n_layers; l++) {
        int k = 0;
        tt_table_get_layer_k(t, l, &k);
        if (!json)
            printf("layer %d: k %d%s\n", l, k, k ? "" : " (never thresholded)");
        for (int h = 0; h < m.n_heads; h++) {
            int c = 0;
            tt_table_get_curve(t, l, h, &c, NULL, NULL, NULL);
            int *ns = malloc(sizeof(int) * (size_t)(c ? c : 1));
            float *th = malloc(sizeof(float) * (size_t)(c ? c : 1));
            float *dh = malloc(sizeof(float) * (size_t)(c ? c : 1));
            if (!ns || !th || !dh) {
                free(ns), free(th), free(dh);
                tt_table_destroy(t);
                return fprintf(stderr, "error: out of memory\n"), 1;
            }
            tt_table_get_curve(t, l, h, &c, ns, th, dh);
            float lo = INFINITY, hi = -INFINITY;
            for (int i = 0; i < c; i++)
                lo = th[i] < lo ? th[i] : lo, hi = th[i] > hi ? th[i] : hi;
            int has_dhat = c > 0 && !isnan(dh[0]); /* a curve without D̂ reads back NaN */
            if (json)
                printf("{\"layer\":%d,\"head\":%d,\"k\":%d,\"samples\":%d,\"n_min\":%d,"
                       "\"n_max\":%d,\"theta_min\":%.9g,\"theta_max\":%.9g,\"dhat\":%s}\n",
                       l, h, k, c, c ? ns[0] : 0, c ? ns[c - 1] : 0, c ? lo : 0.0,
                       c ? hi : 0.0, has_dhat ? "true" : "false");
            else if (c)
                printf("  head %d: %d lengths n %d..%d, theta %.6g .. %.6g%s\n", h, c, ns[0],
                       ns[c - 1], lo, hi, has_dhat ? ", D-hat" : "");
            else
                printf("  head %d: no samples\n", h);
            free(ns), free(th), free(dh);
        }
    }
    tt_table_destroy(t);
    return 0;
}

/* The reference text of every curve (θ, or D̂ when dhat) to f. -2: a curve has no D̂. */
static int export_text(const tt_table *t, FILE *f, int dhat, long *lines)
{
    tt_table_meta m;
    tt_table_get_meta(t, &m);
    *lines = 0;
    for (int l = 0; l < m.n_layers; l++) {
        int k = 0;
        tt_table_get_layer_k(t, l, &k);
        for (int h = 0; h < m.n_heads; h++) {
            int c = 0;
            tt_table_get_curve(t, l, h, &c, NULL, NULL, NULL);
            if (!c)
                continue;
            int *ns = malloc(sizeof(int) * (size_t)c);
            float *th = malloc(sizeof(float) * (size_t)c), *dh = malloc(sizeof(float) * (size_t)c);
            if (!ns || !th || !dh) {
                free(ns), free(th), free(dh);
                return -1;
            }
            tt_table_get_curve(t, l, h, &c, ns, th, dh);
            for (int i = 0; i < c; i++) {
                float v = dhat ? dh[i] : th[i];
                if (isnan(v)) { /* a curve without D̂ reads back NaN */
                    free(ns), free(th), free(dh);
                    return -2;
                }
                /* %.9g round-trips every float exactly through strtod. */
                if (k > 0)
                    fprintf(f, "L%d_H%d:%d %.9g 0 %d\n", l, h, ns[i], v, k);
                else
                    fprintf(f, "L%d_H%d:%d %.9g 0\n", l, h, ns[i], v);
                ++*lines;
            }
            free(ns), free(th), free(dh);
        }
    }
    return 0;
}

static int export_cmd(const char *path, const char *out, const char *sdc_out, int json)
{
    tt_table *t = NULL;
    tt_status st = tt_table_load(path, &t);
    if (st != TT_SUCCESS)
        return cli_error(path, st, NULL);
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        const char *dst = pass ? sdc_out : out;
        if (pass && !sdc_out)
            break;
        char *buf = NULL;
        size_t len = 0;
        long lines = 0;
        FILE *f = dst ? open_memstream(&buf, &len) : stdout;
        int e = f ? export_text(t, f, pass, &lines) : -1;
        if (dst && f)
            fclose(f);
        if (e == -2)
            rc = (fprintf(stderr, "error: %s: the table has no D-hat curves\n", path), 1);
        else if (e)
            rc = (fprintf(stderr, "error: out of memory\n"), 1);
        else if (dst && cli_write_atomic(dst, buf, len) != 0)
            rc = 1;
        else if (dst && json) {
            printf("{\"out\":");
            jstr(stdout, dst);
            printf(",\"lines\":%ld}\n", lines);
        }
        else if (dst)
            printf("wrote %ld lines to %s\n", lines, dst);
        free(buf);
    }
    tt_table_destroy(t);
    return rc;
}

static int import_cmd(int argc, char **argv, int json)
{
    const char *th = cli_opt(argc, argv, "th"), *sdc = cli_opt(argc, argv, "sdc");
    const char *out = cli_opt(argc, argv, "out"), *pl = cli_opt(argc, argv, "placement");
    const char *name = cli_opt(argc, argv, "model-name");
    long layers = cli_opt_long(argc, argv, "layers", 0);
    long heads = cli_opt_long(argc, argv, "heads", 0);
    long kv = cli_opt_long(argc, argv, "kv-heads", heads);
    long hd = cli_opt_long(argc, argv, "head-dim", 0), k = cli_opt_long(argc, argv, "k", 0);
    double sigma = cli_opt_double(argc, argv, "sigma", 0.0);
    if (!th || !out || !pl || layers < 1 || heads < 1) {
        usage();
        return 2;
    }
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    if (!strcmp(pl, "pre"))
        m.placement = TT_PLACE_PRE;
    else if (!strcmp(pl, "post"))
        m.placement = TT_PLACE_POST;
    else if (!strcmp(pl, "rel"))
        m.placement = TT_PLACE_REL;
    else
        return fprintf(stderr, "error: --placement: pre, post or rel\n"), 2;
    if (layers > 4096 || heads > 4096 || kv < 0 || kv > heads || hd < 0 || hd > 65536 || k < 0 ||
        k > 1 << 24 || !isfinite(sigma))
        return fprintf(stderr, "error: import-ref: shape, k or sigma out of range\n"), 2;
    m.n_layers = (int)layers, m.n_heads = (int)heads, m.n_kv_heads = (int)kv, m.head_dim = (int)hd;
    m.sigma = (float)sigma;
    m.score_precision = 32;
    snprintf(m.model_name, sizeof m.model_name, "%s", name ? name : "");
    tt_table *t = NULL;
    tt_status st = tt_table_import_ref(th, sdc, &m, (int)k, &t);
    if (st != TT_SUCCESS)
        return cli_error("import-ref", st, NULL);
    st = tt_table_save(t, out);
    tt_table_destroy(t);
    if (st != TT_SUCCESS)
        return cli_error(out, st, NULL);
    if (json) {
        printf("{\"out\":");
        jstr(stdout, out);
        printf("}\n");
    }
    else
        printf("imported %s%s%s into %s\n", th, sdc ? " + " : "", sdc ? sdc : "", out);
    return 0;
}

int cmd_table(int argc, char **argv)
{
    static const char *const known[] = {"th", "sdc", "layers", "heads", "kv-heads", "head-dim",
                                        "placement", "k", "sigma", "model-name", "out",
                                        "sdc-out", "json", "device", "help", "per-octave", "to",
                                        "tail-octaves", "max-slope", NULL};
    if (argc < 2 || cli_flag(argc, argv, "help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (!cli_check_options(argc, argv, known, "table"))
        return 2;
    int json = cli_flag(argc, argv, "json");
    const char *sub = argv[1];
    const char *file = argc > 2 && strncmp(argv[2], "--", 2) ? argv[2] : NULL;
    if (!strcmp(sub, "show") && file)
        return show(file, json);
    if (!strcmp(sub, "export-text") && file)
        return export_cmd(file, cli_opt(argc, argv, "out"), cli_opt(argc, argv, "sdc-out"), json);
    if (!strcmp(sub, "fit") && file)
        return cli_table_fit(argc, argv, file, json);
    if (!strcmp(sub, "import-ref"))
        return import_cmd(argc, argv, json);
    usage();
    return 2;
}

/* cli_util.c — option parsing, device selection and error printing shared by the subcommands. The
 * CLI (unlike the library) prints; errors go to stderr, results to stdout. */
#include "commands.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *match(const char *arg, const char *name)
{
    if (arg[0] != '-' || arg[1] != '-')
        return NULL;
    size_t n = strlen(name);
    if (strncmp(arg + 2, name, n) != 0)
        return NULL;
    return arg + 2 + n;
}

const char *cli_opt(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++) {
        const char *rest = match(argv[i], name);
        if (!rest)
            continue;
        if (*rest == '=')
            return rest + 1;
        if (*rest == '\0' && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

int cli_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++) {
        const char *rest = match(argv[i], name);
        if (rest && *rest == '\0')
            return 1;
    }
    return 0;
}

long cli_opt_long(int argc, char **argv, const char *name, long def)
{
    const char *v = cli_opt(argc, argv, name);
    if (!v)
        return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 0);
    if (errno || end == v || *end) {
        fprintf(stderr, "error: --%s expects an integer, got '%s'\n", name, v);
        exit(2);
    }
    return x;
}

double cli_opt_double(int argc, char **argv, const char *name, double def)
{
    const char *v = cli_opt(argc, argv, name);
    if (!v)
        return def;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) {
        fprintf(stderr, "error: --%s expects a number, got '%s'\n", name, v);
        exit(2);
    }
    return x;
}

int cli_check_options(int argc, char **argv, const char *const *known, const char *cmd)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        const char *a = argv[i] + 2;
        size_t len = strcspn(a, "=");
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            if (strlen(*k) == len && !strncmp(a, *k, len))
                ok = 1;
        if (!ok) {
            fprintf(stderr, "error: %s: unknown option '%s'\n", cmd, argv[i]);
            return 0;
        }
    }
    return 1;
}

tt_context *cli_context(int argc, char **argv)
{
    tt_context *ctx = NULL;
    tt_status st = tt_context_create(cli_opt(argc, argv, "device"), &ctx);
    if (st != TT_SUCCESS) {
        cli_error("device", st, NULL);
        return NULL;
    }
    return ctx;
}

int cli_error(const char *what, int status, const tt_context *ctx)
{
    fprintf(stderr, "error: %s: %s: %s\n", what, tt_status_name(status), tt_last_error(ctx));
    return 1;
}

int cli_parse_layer_k(const char *opt, const char *spec, long def, int L, int *ks)
{
    for (int l = 0; l < L; l++)
        ks[l] = (int)def;
    for (const char *p = spec; p && *p;) {
        char *end;
        long l = strtol(p, &end, 10), k;
        if (end == p || *end != ':' || l < 0 || l >= L)
            return fprintf(stderr, "error: --%s: expected layer:k with layer in 0..%d at '%s'\n",
                           opt, L - 1, p), 2;
        p = end + 1;
        k = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || k > 1 << 24)
            return fprintf(stderr, "error: --%s: bad k at '%s'\n", opt, p), 2;
        ks[l] = (int)(k < 0 ? 0 : k);
        p = *end ? end + 1 : end;
    }
    return 0;
}

int cli_parse_int_list(const char *opt, const char *spec, int *out, int cap, int *count)
{
    *count = 0;
    for (const char *p = spec; p && *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || (*end && *end != ',') || v < 1 || v > 1 << 24)
            return fprintf(stderr, "error: --%s: expected integers in 1..%d separated by commas "
                           "at '%s'\n", opt, 1 << 24, p), 2;
        if (*count == cap)
            return fprintf(stderr, "error: --%s: more than %d values\n", opt, cap), 2;
        out[(*count)++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

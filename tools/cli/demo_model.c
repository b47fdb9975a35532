/* demo_model.c — the real-model part of `toptheta demo --model M`: calibrate a post-softmax
 * table on the model's calibration tokens, evaluate dense and Top-θ (post-softmax + VMC, and
 * top-k at the same k for comparison) on its evaluation tokens, then generate with Top-θ on. It
 * drives the same subcommands a user would run, so the demo shows the real commands. */
#include "commands.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int exists(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0;
}

/* Runs one subcommand with a NULL-terminated argument list, echoing the command line. */
static int run(int (*fn)(int, char **), const char *name, const char **args)
{
    char *argv[40];
    int argc = 0;
    argv[argc++] = (char *)name;
    printf("\n$ toptheta %s", name);
    for (const char **a = args; *a && argc < 39; a++) {
        argv[argc++] = (char *)*a;
        printf(" %s", *a);
    }
    argv[argc] = NULL;
    printf("\n");
    fflush(stdout);
    int rc = fn(argc, argv);
    fflush(stdout);
    return rc;
}

int demo_model(const char *model, const char *device, const char *calib_tokens,
               const char *eval_tokens, int k, int seqs)
{
    /* Default token files sit next to the model in ../shared: models/X/ → data/X/. */
    static char cbuf[8400], ebuf[8400];
    if (!calib_tokens || !eval_tokens) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", model);
        char *slash = strrchr(dir, '/');
        *(slash ? slash : dir) = '\0';
        const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
        snprintf(cbuf, sizeof cbuf, "%s/../../data/%s/calib.tokens", dir, name);
        snprintf(ebuf, sizeof ebuf, "%s/../../data/%s/eval.tokens", dir, name);
        calib_tokens = calib_tokens ? calib_tokens : cbuf;
        eval_tokens = eval_tokens ? eval_tokens : ebuf;
    }
    if (!exists(model) || !exists(calib_tokens) || !exists(eval_tokens)) {
        fprintf(stderr, "error: demo: need %s, %s and %s\n", model, calib_tokens, eval_tokens);
        return 1;
    }
    char tmpl[] = "/tmp/toptheta-demo-XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("demo: mkdtemp");
        return 1;
    }
    char table[4200], kbuf[16], sbuf[16];
    snprintf(table, sizeof table, "%s/post.ttt", tmpl);
    snprintf(kbuf, sizeof kbuf, "%d", k);
    snprintf(sbuf, sizeof sbuf, "%d", seqs);
    const char *dev = device ? device : "";
    const char *devopt = device ? "--device" : NULL;
    printf("\n== real model: calibrate, evaluate dense vs Top-theta, generate ==\n");
    const char *cal[] = {"--model", model, "--tokens", calib_tokens, "--k", kbuf, "--placement",
                         "post", "--max-seqs", sbuf, "--out", table, devopt, dev, NULL};
    int rc = run(cmd_calibrate, "calibrate", cal);
    const char *dense[] = {"--model", model, "--tokens", eval_tokens, "--mode", "dense",
                           "--max-seqs", sbuf, devopt, dev, NULL};
    const char *theta[] = {"--model", model, "--tokens", eval_tokens, "--table", table, "--mode",
                           "theta", "--placement", "post", "--vmc", "--max-seqs", sbuf, devopt,
                           dev, NULL};
    const char *topk[] = {"--model", model, "--tokens", eval_tokens, "--mode", "topk", "--k", kbuf,
                          "--sdc", "exact", "--vmc", "--max-seqs", sbuf, devopt, dev, NULL};
    const char *gen[] = {"--model", model, "--table", table, "--mode", "theta", "--placement",
                         "post", "--vmc", "--steps", "48", devopt, dev, NULL};
    if (!rc)
        rc = run(cmd_eval, "eval", dense);
    if (!rc)
        rc = run(cmd_eval, "eval", theta);
    if (!rc)
        rc = run(cmd_eval, "eval", topk);
    if (!rc)
        rc = run(cmd_generate, "generate", gen);
    unlink(table);
    rmdir(tmpl);
    return rc;
}

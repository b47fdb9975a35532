/* cmd_generate.c — `toptheta generate`: prefills a prompt (default: BOS) and then decodes one token
 * per step through the KV cache with the chosen attention mode; greedy at temperature 0, else
 * seeded sampling. Prints the prompt and generated ids on one line, so `--steps 511` from BOS is
 * directly comparable with shared/data/stories260K/greedy_ids.txt. */
#include "commands.h"
#include "model/model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* xorshift64*: a fixed, portable generator so a seed reproduces the same ids everywhere. */
static double uniform01(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* Greedy (first maximum) at temp 0; else a draw from softmax(logits / temp). */
static int next_token(const float *lg, int n, double temp, uint64_t *rng)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (lg[i] > lg[best])
            best = i;
    if (temp <= 0)
        return best;
    double z = 0;
    for (int i = 0; i < n; i++)
        z += exp(((double)lg[i] - lg[best]) / temp);
    double u = uniform01(rng) * z, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += exp(((double)lg[i] - lg[best]) / temp);
        if (u < acc)
            return i;
    }
    return best; /* rounding left u just above the total */
}

static void usage(void)
{
    fprintf(stderr,
            "usage: toptheta generate --model M --steps N [--prompt \"ids\" | --prompt-text \"...\"\n"
            "       | --text FILE [--range A:B] [--ctx N]] [--temp T --seed S]\n"
            "       [--table FILE] [--mode dense|topk|theta] [--k K] [--layer-k 0:128,1:64]\n"
            "       [--placement pre|post|rel]\n"
            "       [--sdc none|exact|exp-threshold|offline] [--lambda L] [--vmc]\n"
            "       [--post exact|onepass] [--kv f32|f16] [--json] [--device SEL]\n"
            "       [--backend device|reference]\n"
            "prints the prompt ids followed by N generated ids (prompt default: BOS = 1); with a\n"
            "tokenizer (GGUF models) also the decoded prompt and continuation. --text takes the\n"
            "prompt from a file (--range A:B of it, --ctx N: its last N tokens).\n");
}

int cmd_generate(int argc, char **argv)
{
    static const char *const known[] = {"model", "table", "mode", "k", "layer-k", "placement",
                                        "sdc",
                                        "lambda", "vmc", "post", "kv", "steps", "temp", "seed",
                                        "prompt", "json", "device", "backend", "prompt-text",
                                        "text", "range", "ctx", "help", NULL};
    if (cli_flag(argc, argv, "help")) {
        usage();
        return 0;
    }
    if (!cli_check_options(argc, argv, known, "generate"))
        return 2;
    const char *mpath = cli_opt(argc, argv, "model");
    long steps = cli_opt_long(argc, argv, "steps", -1);
    double temp = cli_opt_double(argc, argv, "temp", 0.0);
    long seed = cli_opt_long(argc, argv, "seed", 0);
    if (!mpath || steps < 1) {
        usage();
        return 2;
    }
    if (!isfinite(temp) || temp < 0) {
        fprintf(stderr, "error: --temp must be finite and >= 0\n");
        return 2;
    }
    const char *prompt = cli_opt(argc, argv, "prompt");
    int json = cli_flag(argc, argv, "json");
    char msg[1024];
    tm_model *m = NULL;
    tm_tokens *pt = NULL;
    tt_table *table = NULL;
    tt_context *ctx = NULL;
    tm_runner *r = NULL;
    tt_attn_params *params = NULL;
    int *ids = NULL;
    float *lg = NULL;
    int rc = 1;
    tt_status st = tm_model_open(mpath, &m, msg, sizeof msg); /* llama2.c or GGUF */
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: model: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    int *tids = NULL, tn = 0; /* a prompt given as text (cli_text.c) */
    if (prompt && (cli_opt(argc, argv, "prompt-text") || cli_opt(argc, argv, "text"))) {
        fprintf(stderr, "error: give one of --prompt, --prompt-text, --text\n");
        rc = 2;
        goto done;
    }
    if ((rc = cli_text_prompt(argc, argv, m, &tids, &tn)) != 0)
        goto done;
    rc = 1;
    char bos[16];
    snprintf(bos, sizeof bos, "%d", m->bos_id >= 0 ? m->bos_id : 1);
    const char *ptext = prompt ? prompt : bos;
    if (tids) { /* reuse the id parser's structure: one sequence */
        pt = calloc(1, sizeof *pt);
        if (!pt || !(pt->len = malloc(sizeof(int))) || !(pt->seq = malloc(sizeof(int *)))) {
            free(tids);
            goto done;
        }
        pt->n_seqs = 1, pt->len[0] = tn, pt->seq[0] = tids;
    } else
        st = tm_tokens_parse(ptext, strlen(ptext), m->cfg.vocab_size, &pt, msg, sizeof msg);
    if (st == TT_SUCCESS && pt->n_seqs != 1) {
        st = TT_ERR_FORMAT;
        snprintf(msg, sizeof msg, "the prompt must be a single line of ids");
    }
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: --prompt: %s: %s\n", tt_status_name(st), msg);
        goto done;
    }
    int plen = pt->len[0];
    /* The last generated id is never fed back, so the cache holds plen + steps - 1 positions. */
    if (steps > (long)m->cfg.seq_len - plen + 1) {
        fprintf(stderr, "error: --steps %ld: a %d-token prompt leaves room for %d steps (seq_len "
                        "%d)\n", steps, plen, m->cfg.seq_len - plen + 1, m->cfg.seq_len);
        rc = 2;
        goto done;
    }
    params = calloc((size_t)m->cfg.n_layers, sizeof *params);
    ids = malloc(((size_t)plen + (size_t)steps) * sizeof(int));
    lg = malloc((size_t)m->cfg.vocab_size * sizeof(float));
    if (!params || !ids || !lg)
        goto done;
    if ((rc = cli_model_params(argc, argv, m->cfg.n_layers, params, &table)) != 0)
        goto done;
    if ((rc = cli_model_runner(argc, argv, m, 0, 0, &ctx, &r)) != 0)
        goto done;
    rc = 1;
    tm_runner_set_params(r, params);
    memcpy(ids, pt->seq[0], (size_t)plen * sizeof(int));
    uint64_t rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)seed;
    int n = plen;
    st = tm_forward(r, ids, plen, lg, 0); /* prefill: one chunked call, last row's logits */
    while (st == TT_SUCCESS) {
        ids[n] = next_token(lg, m->cfg.vocab_size, temp, &rng);
        if (++n == plen + steps)
            break;
        st = tm_forward(r, &ids[n - 1], 1, lg, 0); /* decode with the KV cache */
    }
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: generate: %s: %s\n", tt_status_name(st), tm_runner_error(r));
        goto done;
    }
    if (json)
        printf("{\"prompt_len\":%d,\"steps\":%ld,\"tokens\":[", plen, steps);
    for (int i = 0; i < n; i++)
        printf("%d%s", ids[i], i + 1 < n ? (json ? "," : " ") : "");
    char *dp = cli_decode(m, ids, plen), *dg = cli_decode(m, ids + plen, n - plen);
    if (json && dp && dg) {
        printf("],\"prompt_text\":");
        cli_json_string(dp);
        printf(",\"text\":");
        cli_json_string(dg);
        printf("}\n");
    } else {
        printf(json ? "]}\n" : "\n");
        if (dp && dg) /* the continuation starts right where the prompt ends */
            printf("--- prompt ---\n%s\n--- continuation ---\n%s\n", dp, dg);
    }
    free(dp);
    free(dg);
    rc = 0;
done:
    free(lg);
    free(ids);
    tm_runner_destroy(r);
    tt_context_destroy(ctx);
    tt_table_destroy(table);
    free(params);
    tm_tokens_free(pt);
    tm_model_free(m);
    return rc;
}

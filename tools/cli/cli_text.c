/* cli_text.c — text mode of the model subcommands: --text FILE with --ctx/--stride windows and a
 * --range of the file (tools/model/text_input.c does the work), prompts given as text, and printing
 * decoded tokens. Shared by eval, generate and calibrate so the options mean the same everywhere. */
#include "commands.h"
#include "model/model.h"
#include "tokenizer/bpe.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_range(const char *s, double *from, double *to)
{
    *from = 0.0, *to = 1.0;
    if (!s)
        return 0;
    char *end;
    errno = 0;
    double a = strtod(s, &end);
    if (errno || end == s || *end != ':')
        return fprintf(stderr, "error: --range '%s': expected A:B (fractions, e.g. 0:0.8)\n", s),
               2;
    const char *p = end + 1;
    double b = strtod(p, &end);
    if (errno || end == p || *end || !(a >= 0 && a < b && b <= 1))
        return fprintf(stderr, "error: --range '%s': expected A:B with 0 <= A < B <= 1\n", s), 2;
    *from = a, *to = b;
    return 0;
}

int cli_text_tokens(int argc, char **argv, const tm_model *m, tm_tokens **out)
{
    *out = NULL;
    const char *path = cli_opt(argc, argv, "text");
    if (!path)
        return 0;
    tm_text_config tc;
    tm_text_config_init(&tc);
    long ctx = cli_opt_long(argc, argv, "ctx", 0), stride = cli_opt_long(argc, argv, "stride", 0);
    if (ctx < 0 || ctx > m->cfg.seq_len || stride < 0 || stride > (ctx ? ctx : m->cfg.seq_len)) {
        fprintf(stderr, "error: --ctx must be in 1..%d and --stride in 1..ctx (0 = defaults)\n",
                m->cfg.seq_len);
        return 2;
    }
    tc.ctx = (int)ctx, tc.stride = (int)stride;
    if (cli_parse_range(cli_opt(argc, argv, "range"), &tc.from, &tc.to))
        return 2;
    char msg[1024];
    tt_status st = tm_text_load(m, path, &tc, out, msg, sizeof msg);
    if (st != TT_SUCCESS) {
        fprintf(stderr, "error: --text: %s: %s\n", tt_status_name(st), msg);
        return 1;
    }
    const tm_tokens *t = *out;
    fprintf(stderr, "text: %s [%g:%g]: %d windows of <= %d tokens, %ld predictions scored\n",
            path, tc.from, tc.to, t->n_seqs, t->len[0], tm_tokens_scored(t, 0));
    return 0;
}

int cli_text_prompt(int argc, char **argv, const tm_model *m, int **ids, int *n)
{
    *ids = NULL, *n = 0;
    const char *path = cli_opt(argc, argv, "text"), *inline_text = cli_opt(argc, argv,
                                                                          "prompt-text");
    if (!path && !inline_text)
        return 0;
    if (path && inline_text)
        return fprintf(stderr, "error: --text and --prompt-text exclude each other\n"), 2;
    double from, to;
    if (cli_parse_range(cli_opt(argc, argv, "range"), &from, &to))
        return 2;
    char msg[1024], *text = NULL;
    size_t len = 0, k = 0;
    int *body = NULL;
    tt_status st = TT_SUCCESS;
    if (path)
        st = tm_text_read_file(path, &text, &len, msg, sizeof msg);
    if (st == TT_SUCCESS)
        st = tm_text_encode(m, path ? text : inline_text, path ? len : strlen(inline_text), from,
                            to, &body, &k, msg, sizeof msg);
    free(text);
    if (st != TT_SUCCESS)
        return fprintf(stderr, "error: prompt: %s: %s\n", tt_status_name(st), msg), 1;
    /* --ctx N keeps the last N prompt tokens (BOS included), e.g. the end of a long file. */
    long ctx = cli_opt_long(argc, argv, "ctx", 0);
    size_t b = m->add_bos != 0, keep = k;
    if (ctx > (long)b && (size_t)ctx - b < k)
        keep = (size_t)ctx - b;
    if (keep + b == 0) {
        free(body);
        return fprintf(stderr, "error: prompt: the text gives no tokens\n"), 2;
    }
    int *p = malloc((keep + b) * sizeof(int));
    if (!p) {
        free(body);
        return fprintf(stderr, "error: prompt: out of memory\n"), 1;
    }
    if (b)
        p[0] = m->bos_id;
    memcpy(p + b, body + (k - keep), keep * sizeof(int));
    free(body);
    *ids = p, *n = (int)(keep + b);
    return 0;
}

char *cli_decode(const tm_model *m, const int *ids, int n)
{
    if (!m->tokenizer || n < 0)
        return NULL;
    int32_t *v = malloc(((size_t)n + 1) * sizeof *v);
    char *s = NULL;
    size_t len;
    if (!v)
        return NULL;
    for (int i = 0; i < n; i++)
        v[i] = ids[i];
    if (bpe_decode(m->tokenizer, v, (size_t)n, BPE_SKIP_SPECIAL, &s, &len) != TT_SUCCESS)
        s = NULL;
    free(v);
    return s;
}

void cli_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            printf("\\n");
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p); /* UTF-8 passes through; JSON allows it raw */
    }
    putchar('"');
}

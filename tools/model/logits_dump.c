/* logits_dump.c — `tt-logits`, an offline helper for tools/model/crosscheck_hf.py: tokenises the
 * start of a text file with the model's tokenizer, runs the dense forward pass once (device backend,
 * fp32 KV cache) and writes the ids (PREFIX.ids, one line) and every row's logits (PREFIX.f32,
 * float32 [n][vocab], little-endian). Not used by the build's tests or the CLI. */
#include "model/model.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: tt-logits MODEL.gguf TEXT_FILE N OUT_PREFIX [FROM]\n"
                        "  the first N tokens of TEXT_FILE (from byte fraction FROM, default 0)\n");
        return 2;
    }
    int n = atoi(argv[3]);
    double from = argc == 6 ? atof(argv[5]) : 0.0;
    char msg[1024], path[4096];
    tm_model *m = NULL;
    tt_status st = tm_model_open(argv[1], &m, msg, sizeof msg);
    if (st != TT_SUCCESS)
        return fprintf(stderr, "model: %s\n", msg), 1;
    char *text = NULL;
    size_t len = 0, k = 0;
    int *ids = NULL;
    if ((st = tm_text_read_file(argv[2], &text, &len, msg, sizeof msg)) == TT_SUCCESS)
        st = tm_text_encode(m, text, len, from, 1.0, &ids, &k, msg, sizeof msg);
    free(text);
    if (st != TT_SUCCESS || n < 1 || (size_t)n > k || n > m->cfg.seq_len)
        return fprintf(stderr, "text: %s (%zu tokens available, N = %d)\n", msg, k, n), 1;
    tt_context *ctx = NULL;
    tm_runner *r = NULL;
    if ((st = tt_context_create(NULL, &ctx)) != TT_SUCCESS)
        return fprintf(stderr, "device: %s\n", tt_last_error(NULL)), 1;
    tm_runner_config rc = {TM_BACKEND_DEVICE, ctx, TT_DTYPE_F32, n, 0, 0};
    if ((st = tm_runner_create(m, &rc, &r)) != TT_SUCCESS)
        return fprintf(stderr, "runner: %s\n", tt_status_name(st)), 1;
    size_t V = (size_t)m->cfg.vocab_size;
    float *lg = malloc((size_t)n * V * sizeof(float));
    if (!lg)
        return fprintf(stderr, "out of memory\n"), 1;
    if ((st = tm_forward(r, ids, n, lg, 1)) != TT_SUCCESS)
        return fprintf(stderr, "forward: %s\n", tm_runner_error(r)), 1;
    snprintf(path, sizeof path, "%s.ids", argv[4]);
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < n; i++)
        fprintf(f, "%d%c", ids[i], i + 1 < n ? ' ' : '\n');
    int bad = !f || fclose(f) != 0;
    snprintf(path, sizeof path, "%s.f32", argv[4]);
    f = fopen(path, "wb");
    bad |= !f || fwrite(lg, sizeof(float), (size_t)n * V, f) != (size_t)n * V;
    bad |= f && fclose(f) != 0;
    if (bad)
        return fprintf(stderr, "cannot write %s.*\n", argv[4]), 1;
    printf("%d tokens, %zu logits per row written to %s.ids / .f32\n", n, V, argv[4]);
    free(lg);
    free(ids);
    tm_runner_destroy(r);
    tt_context_destroy(ctx);
    tm_model_free(m);
    return 0;
}

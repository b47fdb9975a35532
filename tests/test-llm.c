/* test-llm.c — SmolLM2-135M from its GGUF through the runner: hyper-parameters, dense logits against
 * an independent float64 implementation (tools/model/crosscheck_hf.py), chunked prefill against
 * token-by-token decode, and the text windows' arithmetic (which needs no model). The model tests
 * skip when the GGUF is not in the model cache or no OpenCL device exists; they never download. */
#include "gguf/gguf.h"
#include "model/model.h"
#include "support.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char model_path[1024];
static tm_model *model;
static tt_context *ctx;

/* "First Citizen:\nBefore we proceed any further, hear me speak.\n\n" — the first 16 tokens of
 * tinyshakespeare.txt (ids from tt-logits; the tokenizer suite checks them against HF). */
static const int IDS[16] = {5345, 32062, 42, 198, 6121, 392, 7219, 750,
                            2030, 28,    4875, 549, 3287, 30,  198, 198};

/* Reference from `python tools/model/crosscheck_hf.py MODEL.gguf --ids "5345 32062 42 198 6121
 * 392 7219 750 2030 28 4875 549 3287 30 198 198"` (gguf 0.19.0, numpy 2.4.6, float64): per
 * position the argmax, its logit and logits of ids 0..3. */
static const struct {
    int pos, argmax;
    double top, l[4];
} REF[] = {
    {0, 29, 25.412223, {14.447009, 5.078674, 8.384340, 3.564297}},
    {3, 198, 32.311942, {21.799322, 18.070715, 20.383607, 16.184802}},
    {5, 1956, 23.939953, {4.814484, -9.176614, -6.059380, -10.787354}},
    {9, 339, 16.304486, {-0.071728, -4.697785, -0.403633, -5.867553}},
    {13, 198, 13.810754, {2.609277, 5.707682, 12.497350, 2.405059}},
    {15, 504, 29.262440, {14.563005, 14.014503, 15.846174, 13.363800}},
};

static void setup(void)
{
    char msg[1024];
    ck_assert_msg(tm_model_open(model_path, &model, msg, sizeof msg) == TT_SUCCESS, "%s", msg);
    ck_assert(tt_context_create(NULL, &ctx) == TT_SUCCESS);
}

static void teardown(void)
{
    tt_context_destroy(ctx);
    tm_model_free(model);
    ctx = NULL, model = NULL;
}

static tm_runner *runner(int max_seq)
{
    tm_runner_config rc = {TM_BACKEND_DEVICE, ctx, TT_DTYPE_F32, max_seq, 0, 0};
    tm_runner *r = NULL;
    ck_assert(tm_runner_create(model, &rc, &r) == TT_SUCCESS);
    return r;
}

START_TEST(hyper_parameters)
{
    const tm_config *c = &model->cfg;
    ck_assert_int_eq(c->n_layers, 30);
    ck_assert_int_eq(c->dim, 576);
    ck_assert_int_eq(c->hidden_dim, 1536);
    ck_assert_int_eq(c->n_heads, 9);
    ck_assert_int_eq(c->n_kv_heads, 3);
    ck_assert_int_eq(c->head_size, 64);
    ck_assert_int_eq(c->kv_dim, 192);
    ck_assert_int_eq(c->vocab_size, 49152);
    ck_assert_int_eq(c->seq_len, 8192);
    ck_assert(c->shared_classifier && model->wcls == model->token_embedding);
    ck_assert(c->norm_eps == 1e-5f && c->rope_theta == 100000.0f);
    ck_assert_int_eq(c->rope_layout, TM_ROPE_ADJACENT);
    ck_assert(model->tokenizer != NULL);
    ck_assert_int_eq(model->bos_id, 1);
    ck_assert_int_eq(model->eos_id, 2);
    ck_assert_int_eq(model->add_bos, 0); /* tokenizer.ggml.add_bos_token = false */
    /* Dequantised once into one block: 134,515,008 values in the file; the tied classifier adds
     * nothing, and every pointer lies inside the block. */
    ck_assert_uint_eq(model->n_floats, 134515008u);
    ck_assert(model->rms_final + c->dim <= model->data + model->n_floats);
}
END_TEST

START_TEST(dense_logits_match_reference)
{
    enum { N = 16 };
    int V = model->cfg.vocab_size;
    float *lg = malloc(sizeof(float) * N * (size_t)V);
    ck_assert(lg);
    tm_runner *r = runner(64);
    ck_assert_msg(tm_forward(r, IDS, N, lg, 1) == TT_SUCCESS, "%s", tm_runner_error(r));
    double worst = 0;
    for (size_t i = 0; i < sizeof REF / sizeof REF[0]; i++) {
        const float *row = lg + (size_t)REF[i].pos * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            best = row[v] > row[best] ? v : best;
        ck_assert_msg(best == REF[i].argmax, "position %d: argmax %d, reference %d", REF[i].pos,
                      best, REF[i].argmax);
        worst = fmax(worst, fabs(row[best] - REF[i].top));
        for (int j = 0; j < 4; j++)
            worst = fmax(worst, fabs(row[j] - REF[i].l[j]));
    }
    /* fp32 against float64 over 30 layers: the crosscheck measured at most 6e-5 over 256 tokens. */
    printf("# max |logit - float64 reference| %.2e\n", worst);
    ck_assert_msg(worst < 1e-3, "logits differ from the reference by %.3g", worst);
    tm_runner_destroy(r);
    free(lg);
}
END_TEST

/* Prefill in one call, in chunks of 5, and one token at a time give the same logits: the KV
 * cache, RoPE positions and the GEMM engine are consistent across chunk sizes. */
START_TEST(prefill_chunks_equal_decode)
{
    enum { N = 16 };
    int V = model->cfg.vocab_size;
    float *whole = malloc(sizeof(float) * N * (size_t)V), *part = malloc(sizeof(float) * N * V);
    ck_assert(whole && part);
    tm_runner *r = runner(64);
    ck_assert(tm_forward(r, IDS, N, whole, 1) == TT_SUCCESS);
    static const int chunks[2] = {5, 1};
    for (int c = 0; c < 2; c++) {
        tm_runner_reset(r);
        for (int at = 0; at < N; at += chunks[c]) {
            int T = N - at < chunks[c] ? N - at : chunks[c];
            ck_assert_msg(tm_forward(r, IDS + at, T, part + (size_t)at * V, 1) == TT_SUCCESS,
                          "%s", tm_runner_error(r));
        }
        double worst = 0;
        for (size_t i = 0; i < (size_t)N * V; i++)
            worst = fmax(worst, fabs(whole[i] - part[i]));
        printf("# chunk %d: max |logit difference| %.2e\n", chunks[c], worst);
        /* Host GEMM results do not depend on the chunk; the device's prefill and decode
         * attention kernels sum in different orders; CLBlast (GPUs) adds its own rounding. */
        ck_assert_msg(worst < 2e-3, "chunk %d: logits differ by %.3g", chunks[c], worst);
    }
    tm_runner_destroy(r);
    free(whole);
    free(part);
}
END_TEST

/* The CLBlast path (what GPUs use for long chunks; forced here, since PoCL defaults to the host
 * GEMM) gives the host GEMM's logits up to summation order. */
START_TEST(clblast_gemm_matches_host)
{
#ifndef TT_HAVE_CLBLAST
    printf("# built without CLBlast: nothing to compare\n");
#else
    enum { N = 16 };
    size_t V = (size_t)model->cfg.vocab_size;
    float *host = malloc(sizeof(float) * N * V), *dev = malloc(sizeof(float) * N * V);
    ck_assert(host && dev);
    setenv("TOPTHETA_GEMM", "host", 1);
    tm_runner *r = runner(64);
    ck_assert(tm_forward(r, IDS, N, host, 1) == TT_SUCCESS);
    tm_runner_destroy(r);
    setenv("TOPTHETA_GEMM", "device", 1);
    r = runner(64);
    unsetenv("TOPTHETA_GEMM");
    ck_assert_msg(tm_forward(r, IDS, N, dev, 1) == TT_SUCCESS, "%s", tm_runner_error(r));
    double worst = 0;
    for (size_t i = 0; i < N * V; i++)
        worst = fmax(worst, fabs(host[i] - dev[i]));
    printf("# CLBlast vs host GEMM: max |logit difference| %.2e\n", worst);
    ck_assert_msg(worst < 1e-3, "CLBlast and host logits differ by %.3g", worst);
    tm_runner_destroy(r);
    free(host);
    free(dev);
#endif
}
END_TEST

/* Encoding a text and cutting it by byte fractions partitions the whole text's tokens. */
START_TEST(text_range_partitions)
{
    char msg[512], text[4096];
    size_t len = 0;
    for (int i = 0; len + 64 < sizeof text; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "Line %d: to be, or not to be.\n",
                                i);
    int *all, *a, *b;
    size_t na, nb, nall;
    ck_assert_msg(tm_text_encode(model, text, len, 0, 1, &all, &nall, msg, sizeof msg) == 0, "%s",
                  msg);
    ck_assert(tm_text_encode(model, text, len, 0, 0.8, &a, &na, msg, sizeof msg) == 0);
    ck_assert(tm_text_encode(model, text, len, 0.8, 1, &b, &nb, msg, sizeof msg) == 0);
    ck_assert_uint_eq(na + nb, nall);
    ck_assert(na > nall * 7 / 10 && na < nall * 9 / 10);
    ck_assert(!memcmp(all, a, na * sizeof(int)) && !memcmp(all + na, b, nb * sizeof(int)));
    free(all);
    free(a);
    free(b);
    ck_assert_int_eq(tm_text_encode(model, text, len, 0.5, 0.5, &a, &na, msg, sizeof msg),
                     TT_INVALID_VALUE);
    ck_assert(a == NULL && na == 0);
}
END_TEST

/* Windows over 0..n-1 without a model: counts, contents and first_target. */
static tm_tokens *windows(size_t n, int ctx_len, int stride, int bos)
{
    static int ids[64];
    char msg[256];
    for (int i = 0; i < 64; i++)
        ids[i] = 100 + i;
    tm_tokens *t = NULL;
    ck_assert_msg(tm_text_windows(ids, n, ctx_len, stride, bos, &t, msg, sizeof msg) == 0, "%s",
                  msg);
    return t;
}

START_TEST(window_arithmetic)
{
    /* Disjoint windows of 4 over 10 tokens: [0,4) [4,8) [8,10); each window's first token is
     * context only, so 3 + 3 + 1 predictions. */
    tm_tokens *t = windows(10, 4, 4, -1);
    ck_assert_int_eq(t->n_seqs, 3);
    ck_assert(t->len[0] == 4 && t->len[1] == 4 && t->len[2] == 2);
    ck_assert(t->seq[1][0] == 104 && t->seq[2][1] == 109);
    ck_assert(t->first_target[0] == 1 && t->first_target[1] == 1 && t->first_target[2] == 1);
    ck_assert_int_eq(tm_tokens_scored(t, 0), 7);
    ck_assert_int_eq(tm_tokens_scored(t, 2), 6);
    tm_tokens_free(t);
    /* Stride 2: starts 0, 2, 4, 6; every token but the first scored exactly once (n - 1). */
    t = windows(10, 4, 2, -1);
    ck_assert_int_eq(t->n_seqs, 4);
    ck_assert(t->first_target[0] == 1 && t->first_target[1] == 2 && t->first_target[3] == 2);
    ck_assert(t->seq[3][0] == 106 && t->len[3] == 4);
    ck_assert_int_eq(tm_tokens_scored(t, 0), 9);
    tm_tokens_free(t);
    /* Uneven stride: starts 0, 3, 6 over 11 tokens with ctx 5 → ends 5, 8, 11; scored 4+3+3. */
    t = windows(11, 5, 3, -1);
    ck_assert_int_eq(t->n_seqs, 3);
    ck_assert(t->first_target[1] == 2 && t->first_target[2] == 2 && t->len[2] == 5);
    ck_assert_int_eq(tm_tokens_scored(t, 0), 10);
    tm_tokens_free(t);
    /* With BOS (id 1): 3 text tokens per window of 4, all scored: n predictions. */
    t = windows(10, 4, 3, 1);
    ck_assert_int_eq(t->n_seqs, 4);
    ck_assert(t->seq[0][0] == 1 && t->seq[0][1] == 100 && t->seq[3][0] == 1 && t->len[3] == 2);
    ck_assert_int_eq(t->first_target[0], 1);
    ck_assert_int_eq(tm_tokens_scored(t, 0), 10);
    tm_tokens_free(t);
    /* A 1-token tail after disjoint windows scores nothing and is left out. */
    t = windows(9, 4, 4, -1);
    ck_assert_int_eq(t->n_seqs, 2);
    ck_assert_int_eq(tm_tokens_scored(t, 0), 6);
    tm_tokens_free(t);
    /* Errors: stride beyond a window, a window too short, nothing to score. */
    char msg[256];
    int ids[4] = {0};
    ck_assert_int_eq(tm_text_windows(ids, 4, 4, 5, -1, &t, msg, sizeof msg), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tm_text_windows(ids, 4, 4, 4, 1, &t, msg, sizeof msg), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tm_text_windows(ids, 4, 1, 1, -1, &t, msg, sizeof msg), TT_ERR_BAD_SHAPE);
    ck_assert_int_eq(tm_text_windows(ids, 1, 4, 4, -1, &t, msg, sizeof msg), TT_ERR_BAD_SHAPE);
    ck_assert(t == NULL);
}
END_TEST

/* tm_eval scores exactly the windows' targets, and strided evaluation of a short text gives a
 * plausible perplexity (the model predicts English far better than uniform). */
START_TEST(eval_scores_window_targets)
{
    char msg[512];
    int *ids;
    size_t n;
    const char *text = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n"
                       "Speak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than "
                       "to famish?\n";
    ck_assert(tm_text_encode(model, text, strlen(text), 0, 1, &ids, &n, msg, sizeof msg) == 0);
    tm_tokens *t = NULL;
    ck_assert(tm_text_windows(ids, n, 24, 8, -1, &t, msg, sizeof msg) == 0);
    tm_runner_config rc = {TM_BACKEND_DEVICE, ctx, TT_DTYPE_F32, 32, 0, 1};
    tm_runner *r = NULL;
    ck_assert(tm_runner_create(model, &rc, &r) == TT_SUCCESS);
    tm_eval_config ec = {NULL, 0, 0, NULL, NULL};
    tm_eval_result res;
    ck_assert_msg(tm_eval(r, t, &ec, &res, msg, sizeof msg) == TT_SUCCESS, "%s", msg);
    printf("# %zu tokens, %d windows: ppl %.4f over %ld predictions\n", n, t->n_seqs, res.ppl,
           res.tokens);
    ck_assert_int_eq(res.tokens, (long)n - 1);
    ck_assert_int_eq(res.tokens, tm_tokens_scored(t, 0));
    ck_assert(res.ppl > 1 && res.ppl < 200);
    tm_eval_result_free(&res);
    tm_runner_destroy(r);
    tm_tokens_free(t);
    free(ids);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("llm");
    TCase *tc = tcase_create("windows");
    tcase_add_test(tc, window_arithmetic);
    suite_add_tcase(s, tc);
    int have = gg_model_path(GG_SMOLLM2_FILE, model_path, sizeof model_path) == 1;
    if (have && tt_test_have_device()) {
        TCase *real = tcase_create("smollm2");
        tcase_add_unchecked_fixture(real, setup, teardown); /* load the 540 MB once */
        tcase_set_timeout(real, 600);
        tcase_add_test(real, hyper_parameters);
        tcase_add_test(real, dense_logits_match_reference);
        tcase_add_test(real, prefill_chunks_equal_decode);
        tcase_add_test(real, text_range_partitions);
        if (!tt_test_small()) { /* CLBlast's compiles and a 4-window eval are too slow there */
            tcase_add_test(real, clblast_gemm_matches_host);
            tcase_add_test(real, eval_scores_window_targets);
        }
        suite_add_tcase(s, real);
    } else {
        printf("# %s: SmolLM2 checks skipped (tools/model-get/get-smollm2.sh fetches the "
               "model)\n", have ? "no OpenCL device" : GG_SMOLLM2_FILE " not in the model cache");
        fflush(stdout);
    }
    return tt_test_run(s);
}

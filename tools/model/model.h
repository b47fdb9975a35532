/* model.h — the small LLaMA-architecture model runner of the tools: a llama2.c-format weight loader
 * (llama2c.c), a forward pass whose attention goes through libtoptheta (forward.c) and teacher-forced
 * evaluation of token files against dense attention (eval.c). Names use the tm_ prefix so they
 * cannot collide with the library's tt_ API. */
#ifndef TT_TOOLS_MODEL_H
#define TT_TOOLS_MODEL_H

#include "toptheta.h"
#include <stddef.h>
#include <stdint.h>

/* ---- Weights (llama2c.c) ---------------------------------------------------------------------- */
typedef struct tm_config {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int head_size, kv_dim;  /* derived: dim / n_heads, head_size * n_kv_heads */
    int shared_classifier;  /* vocab_size was positive in the header */
} tm_config;

typedef struct tm_model {
    tm_config cfg;
    float *data; /* owns every array below */
    const float *token_embedding, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3;
    const float *rms_final, *wcls; /* wcls == token_embedding when shared */
} tm_model;

/* Loads a llama2.c checkpoint. The header is validated and the file size must equal exactly what
 * it implies. Errors: TT_ERR_IO (cannot open/read), TT_ERR_TRUNCATED (shorter than the header or
 * the weights), TT_ERR_FORMAT (bad dimensions, or trailing bytes), TT_ERR_TOO_LARGE (beyond sane
 * limits), TT_ERR_NONFINITE (a NaN/Inf weight), TT_OUT_OF_HOST_MEMORY. msg (may be NULL) gets a
 * one-line explanation. */
tt_status tm_model_load(const char *path, tm_model **out, char *msg, size_t msg_size);
/* The same from a byte buffer (the data is copied; used by fuzzers). */
tt_status tm_model_load_memory(const void *data, size_t size, tm_model **out, char *msg,
                               size_t msg_size);
void tm_model_free(tm_model *m);

/* ---- Forward pass (forward.c) ----------------------------------------------------------------- */
typedef enum tm_backend {
    TM_BACKEND_DEVICE = 0,   /* tt_attention_enqueue on a tt_context, KV cache in cl_mem */
    TM_BACKEND_REFERENCE = 1 /* tt_reference_attention on a host copy of the cache (oracle) */
} tm_backend;

typedef struct tm_runner_config {
    tm_backend backend;
    tt_context *ctx;   /* device backend only (not owned); ignored by the reference backend */
    tt_dtype kv_dtype; /* storage of the KV cache */
    int max_seq;       /* cache length; 0 = the model's seq_len */
    int max_chunk;     /* most tokens per attention call; 0 = max_seq. Longer inputs are split. */
    int collect_stats; /* accumulate tm_layer_stats (costs a stats read-back per call) */
} tm_runner_config;

/* Per-layer counters, summed over every attention row processed since the last reset of stats.
 * kept: kept elements over all query heads; vrows: union of kept V rows over all KV heads;
 * len_sum: Σ row lengths n over the rows of ONE head. So the causal elements of the layer are
 * len_sum · n_heads and the V-row denominator is len_sum · n_kv_heads. */
typedef struct tm_layer_stats {
    uint64_t kept, vrows, len_sum, rows;
} tm_layer_stats;

typedef struct tm_runner tm_runner;

tt_status tm_runner_create(const tm_model *m, const tm_runner_config *cfg, tm_runner **out);
void tm_runner_destroy(tm_runner *r);
/* Message of the runner's last failure (the library's message included); never NULL. */
const char *tm_runner_error(const tm_runner *r);
const tm_model *tm_runner_model(const tm_runner *r);
const tm_runner_config *tm_runner_get_config(const tm_runner *r);
/* Empties the KV cache (position 0); statistics are kept (see tm_runner_stats_reset). */
void tm_runner_reset(tm_runner *r);
int tm_runner_pos(const tm_runner *r);

/* Sets the attention parameters of every layer: params[l] for layer l (the caller sets .layer);
 * NULL means dense everywhere. The array is copied. */
tt_status tm_runner_set_params(tm_runner *r, const tt_attn_params *params);

/* Appends tokens[0..n) at positions pos..pos+n-1 (chunked prefill when n > 1, decode when
 * n == 1) and writes logits: all n rows ([n][vocab]) when all_logits, else only the last row
 * ([vocab]). logits may be NULL. After a failure the cache is inconsistent: reset before reuse. */
tt_status tm_forward(tm_runner *r, const int *tokens, int n, float *logits, int all_logits);

/* Statistics of layer l (tm_runner_config.collect_stats); zeroed by tm_runner_stats_reset. */
const tm_layer_stats *tm_runner_stats(const tm_runner *r, int layer);
void tm_runner_stats_reset(tm_runner *r);

/* Fills params[0..n_layers) with *base and .layer = l (a convenience for uniform settings). */
void tm_params_per_layer(const tt_attn_params *base, tt_attn_params *params, int n_layers);

/* ---- Token files and evaluation (eval.c) --------------------------------------------------------- */
typedef struct tm_tokens {
    int n_seqs;
    int *len;  /* tokens of each sequence */
    int **seq; /* seq[i][0 .. len[i]) */
} tm_tokens;

/* Parses one sequence per line of space-separated non-negative ids below vocab (vocab <= 0: no
 * bound). Strict: any other character, an empty line or an id out of range is TT_ERR_FORMAT with
 * the line and column in msg. A final line without '\n' is accepted. */
tt_status tm_tokens_parse(const char *text, size_t len, int vocab, tm_tokens **out, char *msg,
                          size_t msg_size);
tt_status tm_tokens_load(const char *path, int vocab, tm_tokens **out, char *msg, size_t msg_size);
void tm_tokens_free(tm_tokens *t);

typedef struct tm_eval_config {
    const tt_attn_params *params; /* [n_layers] of the evaluated run; NULL = dense */
    int chunk;                    /* prefill chunk length; 0 = the whole sequence at once */
    int max_seqs;                 /* 0 = every sequence */
    /* Optional progress callback after each sequence (done of total). */
    void (*progress)(void *user, int done, int total, double nll_so_far);
    void *user;
} tm_eval_config;

typedef struct tm_eval_layer {
    tm_layer_stats stats;
    double kept_frac, vrow_frac;
} tm_eval_layer;

typedef struct tm_eval_result {
    double nll;        /* mean NLL (nats) of the evaluated run over every predicted token */
    double ppl;        /* exp(nll) */
    double top1_agree; /* fraction of predictions whose argmax equals dense's */
    double kl;         /* mean KL(dense || evaluated) per predicted token, nats */
    double dense_nll;  /* mean NLL of the dense run */
    double kept_frac;  /* kept elements / causal elements, all layers, heads and rows */
    double vrow_frac;  /* union V rows / row lengths, all layers, KV heads and rows */
    long tokens;       /* predicted tokens (Σ (len - 1)) */
    int seqs;
    int n_layers;
    tm_eval_layer *layers; /* [n_layers], freed by tm_eval_result_free */
} tm_eval_result;

/* Teacher-forced evaluation. The runner must have been created with collect_stats; its params are
 * overwritten. When the evaluated run is dense everywhere, the dense run is not repeated.
 * Errors carry a message in msg. */
tt_status tm_eval(tm_runner *r, const tm_tokens *toks, const tm_eval_config *cfg,
                  tm_eval_result *res, char *msg, size_t msg_size);
void tm_eval_result_free(tm_eval_result *res);

#endif

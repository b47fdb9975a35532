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
    int shared_classifier;  /* vocab_size was positive in the header; GGUF: no output.weight */
    float norm_eps;         /* RMSNorm epsilon (llama2.c: 1e-5; GGUF: from the metadata) */
    float rope_theta;       /* RoPE base (llama2.c: 10000; GGUF: <arch>.rope.freq_base) */
    int rope_layout;        /* tm_rope_layout: which head dimensions RoPE rotates together */
} tm_config;

/* RoPE pairing inside a head. Both model formats need ADJACENT: llama2.c's own convention, and
 * GGUF files whose Q/K rows the converter permuted for llama.cpp's "NORM" rope (docs/SMOLLM2.md).
 * HALF (i with i + head_size/2, Hugging Face's rotate_half) is for weights in HF row order. */
typedef enum tm_rope_layout { TM_ROPE_ADJACENT = 0, TM_ROPE_HALF = 1 } tm_rope_layout;

struct bpe_tokenizer;
typedef struct tm_model {
    tm_config cfg;
    float *data; /* owns every array below */
    const float *token_embedding, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3;
    const float *rms_final, *wcls; /* wcls == token_embedding when shared */
    size_t n_floats;                  /* floats in data (one block: GEMM back ends upload it) */
    struct bpe_tokenizer *tokenizer;  /* GGUF only (owned; NULL for llama2.c) */
    int bos_id, eos_id, add_bos;      /* from the tokenizer metadata; -1/-1/0 without one */
    void (*free_extra)(struct tm_model *m); /* frees what a loader added (tokenizer); may be NULL */
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

/* ---- GGUF models (gguf_model.c) ----------------------------------------------------------------- */
/* Loads a LLaMA-architecture GGUF file (tools/gguf): every tensor dequantised to fp32 once, laid
 * out as the llama2.c loader does (W "out x in" row-major, Q/K rows as stored, so RoPE pairs are
 * ADJACENT), hyper-parameters from the metadata, and the BPE tokenizer. */
tt_status tm_model_load_gguf(const char *path, tm_model **out, char *msg, size_t msg_size);
/* Opens either format, picked by the file's magic ("GGUF" → GGUF, else llama2.c). */
tt_status tm_model_open(const char *path, tm_model **out, char *msg, size_t msg_size);

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

/* Observer of the attention inputs, for calibration: called once per layer and forward chunk,
 * before that layer's attention runs, with the chunk's post-RoPE queries q [n_heads][T][head_dim]
 * and the layer's K cache after this chunk's rows were appended, k [n_kv_heads][p0 + T][head_dim],
 * both fp32 host arrays valid during the call only (an fp16 cache is converted from the stored
 * values; the device backend reads the older rows back, which costs time only while an observer
 * is set). A non-zero return (a tt_status) fails the forward pass with that status. */
typedef int (*tm_observer_fn)(void *user, int layer, int n_heads, int n_kv_heads, int head_dim,
                              int T, int p0, const float *q, const float *k);
/* Sets (fn != NULL) or clears (fn == NULL) the observer. */
tt_status tm_runner_set_observer(tm_runner *r, tm_observer_fn fn, void *user);

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
    /* NULL, or per sequence the first position whose token is scored (>= 1): tokens before it
     * are context only (strided text windows, text_input.c). tm_eval skips their predictions. */
    int *first_target;
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

/* ---- Text input (text_input.c) ------------------------------------------------------------------ */
/* Windows over a tokenised text: windows of ctx tokens (BOS included when one is prepended) whose
 * starts advance by stride content tokens. The first window scores every prediction; each later
 * one scores only the tokens after the previous window's end (the last stride tokens when the
 * window is full), so with stride < ctx every token but the first is scored exactly once, with at
 * least ctx - stride tokens of context: the standard strided perplexity. With stride == ctx the
 * windows are disjoint and a window's first token is context only (unless BOS precedes it). */
typedef struct tm_text_config {
    int ctx;          /* tokens per window, BOS included; <= 0: the model's seq_len */
    int stride;       /* content tokens between window starts; <= 0: a whole window (disjoint) */
    double from, to;  /* the part of the text, as fractions of its bytes (see tm_text_encode) */
    int bos;          /* -1: as the model says (tokenizer.ggml.add_bos_token); 0: no; 1: yes */
} tm_text_config;
/* Defaults: ctx and stride from the model, the whole text, BOS as the model says. */
void tm_text_config_init(tm_text_config *c);
/* Reads a whole file (NUL-terminated copy; *len excludes the NUL). */
tt_status tm_text_read_file(const char *path, char **text, size_t *len, char *msg, size_t msg_size);
/* Tokenises text with the model's tokenizer (no special-token parsing: the text is plain text),
 * then keeps the tokens whose first byte lies in [from·B, to·B), B the bytes of all tokens: the
 * whole text's tokenisation cut on a token boundary, so 0:0.8 and 0.8:1 partition it exactly.
 * TT_ERR_UNSUPPORTED for a model without a tokenizer (llama2.c). *ids is malloc'ed. */
tt_status tm_text_encode(const tm_model *m, const char *text, size_t len, double from, double to,
                         int **ids, size_t *n_ids, char *msg, size_t msg_size);
/* The windows above over ids[0..n) as sequences, first_target set; bos_id < 0: no BOS. Windows
 * that would score nothing (a last window of one token) are left out. TT_ERR_BAD_SHAPE when
 * stride is not in 1..content tokens per window, or nothing at all can be scored. */
tt_status tm_text_windows(const int *ids, size_t n, int ctx, int stride, int bos_id,
                          tm_tokens **out, char *msg, size_t msg_size);
/* tm_text_read_file + tm_text_encode + tm_text_windows with cfg (NULL: defaults). */
tt_status tm_text_load(const tm_model *m, const char *path, const tm_text_config *cfg,
                       tm_tokens **out, char *msg, size_t msg_size);
/* Predictions tm_eval scores for toks (its first max_seqs sequences; 0 = all). */
long tm_tokens_scored(const tm_tokens *toks, int max_seqs);

#endif

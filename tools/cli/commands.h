/* commands.h — the subcommands of the `toptheta` CLI (one cmd_<name>.c each) and the small helpers
 * they share for options, device selection and JSON output (cli_util.c). */
#ifndef TT_CLI_COMMANDS_H
#define TT_CLI_COMMANDS_H

#include "toptheta.h"
#include <stdio.h>

int cmd_devices(int argc, char **argv);
int cmd_selftest(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tune(int argc, char **argv);

/* Returns the value of "--name VALUE" or "--name=VALUE" in argv (NULL if absent). */
const char *cli_opt(int argc, char **argv, const char *name);
/* True if the bare flag "--name" is present. */
int cli_flag(int argc, char **argv, const char *name);
/* Integer / float option with a default; exits with a message on a malformed value. */
long cli_opt_long(int argc, char **argv, const char *name, long def);
double cli_opt_double(int argc, char **argv, const char *name, double def);
/* Rejects options not in the NULL-terminated list (flags and valued options alike). */
int cli_check_options(int argc, char **argv, const char *const *known, const char *cmd);
/* Creates a context from --device / TOPTHETA_DEVICE; prints the error and returns NULL on failure. */
tt_context *cli_context(int argc, char **argv);
/* Prints "error: <what>: <status name>: <message>" to stderr; returns 1 for use as an exit code. */
int cli_error(const char *what, int status, const tt_context *ctx);
/* "l:k,l:k" (the value of --opt, may be NULL) over the default def into ks[L]; a negative k is
 * stored as 0. Returns 0, or 2 after a message naming --opt. */
int cli_parse_layer_k(const char *opt, const char *spec, long def, int L, int *ks);
/* "a,b,c" (integers in 1..2^24) into out[cap], *count of them. Returns 0, or 2 after a message. */
int cli_parse_int_list(const char *opt, const char *spec, int *out, int cap, int *count);

/* Shared by the model subcommands (defined in cmd_eval.c). --mode --k --placement --sdc --lambda
 * --vmc --post --table → one tt_attn_params per layer (0 on success, the caller destroys *table;
 * else an exit code after a message). --backend --kv --device → a runner and, for the device
 * backend, a context. */
struct tm_model;
struct tm_runner;
int cli_model_params(int argc, char **argv, int n_layers, tt_attn_params *params,
                     tt_table **table);
int cli_model_runner(int argc, char **argv, const struct tm_model *m, int collect_stats,
                     int max_chunk, tt_context **ctx, struct tm_runner **runner);

/* `toptheta eval --blocks` (eval_blocks.c): the counts of a tools/common/blocks.h observer per
 * layer, as text, or with json as a "blocks" member of the eval's object (no braces around it). */
struct tt_blk_observer;
void cli_blocks_report(const struct tt_blk_observer *b, int json);

/* Text mode (cli_text.c). Each returns 0 on success, else an exit code after a message.
 * --range A:B → byte fractions (default 0:1). */
struct tm_tokens;
int cli_parse_range(const char *s, double *from, double *to);
/* --text FILE --ctx N --stride S --range A:B → strided windows of the model's tokens; *out stays
 * NULL (and 0 is returned) when --text is absent. */
int cli_text_tokens(int argc, char **argv, const struct tm_model *m, struct tm_tokens **out);
/* --prompt-text "..." or --text FILE (--range, --ctx N: its last N tokens) → prompt ids with BOS
 * when the model wants one; *ids NULL when neither option is given. */
int cli_text_prompt(int argc, char **argv, const struct tm_model *m, int **ids, int *n);
/* Decoded text of ids (control tokens left out), malloc'ed; NULL without a tokenizer. */
char *cli_decode(const struct tm_model *m, const int *ids, int n);
/* Prints s as a JSON string literal. */
void cli_json_string(const char *s);

/* `toptheta calibrate` (cmd_calibrate.c, calibrate_budget.c). cli_calib_pass runs the first
 * n_seqs sequences through r (its observer does the work), with a progress line labelled `label`;
 * `why` is the observer's error text, printed after a failed forward pass; *truncated (may be
 * NULL) counts the sequences cut to the runner's context. cli_calib_budget is the first pass of
 * --budget: it samples rows of a dense run into a tc_budget accumulator, chooses the per-layer k
 * (into ks[n_layers]; 0 where the k covers every row of length <= longest), prints the choice on
 * stderr and fills *out. Both return 0, or an exit code after a message. */
typedef struct cli_budget {
    double budget, kept_frac, dropped;
    int uniform_k;
    double uniform_kept_frac, uniform_dropped;
} cli_budget;
int cli_calib_pass(struct tm_runner *r, const struct tm_tokens *toks, int n_seqs,
                   const char *label, const char *why, int *truncated);
int cli_calib_budget(int argc, char **argv, struct tm_runner *r, const struct tm_tokens *toks,
                     int n_seqs, int longest, int *ks, cli_budget *out);

/* The real-model part of `toptheta demo --model M` (demo_model.c). */
int demo_model(const char *model, const char *device, const char *calib_tokens,
               const char *eval_tokens, int k, int seqs);

#endif

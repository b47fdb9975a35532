/* bpe.h — the byte-level BPE tokenizer a GGUF file describes (tokenizer.ggml.model "gpt2"):
 * vocabulary, merge ranks, token types and special ids from the metadata; pre-tokenisation by the
 * regular expressions tokenizer.ggml.pre names, run with PCRE2; GPT-2's byte<->unicode mapping.
 * Loaded once, then encode/decode are read-only and may run from several threads at once. */
#ifndef TT_BPE_H
#define TT_BPE_H

#include "gguf/gguf.h"
#include "toptheta.h"
#include <stddef.h>
#include <stdint.h>

/* GGUF token types (tokenizer.ggml.token_type), as llama.cpp numbers them. */
enum {
    BPE_TOKEN_NORMAL = 1,
    BPE_TOKEN_UNKNOWN = 2,
    BPE_TOKEN_CONTROL = 3,
    BPE_TOKEN_USER_DEFINED = 4,
    BPE_TOKEN_UNUSED = 5,
    BPE_TOKEN_BYTE = 6,
};

/* Encode flags. BPE_PARSE_SPECIAL: text such as "<|im_start|>" that spells a control token becomes
 * that token (as Hugging Face `tokenizers` does by default); without it, it is ordinary text.
 * User-defined tokens are always matched whole, as in both reference implementations. */
enum { BPE_PARSE_SPECIAL = 1 };
/* Decode flags. BPE_SKIP_SPECIAL: control tokens produce no text. */
enum { BPE_SKIP_SPECIAL = 1 };

typedef struct bpe_tokenizer bpe_tokenizer;

/* Builds the tokenizer from the file's tokenizer.ggml.* metadata (copied: f may be closed after).
 * TT_ERR_UNSUPPORTED for another tokenizer model or an unknown pre-tokeniser name; TT_ERR_FORMAT
 * for inconsistent metadata (merges naming absent tokens, ids out of range, ...). */
tt_status bpe_load_gguf(gg_file *f, bpe_tokenizer **out, char *msg, size_t msg_size);
void bpe_free(bpe_tokenizer *t);

int32_t bpe_vocab_size(const bpe_tokenizer *t);
/* Special ids from the metadata; -1 when the file names none. */
int32_t bpe_bos_id(const bpe_tokenizer *t);
int32_t bpe_eos_id(const bpe_tokenizer *t);
int32_t bpe_unk_id(const bpe_tokenizer *t);
int32_t bpe_pad_id(const bpe_tokenizer *t);
/* The tokenizer.ggml.pre name this tokenizer was built for (e.g. "smollm"). */
const char *bpe_pre_name(const bpe_tokenizer *t);
/* A token's vocabulary string (byte-level form, e.g. "Ġthe") and type; NULL / 0 when out of range. */
const char *bpe_token_text(const bpe_tokenizer *t, int32_t id, size_t *len);
int bpe_token_type(const bpe_tokenizer *t, int32_t id);
/* Id of a vocabulary string, -1 when absent. */
int32_t bpe_token_id(const bpe_tokenizer *t, const char *text, size_t len);

/* Encodes len bytes of text (any bytes; invalid UTF-8 is kept as bytes) into *ids (malloc'ed,
 * free() it; *n_ids tokens). Bytes with no token of their own (this vocabulary lacks 21 of the
 * 256) are dropped, as Hugging Face's BPE does when the model has no unknown token. */
tt_status bpe_encode(const bpe_tokenizer *t, const char *text, size_t len, int flags,
                     int32_t **ids, size_t *n_ids);
/* Decodes ids into *text (malloc'ed, NUL-terminated for convenience; *len bytes). TT_ERR_FORMAT
 * for an id outside the vocabulary. */
tt_status bpe_decode(const bpe_tokenizer *t, const int32_t *ids, size_t n_ids, int flags,
                     char **text, size_t *len);

#endif

/* bpe_internal.h — the tokenizer's tables, shared by loading/decoding (bpe.c), encoding
 * (bpe_encode.c) and the PCRE2 pre-tokeniser (bpe_pretok.c). Not part of the interface. */
#ifndef TT_BPE_INTERNAL_H
#define TT_BPE_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/bpe.h"
#include <pcre2.h>

#define BPE_MAX_REGEX 4

/* A pre-tokeniser: regexes applied in sequence, each splitting every piece the previous one made
 * (matches and the gaps between them both become pieces). */
typedef struct bpe_pretok {
    int n;
    pcre2_code *re[BPE_MAX_REGEX];
} bpe_pretok;

typedef struct bpe_span {
    size_t off, len;
} bpe_span;

/* A growable list of spans. */
typedef struct bpe_spans {
    bpe_span *v;
    size_t n, cap;
} bpe_spans;

typedef struct bpe_merge {
    int32_t left, right; /* -1 marks an empty slot */
    int32_t rank, result;
} bpe_merge;

struct bpe_tokenizer {
    int32_t n_vocab;
    char *text;              /* vocabulary strings, back to back */
    uint64_t *text_off;      /* n_vocab + 1 offsets into text */
    char *dec;               /* each token's decoded bytes, back to back */
    uint64_t *dec_off;       /* n_vocab + 1 offsets into dec */
    uint8_t *type;
    int32_t *vocab_slots;    /* open addressing: token id or -1 */
    uint32_t vocab_mask;
    bpe_merge *merge_slots;  /* open addressing on (left, right) */
    uint32_t merge_mask;
    int32_t byte_id[256];    /* token of each single byte, -1 when the vocabulary lacks it */
    int32_t bos, eos, unk, pad;
    int32_t *specials;       /* control and user-defined tokens, longest first */
    int32_t n_specials;
    uint8_t special_first[256]; /* 1 if some special token starts with this byte */
    char pre[32];
    bpe_pretok pretok;
};

tt_status bpe__pretok_init(bpe_pretok *p, const char *pre, char *msg, size_t msg_size);
void bpe__pretok_free(bpe_pretok *p);
/* Appends the pieces of text[0, len) to out (offsets relative to text). */
tt_status bpe__pretok_split(const bpe_pretok *p, const char *text, size_t len, bpe_spans *out);
tt_status bpe__spans_push(bpe_spans *s, size_t off, size_t len);

uint64_t bpe__hash(const void *data, size_t len);
/* Merge for the pair (left, right), NULL when none. */
const bpe_merge *bpe__find_merge(const bpe_tokenizer *t, int32_t left, int32_t right);

#endif

/* bpe.c — loading the tokenizer from GGUF metadata (vocabulary, token types, merges, special ids,
 * pre-tokeniser name), strict about inconsistent tables; the vocabulary and merge hash tables;
 * and each token's decoded bytes, precomputed by undoing GPT-2's byte->unicode map. */
#include "common/fail_msg.h"
#include "tokenizer/bpe_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long long ull;

uint64_t bpe__hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint32_t table_mask(uint64_t n)
{
    uint64_t size = 16;
    while (size < 2 * n)
        size *= 2;
    return (uint32_t)(size - 1);
}

/* GPT-2's byte -> code point map: printable Latin-1 bytes stand for themselves, the other 68
 * bytes (controls, space, 0x7F-0xA0, 0xAD) take code points 256, 257, ... in byte order. */
static uint32_t byte_cp(int b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
        return (uint32_t)b;
    uint32_t n = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF)))
            n++;
    return 256 + n;
}

int32_t bpe_token_id(const bpe_tokenizer *t, const char *text, size_t len)
{
    for (uint32_t i = (uint32_t)bpe__hash(text, len) & t->vocab_mask;; i = (i + 1) & t->vocab_mask) {
        int32_t id = t->vocab_slots[i];
        if (id < 0)
            return -1;
        if (t->text_off[id + 1] - t->text_off[id] == len &&
            memcmp(t->text + t->text_off[id], text, len) == 0)
            return id;
    }
}

const bpe_merge *bpe__find_merge(const bpe_tokenizer *t, int32_t left, int32_t right)
{
    uint64_t h = ((uint64_t)(uint32_t)left * 0x9e3779b97f4a7c15ull) ^
                 ((uint64_t)(uint32_t)right * 0xc2b2ae3d27d4eb4full);
    for (uint32_t i = (uint32_t)(h >> 32) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        const bpe_merge *m = &t->merge_slots[i];
        if (m->left < 0)
            return NULL;
        if (m->left == left && m->right == right)
            return m;
    }
}

static int hexval(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decoded bytes of token id into out (NULL: only count). Byte-level tokens undo the code point
 * map; control, user-defined and unknown tokens are raw text; BYTE tokens "<0xHH>" are one byte. */
static size_t decode_token(const bpe_tokenizer *t, int32_t id, const int16_t *inv, char *out)
{
    const unsigned char *s = (const unsigned char *)t->text + t->text_off[id];
    size_t len = (size_t)(t->text_off[id + 1] - t->text_off[id]), n = 0;
    int type = t->type[id];
    if (type == BPE_TOKEN_BYTE && len == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
        int hi = hexval(s[3]), lo = hexval(s[4]);
        if (hi >= 0 && lo >= 0) {
            if (out)
                out[0] = (char)(hi * 16 + lo);
            return 1;
        }
    }
    if (type != BPE_TOKEN_NORMAL) {
        if (out)
            memcpy(out, s, len);
        return len;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp = s[i];
        size_t k = 1;
        if (cp >= 0xc2 && cp <= 0xdf && i + 1 < len && (s[i + 1] & 0xc0) == 0x80) {
            cp = ((cp & 0x1f) << 6) | (s[i + 1] & 0x3f);
            k = 2;
        }
        if (cp < 0x200 && inv[cp] >= 0) {
            if (out)
                out[n] = (char)inv[cp];
            n++;
        } else { /* not a byte-level character: keep the original bytes */
            if (out)
                memcpy(out + n, s + i, k);
            n += k;
        }
        i += k;
    }
    return n;
}

/* Special tokens longest first, so "<|im_start|>" wins over any shorter token it starts with
 * (qsort has no context argument, hence the thread-local). */
static _Thread_local const bpe_tokenizer *sort_tok;
static int cmp_special(const void *a, const void *b)
{
    const bpe_tokenizer *t = sort_tok;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint64_t lx = t->text_off[x + 1] - t->text_off[x], ly = t->text_off[y + 1] - t->text_off[y];
    return lx > ly ? -1 : lx < ly ? 1 : (x > y) - (x < y);
}

/* A gguf accessor failed: pass its status and message on. */
static tt_status gg_fail(gg_file *f, tt_status st, char *msg, size_t msg_size)
{
    return tools_fail(msg, msg_size, st, "%s", gg_error(f));
}

static tt_status optional_id(gg_file *f, const char *key, int32_t n, int32_t *out, char *msg,
                             size_t msg_size)
{
    uint32_t v;
    *out = -1;
    if (!gg_find_kv(f, key))
        return TT_SUCCESS;
    tt_status st = gg_get_u32(f, key, &v);
    if (st != TT_SUCCESS)
        return gg_fail(f, st, msg, msg_size);
    if (v >= (uint32_t)n)
        return tools_fail(msg, msg_size, TT_ERR_FORMAT, "%s = %u is outside the vocabulary (%d)",
                          key, v, n);
    *out = (int32_t)v;
    return TT_SUCCESS;
}

/* Vocabulary strings, types and the string -> id table. */
static tt_status load_vocab(gg_file *f, bpe_tokenizer *t, char *msg, size_t msg_size)
{
    const gg_kv *toks, *types = NULL;
    tt_status st = gg_get_array(f, "tokenizer.ggml.tokens", GG_STRING, &toks);
    if (st != TT_SUCCESS)
        return gg_fail(f, st, msg, msg_size);
    if (toks->count < 1 || toks->count > (1u << 24))
        return tools_fail(msg, msg_size, TT_ERR_FORMAT, "vocabulary of %llu tokens",
                          (ull)toks->count);
    t->n_vocab = (int32_t)toks->count;
    if (gg_find_kv(f, "tokenizer.ggml.token_type")) {
        if ((st = gg_get_array(f, "tokenizer.ggml.token_type", UINT32_MAX, &types)) != TT_SUCCESS)
            return gg_fail(f, st, msg, msg_size);
        if (types->elem_type == GG_STRING || types->elem_type == GG_F32 ||
            types->elem_type == GG_F64 || types->count != toks->count)
            return tools_fail(msg, msg_size, TT_ERR_FORMAT,
                              "tokenizer.ggml.token_type: %llu %s values for %d tokens",
                              (ull)types->count, gg_value_type_name(types->elem_type), t->n_vocab);
    }
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        total += toks->strs[i].len; /* bounded by the file size, which is mapped */
    size_t n1 = (size_t)t->n_vocab + 1;
    t->text = malloc(total ? (size_t)total : 1);
    t->text_off = malloc(n1 * sizeof *t->text_off);
    t->type = malloc((size_t)t->n_vocab);
    t->vocab_mask = table_mask((uint64_t)t->n_vocab);
    t->vocab_slots = malloc(((size_t)t->vocab_mask + 1) * sizeof *t->vocab_slots);
    if (!t->text || !t->text_off || !t->type || !t->vocab_slots)
        return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "no memory for the vocabulary");
    memset(t->vocab_slots, 0xff, ((size_t)t->vocab_mask + 1) * sizeof *t->vocab_slots);
    uint64_t off = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        gg_str s = toks->strs[i];
        int64_t ty = types ? gg_array_int(types, (uint64_t)i) : BPE_TOKEN_NORMAL;
        if (ty < BPE_TOKEN_NORMAL || ty > BPE_TOKEN_BYTE)
            return tools_fail(msg, msg_size, TT_ERR_FORMAT, "token %d has type %lld (1..6 allowed)",
                              i, (long long)ty);
        t->type[i] = (uint8_t)ty;
        t->text_off[i] = off;
        if (s.len)
            memcpy(t->text + off, s.ptr, (size_t)s.len);
        off += s.len;
        t->text_off[i + 1] = off;
        /* First occurrence wins for duplicate strings, as in llama.cpp's loader. */
        if (bpe_token_id(t, s.ptr, (size_t)s.len) >= 0)
            continue;
        uint32_t j = (uint32_t)bpe__hash(s.ptr, (size_t)s.len) & t->vocab_mask;
        while (t->vocab_slots[j] >= 0)
            j = (j + 1) & t->vocab_mask;
        t->vocab_slots[j] = i;
    }
    return TT_SUCCESS;
}

/* Merge list "left right" (rank = position) -> (left id, right id) -> (rank, merged id). */
static tt_status load_merges(gg_file *f, bpe_tokenizer *t, char *msg, size_t msg_size)
{
    const gg_kv *merges;
    tt_status st = gg_get_array(f, "tokenizer.ggml.merges", GG_STRING, &merges);
    if (st != TT_SUCCESS)
        return gg_fail(f, st, msg, msg_size);
    if (merges->count > (1u << 24))
        return tools_fail(msg, msg_size, TT_ERR_TOO_LARGE, "%llu merges", (ull)merges->count);
    uint64_t longest = 1;
    for (uint64_t i = 0; i < merges->count; i++)
        if (merges->strs[i].len > longest)
            longest = merges->strs[i].len;
    char *joined = malloc((size_t)longest);
    t->merge_mask = table_mask(merges->count);
    t->merge_slots = malloc(((size_t)t->merge_mask + 1) * sizeof *t->merge_slots);
    if (!joined || !t->merge_slots) {
        free(joined);
        return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "no memory for the merges");
    }
    memset(t->merge_slots, 0xff, ((size_t)t->merge_mask + 1) * sizeof *t->merge_slots);
    for (uint64_t r = 0; r < merges->count && st == TT_SUCCESS; r++) {
        gg_str m = merges->strs[r];
        /* The separator is the first space after the first byte; byte-level tokens hold no
         * raw spaces (a space is "Ġ"), so exactly one is expected. */
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', (size_t)m.len - 1) : NULL;
        size_t ll = sp ? (size_t)(sp - m.ptr) : 0, rl = sp ? (size_t)m.len - ll - 1 : 0;
        int32_t l = -1, rr = -1, res = -1;
        if (sp && rl) {
            l = bpe_token_id(t, m.ptr, ll);
            rr = bpe_token_id(t, sp + 1, rl);
            memcpy(joined, m.ptr, ll);
            memcpy(joined + ll, sp + 1, rl);
            res = bpe_token_id(t, joined, ll + rl);
        }
        if (l < 0 || rr < 0 || res < 0) {
            st = tools_fail(msg, msg_size, TT_ERR_FORMAT,
                            "merge %llu \"%.*s\" is not two vocabulary tokens whose join is one",
                            (ull)r, (int)(m.len > 100 ? 100 : m.len), m.ptr);
            break;
        }
        if (bpe__find_merge(t, l, rr))
            continue; /* a repeated pair keeps its first (best) rank */
        uint64_t h = ((uint64_t)(uint32_t)l * 0x9e3779b97f4a7c15ull) ^
                     ((uint64_t)(uint32_t)rr * 0xc2b2ae3d27d4eb4full);
        uint32_t j = (uint32_t)(h >> 32) & t->merge_mask;
        while (t->merge_slots[j].left >= 0)
            j = (j + 1) & t->merge_mask;
        t->merge_slots[j] = (bpe_merge){l, rr, (int32_t)r, res};
    }
    free(joined);
    return st;
}

/* Byte ids, decoded bytes of every token, and the special tokens matched whole in text. */
static tt_status derive_tables(bpe_tokenizer *t, char *msg, size_t msg_size)
{
    int16_t inv[0x200];
    memset(inv, 0xff, sizeof inv);
    for (int b = 0; b < 256; b++) {
        uint32_t cp = byte_cp(b);
        char u[2];
        size_t n = 1;
        if (cp < 0x80)
            u[0] = (char)cp;
        else {
            u[0] = (char)(0xc0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3f));
            n = 2;
        }
        inv[cp] = (int16_t)b;
        t->byte_id[b] = bpe_token_id(t, u, n);
    }
    size_t n1 = (size_t)t->n_vocab + 1;
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        total += decode_token(t, i, inv, NULL);
    t->dec = malloc(total ? (size_t)total : 1);
    t->dec_off = malloc(n1 * sizeof *t->dec_off);
    t->specials = malloc((size_t)t->n_vocab * sizeof *t->specials);
    if (!t->dec || !t->dec_off || !t->specials)
        return tools_fail(msg, msg_size, TT_OUT_OF_HOST_MEMORY, "no memory for the decode table");
    t->dec_off[0] = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        t->dec_off[i + 1] = t->dec_off[i] + decode_token(t, i, inv, t->dec + t->dec_off[i]);
        int ty = t->type[i];
        if ((ty == BPE_TOKEN_CONTROL || ty == BPE_TOKEN_USER_DEFINED) &&
            t->text_off[i + 1] > t->text_off[i]) {
            t->specials[t->n_specials++] = i;
            t->special_first[(unsigned char)t->text[t->text_off[i]]] = 1;
        }
    }
    sort_tok = t;
    qsort(t->specials, (size_t)t->n_specials, sizeof *t->specials, cmp_special);
    return TT_SUCCESS;
}

tt_status bpe_load_gguf(gg_file *f, bpe_tokenizer **out, char *msg, size_t msg_size)
{
    if (out)
        *out = NULL;
    if (!f || !out)
        return tools_fail(msg, msg_size, TT_ERR_NULL_ARGUMENT, "bpe_load_gguf: NULL argument");
    gg_str model, pre = {"gpt-2", 5};
    tt_status st = gg_get_string(f, "tokenizer.ggml.model", &model);
    if (st != TT_SUCCESS)
        return gg_fail(f, st, msg, msg_size);
    if (!gg_str_eq(model, "gpt2"))
        return tools_fail(msg, msg_size, TT_ERR_UNSUPPORTED,
                          "tokenizer model '%.*s' is not byte-level BPE (\"gpt2\")",
                          (int)(model.len > 40 ? 40 : model.len), model.ptr);
    /* Without a pre-tokeniser name the file predates the key: plain GPT-2 splitting. */
    if (gg_find_kv(f, "tokenizer.ggml.pre") &&
        (st = gg_get_string(f, "tokenizer.ggml.pre", &pre)) != TT_SUCCESS)
        return gg_fail(f, st, msg, msg_size);
    bpe_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return TT_OUT_OF_HOST_MEMORY;
    snprintf(t->pre, sizeof t->pre, "%.*s", (int)(pre.len > 31 ? 31 : pre.len), pre.ptr);
    if (pre.len > 31 || memchr(pre.ptr, 0, (size_t)pre.len))
        st = tools_fail(msg, msg_size, TT_ERR_UNSUPPORTED, "pre-tokeniser name '%s...' is unknown",
                        t->pre);
    if (st == TT_SUCCESS)
        st = load_vocab(f, t, msg, msg_size);
    if (st == TT_SUCCESS)
        st = load_merges(f, t, msg, msg_size);
    if (st == TT_SUCCESS)
        st = derive_tables(t, msg, msg_size);
    if (st == TT_SUCCESS)
        st = optional_id(f, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos, msg, msg_size);
    if (st == TT_SUCCESS)
        st = optional_id(f, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos, msg, msg_size);
    if (st == TT_SUCCESS)
        st = optional_id(f, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk, msg,
                         msg_size);
    if (st == TT_SUCCESS)
        st = optional_id(f, "tokenizer.ggml.padding_token_id", t->n_vocab, &t->pad, msg,
                         msg_size);
    if (st == TT_SUCCESS)
        st = bpe__pretok_init(&t->pretok, t->pre, msg, msg_size);
    if (st != TT_SUCCESS) {
        bpe_free(t);
        return st;
    }
    *out = t;
    return TT_SUCCESS;
}

void bpe_free(bpe_tokenizer *t)
{
    if (!t)
        return;
    bpe__pretok_free(&t->pretok);
    free(t->text);
    free(t->text_off);
    free(t->dec);
    free(t->dec_off);
    free(t->type);
    free(t->vocab_slots);
    free(t->merge_slots);
    free(t->specials);
    free(t);
}

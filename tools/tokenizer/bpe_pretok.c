/* bpe_pretok.c — pre-tokenisation with PCRE2 (UTF-8, Unicode properties). SmolLM2's tokenizer.json
 * pre-tokenizer is Sequence[Digits(individual_digits=true), ByteLevel(use_regex=true)]: each \p{N}
 * alone, then GPT-2's pattern on each remaining stretch; llama.cpp's vocabulary code lists the same
 * two patterns for its "smollm" and "starcoder" pre-tokenisers. */
#include "tokenizer/bpe_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPT-2's pattern, as in OpenAI's encoder.py and the ByteLevel pre-tokenizer of Hugging Face
 * `tokenizers`. The final "\s+" only matters for whitespace before a non-space that no other
 * branch takes (e.g. "\n" before "!"); kept so the pattern is the published one. */
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char DIGIT_PATTERN[] = "\\p{N}";

static const struct {
    const char *name;
    const char *patterns[BPE_MAX_REGEX];
} known[] = {
    {"smollm", {DIGIT_PATTERN, GPT2_PATTERN}},
    {"starcoder", {DIGIT_PATTERN, GPT2_PATTERN}},
    {"gpt-2", {GPT2_PATTERN}},
};

void bpe__pretok_free(bpe_pretok *p)
{
    for (int i = 0; i < p->n; i++)
        pcre2_code_free(p->re[i]);
    p->n = 0;
}

tt_status bpe__pretok_init(bpe_pretok *p, const char *pre, char *msg, size_t msg_size)
{
    memset(p, 0, sizeof *p);
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (strcmp(pre, known[k].name) != 0)
            continue;
        for (int i = 0; i < BPE_MAX_REGEX && known[k].patterns[i]; i++) {
            int err;
            PCRE2_SIZE at;
            /* MATCH_INVALID_UTF: bytes that are not UTF-8 never match, so they fall into the gaps
             * and are still encoded byte by byte instead of failing the whole call. */
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)known[k].patterns[i], PCRE2_ZERO_TERMINATED,
                                           PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err,
                                           &at, NULL);
            if (!re) {
                PCRE2_UCHAR buf[160];
                pcre2_get_error_message(err, buf, sizeof buf);
                if (msg && msg_size)
                    snprintf(msg, msg_size, "pre-tokeniser '%s': PCRE2 rejects pattern %d at %zu: %s",
                             pre, i, (size_t)at, (const char *)buf);
                bpe__pretok_free(p);
                return TT_ERR_INTERNAL;
            }
            pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; matching works without */
            p->re[p->n++] = re;
        }
        return TT_SUCCESS;
    }
    if (msg && msg_size)
        snprintf(msg, msg_size,
                 "pre-tokeniser '%s' is not supported (known: smollm, starcoder, gpt-2)", pre);
    return TT_ERR_UNSUPPORTED;
}

tt_status bpe__spans_push(bpe_spans *s, size_t off, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        bpe_span *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return TT_OUT_OF_HOST_MEMORY;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].off = off;
    s->v[s->n].len = len;
    s->n++;
    return TT_SUCCESS;
}

/* Splits one piece with one regex: each piece is matched as a string of its own (so "(?!\S)" sees
 * the piece's end as the end of the subject), as the reference implementations do. */
static tt_status split_piece(const pcre2_code *re, pcre2_match_data *md, const char *text,
                             bpe_span piece, bpe_spans *out)
{
    const unsigned char *s = (const unsigned char *)text + piece.off;
    size_t n = piece.len, pos = 0, gap = 0;
    tt_status st = TT_SUCCESS;
    while (pos < n && st == TT_SUCCESS) {
        int rc = pcre2_match(re, s, n, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return TT_ERR_INTERNAL;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (ms > gap)
            st = bpe__spans_push(out, piece.off + gap, ms - gap);
        if (me > ms) {
            if (st == TT_SUCCESS)
                st = bpe__spans_push(out, piece.off + ms, me - ms);
            pos = gap = me;
        } else {
            /* An empty match (none of the shipped patterns can make one): step over one
             * character so the loop always advances. */
            gap = ms;
            pos = ms + 1;
            while (pos < n && (s[pos] & 0xc0) == 0x80)
                pos++;
        }
    }
    if (st == TT_SUCCESS && gap < n)
        st = bpe__spans_push(out, piece.off + gap, n - gap);
    return st;
}

tt_status bpe__pretok_split(const bpe_pretok *p, const char *text, size_t len, bpe_spans *out)
{
    if (len == 0)
        return TT_SUCCESS;
    bpe_spans a = {0}, b = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    tt_status st = md ? bpe__spans_push(&a, 0, len) : TT_OUT_OF_HOST_MEMORY;
    for (int r = 0; r < p->n && st == TT_SUCCESS; r++) {
        b.n = 0;
        for (size_t i = 0; i < a.n && st == TT_SUCCESS; i++)
            st = split_piece(p->re[r], md, text, a.v[i], &b);
        bpe_spans tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t i = 0; i < a.n && st == TT_SUCCESS; i++)
        st = bpe__spans_push(out, a.v[i].off, a.v[i].len);
    free(a.v);
    free(b.v);
    pcre2_match_data_free(md);
    return st;
}

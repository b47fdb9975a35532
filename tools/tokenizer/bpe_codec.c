/* bpe_codec.c — text -> ids: special tokens cut out first, the rest pre-tokenised by PCRE2, then
 * each piece's bytes merged by rank with a heap of adjacent pairs ordered by (rank, position), so
 * the lowest-ranked pair, leftmost on ties, merges first (GPT-2's and Hugging Face's order) in
 * O(n log n) per piece even for pathological input. ids -> text: precomputed bytes, concatenated. */
#include "tokenizer/bpe_internal.h"
#include <stdlib.h>
#include <string.h>

typedef struct sym {
    int32_t id; /* -1 once merged into its left neighbour */
    int32_t prev, next;
} sym;

typedef struct cand {
    int32_t rank, left, lid, rid, result;
} cand;

/* Scratch space for one bpe_encode call (the tokenizer itself stays read-only). */
typedef struct work {
    sym *syms;
    size_t syms_cap;
    cand *heap;
    size_t heap_n, heap_cap;
    int32_t *ids;
    size_t n_ids, ids_cap;
    bpe_spans spans;
} work;

static int grow(void **v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, c * elem);
    if (!p)
        return 0;
    *v = p;
    *cap = c;
    return 1;
}

static tt_status push_id(work *w, int32_t id)
{
    if (!grow((void **)&w->ids, &w->ids_cap, w->n_ids + 1, sizeof *w->ids))
        return TT_OUT_OF_HOST_MEMORY;
    w->ids[w->n_ids++] = id;
    return TT_SUCCESS;
}

static int before(const cand *a, const cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

/* Queues the pair (left, its right neighbour) if the merge table has it. */
static tt_status try_pair(const bpe_tokenizer *t, work *w, int32_t left)
{
    int32_t right = w->syms[left].next;
    if (right < 0)
        return TT_SUCCESS;
    const bpe_merge *m = bpe__find_merge(t, w->syms[left].id, w->syms[right].id);
    if (!m)
        return TT_SUCCESS;
    if (!grow((void **)&w->heap, &w->heap_cap, w->heap_n + 1, sizeof *w->heap))
        return TT_OUT_OF_HOST_MEMORY;
    cand c = {m->rank, left, m->left, m->right, m->result};
    size_t i = w->heap_n++;
    while (i > 0 && before(&c, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = c;
    return TT_SUCCESS;
}

static cand pop(work *w)
{
    cand top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!before(&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n)
        w->heap[i] = last;
    return top;
}

/* One pre-tokenised piece: its bytes become byte tokens, then pairs merge until none is left. */
static tt_status encode_piece(const bpe_tokenizer *t, work *w, const unsigned char *s, size_t n)
{
    if (n > INT32_MAX / 2)
        return TT_ERR_TOO_LARGE;
    if (!grow((void **)&w->syms, &w->syms_cap, n, sizeof *w->syms))
        return TT_OUT_OF_HOST_MEMORY;
    int32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[s[i]];
        if (id < 0)
            continue; /* no token for this byte: dropped (see bpe.h) */
        w->syms[m] = (sym){id, m - 1, m + 1};
        m++;
    }
    if (m == 0)
        return TT_SUCCESS;
    w->syms[m - 1].next = -1;
    w->heap_n = 0;
    tt_status st = TT_SUCCESS;
    for (int32_t i = 0; i + 1 < m && st == TT_SUCCESS; i++)
        st = try_pair(t, w, i);
    while (w->heap_n && st == TT_SUCCESS) {
        cand c = pop(w);
        sym *l = &w->syms[c.left];
        /* Stale entries (either side merged since) no longer match the current ids. */
        if (l->id != c.lid || l->next < 0 || w->syms[l->next].id != c.rid)
            continue;
        sym *r = &w->syms[l->next];
        l->id = c.result;
        r->id = -1;
        l->next = r->next;
        if (r->next >= 0)
            w->syms[r->next].prev = c.left;
        if (l->prev >= 0)
            st = try_pair(t, w, l->prev);
        if (st == TT_SUCCESS)
            st = try_pair(t, w, c.left);
    }
    for (int32_t i = 0; i >= 0 && st == TT_SUCCESS; i = w->syms[i].next)
        st = push_id(w, w->syms[i].id);
    return st;
}

/* Ordinary text between special tokens. */
static tt_status encode_segment(const bpe_tokenizer *t, work *w, const char *text, size_t len)
{
    w->spans.n = 0;
    tt_status st = bpe__pretok_split(&t->pretok, text, len, &w->spans);
    for (size_t i = 0; i < w->spans.n && st == TT_SUCCESS; i++)
        st = encode_piece(t, w, (const unsigned char *)text + w->spans.v[i].off,
                          w->spans.v[i].len);
    return st;
}

/* Longest special token spelled at text[pos...], -1 when none (or none allowed by flags). */
static int32_t special_at(const bpe_tokenizer *t, const char *text, size_t len, size_t pos,
                          int flags, size_t *tok_len)
{
    if (!t->special_first[(unsigned char)text[pos]])
        return -1;
    for (int32_t k = 0; k < t->n_specials; k++) {
        int32_t id = t->specials[k];
        if (t->type[id] == BPE_TOKEN_CONTROL && !(flags & BPE_PARSE_SPECIAL))
            continue;
        size_t n = (size_t)(t->text_off[id + 1] - t->text_off[id]);
        if (n <= len - pos && memcmp(text + pos, t->text + t->text_off[id], n) == 0) {
            *tok_len = n;
            return id;
        }
    }
    return -1;
}

tt_status bpe_encode(const bpe_tokenizer *t, const char *text, size_t len, int flags,
                     int32_t **ids, size_t *n_ids)
{
    if (!t || !ids || !n_ids || (!text && len))
        return TT_ERR_NULL_ARGUMENT;
    *ids = NULL;
    *n_ids = 0;
    work w = {0};
    tt_status st = TT_SUCCESS;
    size_t seg = 0;
    for (size_t pos = 0; pos < len && st == TT_SUCCESS;) {
        size_t n = 0;
        int32_t id = special_at(t, text, len, pos, flags, &n);
        if (id < 0) {
            pos++;
            continue;
        }
        st = encode_segment(t, &w, text + seg, pos - seg);
        if (st == TT_SUCCESS)
            st = push_id(&w, id);
        pos += n;
        seg = pos;
    }
    if (st == TT_SUCCESS && seg < len)
        st = encode_segment(t, &w, text + seg, len - seg);
    free(w.syms);
    free(w.heap);
    free(w.spans.v);
    if (st != TT_SUCCESS) {
        free(w.ids);
        return st;
    }
    *ids = w.ids ? w.ids : malloc(sizeof(int32_t));
    *n_ids = w.n_ids;
    return *ids ? TT_SUCCESS : TT_OUT_OF_HOST_MEMORY;
}

int32_t bpe_vocab_size(const bpe_tokenizer *t) { return t->n_vocab; }
int32_t bpe_bos_id(const bpe_tokenizer *t) { return t->bos; }
int32_t bpe_eos_id(const bpe_tokenizer *t) { return t->eos; }
int32_t bpe_unk_id(const bpe_tokenizer *t) { return t->unk; }
int32_t bpe_pad_id(const bpe_tokenizer *t) { return t->pad; }
const char *bpe_pre_name(const bpe_tokenizer *t) { return t->pre; }

const char *bpe_token_text(const bpe_tokenizer *t, int32_t id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab)
        return NULL;
    if (len)
        *len = (size_t)(t->text_off[id + 1] - t->text_off[id]);
    return t->text + t->text_off[id];
}

int bpe_token_type(const bpe_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab ? t->type[id] : 0;
}

tt_status bpe_decode(const bpe_tokenizer *t, const int32_t *ids, size_t n_ids, int flags,
                     char **text, size_t *len)
{
    if (!t || !text || !len || (!ids && n_ids))
        return TT_ERR_NULL_ARGUMENT;
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return TT_ERR_FORMAT;
        if (!((flags & BPE_SKIP_SPECIAL) && t->type[ids[i]] == BPE_TOKEN_CONTROL))
            total += (size_t)(t->dec_off[ids[i] + 1] - t->dec_off[ids[i]]);
    }
    char *out = malloc(total + 1);
    if (!out)
        return TT_OUT_OF_HOST_MEMORY;
    size_t n = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if ((flags & BPE_SKIP_SPECIAL) && t->type[ids[i]] == BPE_TOKEN_CONTROL)
            continue;
        size_t k = (size_t)(t->dec_off[ids[i] + 1] - t->dec_off[ids[i]]);
        memcpy(out + n, t->dec + t->dec_off[ids[i]], k);
        n += k;
    }
    out[n] = '\0';
    *text = out;
    *len = n;
    return TT_SUCCESS;
}

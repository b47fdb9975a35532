/* test-tokenizer.c — the byte-level BPE tokenizer. A toy vocabulary written here as GGUF metadata
 * checks merge order, special tokens, dropped bytes, byte round trips and the load errors; with
 * SmolLM2's file in the model cache, known tokenisations (expected ids from Hugging Face
 * `tokenizers`, see below) and round trips on real text. Model parts skip when it is absent. */
#include "gguf/gguf.h"
#include "support.h"
#include "tokenizer/bpe.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a toy tokenizer as a GGUF file (metadata only) ---- */
typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u32_(buf *b, uint32_t v)
{
    unsigned char c[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};
    put(b, c, 4);
}
static void u64_(buf *b, uint64_t v) { u32_(b, (uint32_t)v), u32_(b, (uint32_t)(v >> 32)); }
static void str_(buf *b, const char *s) { u64_(b, strlen(s)), put(b, s, strlen(s)); }
static void key_(buf *b, const char *k, uint32_t t) { str_(b, k), u32_(b, t); }

/* GPT-2's byte -> code point map, written out independently of tools/tokenizer/bpe.c. */
static void byte_sym(int byte, char out[3])
{
    static int cp[256];
    if (!cp['!']) {
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
            cp[b] = printable ? b : 256 + extra++;
        }
    }
    int c = cp[byte];
    if (c < 0x80)
        out[0] = (char)c, out[1] = 0;
    else
        out[0] = (char)(0xc0 | (c >> 6)), out[1] = (char)(0x80 | (c & 0x3f)), out[2] = 0;
}

/* Toy vocabulary: ids 0..255 the bytes (one may be left out), then the words below. */
enum { T_AB = 256, T_BC, T_ABC, T_AA, T_CTRL, T_USER, T_COUNT };
static const char *const WORDS[] = {"ab", "bc", "abc", "aa", "<|x|>", "<u>"};
static const char *const MERGES[] = {"b c", "a b", "a bc", "a a"}; /* ranks 0..3 */

typedef struct toy {
    const char *model, *pre;
    int missing_byte;   /* byte with no token, -1 for none */
    int n_types;        /* entries in token_type (T_COUNT normally) */
    const char *merge0; /* replaces MERGES[0] */
    uint32_t bos;
} toy;

static buf toy_file(const toy *t)
{
    buf b = {0};
    put(&b, "GGUF", 4), u32_(&b, 3), u64_(&b, 0), u64_(&b, 6);
    key_(&b, "tokenizer.ggml.model", GG_STRING), str_(&b, t->model);
    key_(&b, "tokenizer.ggml.pre", GG_STRING), str_(&b, t->pre);
    key_(&b, "tokenizer.ggml.tokens", GG_ARRAY), u32_(&b, GG_STRING), u64_(&b, T_COUNT);
    for (int i = 0; i < 256; i++) {
        char s[8];
        byte_sym(i, s);
        str_(&b, i == t->missing_byte ? "<unused>" : s);
    }
    for (int i = T_AB; i < T_COUNT; i++)
        str_(&b, WORDS[i - T_AB]);
    key_(&b, "tokenizer.ggml.token_type", GG_ARRAY), u32_(&b, GG_I32), u64_(&b, (uint64_t)t->n_types);
    for (int i = 0; i < t->n_types; i++)
        u32_(&b, i == T_CTRL ? BPE_TOKEN_CONTROL : i == T_USER ? BPE_TOKEN_USER_DEFINED
                 : i == t->missing_byte ? BPE_TOKEN_UNUSED : BPE_TOKEN_NORMAL);
    key_(&b, "tokenizer.ggml.merges", GG_ARRAY), u32_(&b, GG_STRING), u64_(&b, 4);
    for (int i = 0; i < 4; i++)
        str_(&b, i == 0 && t->merge0 ? t->merge0 : MERGES[i]);
    key_(&b, "tokenizer.ggml.bos_token_id", GG_U32), u32_(&b, t->bos);
    return b;
}

static const toy TOY = {"gpt2", "gpt-2", -1, T_COUNT, NULL, T_CTRL};

/* Loads a toy; returns the status, *out the tokenizer (NULL on failure). */
static tt_status toy_load(const toy *t, bpe_tokenizer **out, char *msg, buf *keep)
{
    *keep = toy_file(t);
    gg_file *f;
    tt_status st = gg_open_memory(keep->p, keep->n, &f, msg, 256);
    ck_assert_msg(st == TT_SUCCESS, "%s", msg);
    st = bpe_load_gguf(f, out, msg, 256);
    gg_close(f); /* the tokenizer keeps its own copies */
    return st;
}

static void expect_ids(const bpe_tokenizer *t, const char *text, int flags, const int32_t *want,
                       size_t n_want)
{
    int32_t *ids;
    size_t n;
    ck_assert_int_eq(bpe_encode(t, text, strlen(text), flags, &ids, &n), TT_SUCCESS);
    int same = n == n_want && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    char got[512] = "";
    for (size_t i = 0; i < n && strlen(got) < 480; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
    ck_assert_msg(same, "'%s' encoded as%s", text, got);
    free(ids);
}

START_TEST(test_toy_merges_and_specials)
{
    bpe_tokenizer *t;
    char msg[256];
    buf b;
    ck_assert_msg(toy_load(&TOY, &t, msg, &b) == TT_SUCCESS, "%s", msg);
    ck_assert_int_eq(bpe_vocab_size(t), T_COUNT);
    ck_assert_int_eq(bpe_bos_id(t), T_CTRL);
    ck_assert_int_eq(bpe_eos_id(t), -1);
    /* Rank order, not position: "b c" (rank 0) before "a b" (rank 1), then "a bc". */
    expect_ids(t, "abc", 0, (const int32_t[]){T_ABC}, 1);
    /* Equal ranks merge leftmost first: "aaa" -> "aa" "a". */
    expect_ids(t, "aaa", 0, (const int32_t[]){T_AA, 'a'}, 2);
    /* GPT-2 splitting keeps " abc" one piece: the space byte then merges inside the word. */
    expect_ids(t, "a abc", 0, (const int32_t[]){'a', ' ', T_ABC}, 3);
    /* Control tokens only with BPE_PARSE_SPECIAL; user-defined ones always. */
    expect_ids(t, "<|x|>c", BPE_PARSE_SPECIAL, (const int32_t[]){T_CTRL, 'c'}, 2);
    expect_ids(t, "<|x|>", 0, (const int32_t[]){'<', '|', 'x', '|', '>'}, 5);
    expect_ids(t, "a<u>b", 0, (const int32_t[]){'a', T_USER, 'b'}, 3);
    expect_ids(t, "", 0, NULL, 0);
    char *s;
    size_t n;
    int32_t ids[] = {T_CTRL, T_ABC, ' ', T_USER};
    ck_assert_int_eq(bpe_decode(t, ids, 4, 0, &s, &n), TT_SUCCESS);
    ck_assert_str_eq(s, "<|x|>abc <u>");
    free(s);
    ck_assert_int_eq(bpe_decode(t, ids, 4, BPE_SKIP_SPECIAL, &s, &n), TT_SUCCESS);
    ck_assert_str_eq(s, "abc <u>");
    free(s);
    ids[0] = T_COUNT;
    ck_assert_int_eq(bpe_decode(t, ids, 4, 0, &s, &n), TT_ERR_FORMAT);
    bpe_free(t);
    free(b.p);
}
END_TEST

/* Random bytes, invalid UTF-8 included, survive encode + decode when every byte has a token. */
START_TEST(test_toy_byte_round_trip)
{
    bpe_tokenizer *t;
    char msg[256];
    buf b;
    ck_assert_int_eq(toy_load(&TOY, &t, msg, &b), TT_SUCCESS);
    unsigned state = tt_test_seed();
    char text[4096];
    for (int round = 0; round < 50; round++) {
        size_t len = (size_t)tt_test_uniform(&state, 0, sizeof text);
        for (size_t i = 0; i < len; i++)
            text[i] = (char)(int)tt_test_uniform(&state, 0, 256);
        int32_t *ids;
        size_t n, m;
        char *back;
        ck_assert_int_eq(bpe_encode(t, text, len, BPE_PARSE_SPECIAL, &ids, &n), TT_SUCCESS);
        ck_assert_int_eq(bpe_decode(t, ids, n, 0, &back, &m), TT_SUCCESS);
        ck_assert_uint_eq(m, len);
        ck_assert(memcmp(back, text, len) == 0);
        free(ids);
        free(back);
    }
    bpe_free(t);
    free(b.p);
    /* A byte without a token is dropped, as Hugging Face's BPE does without an unknown token
     * (its neighbours then merge: checked with `tokenizers` 0.23.3 on a two-letter vocabulary). */
    toy gap = TOY;
    gap.missing_byte = 'z';
    ck_assert_int_eq(toy_load(&gap, &t, msg, &b), TT_SUCCESS);
    expect_ids(t, "azb", 0, (const int32_t[]){T_AB}, 1);
    bpe_free(t);
    free(b.p);
}
END_TEST

START_TEST(test_toy_load_errors)
{
    static const struct {
        toy t;
        tt_status st;
        const char *text;
    } cases[] = {
        {{"llama", "gpt-2", -1, T_COUNT, NULL, 0}, TT_ERR_UNSUPPORTED, "'llama'"},
        {{"gpt2", "nonesuch", -1, T_COUNT, NULL, 0}, TT_ERR_UNSUPPORTED, "'nonesuch'"},
        {{"gpt2", "gpt-2", -1, T_COUNT, "b q", 0}, TT_ERR_FORMAT, "merge 0 \"b q\""},
        {{"gpt2", "gpt-2", -1, T_COUNT, "bc", 0}, TT_ERR_FORMAT, "merge 0"},
        {{"gpt2", "gpt-2", -1, T_COUNT, NULL, T_COUNT}, TT_ERR_FORMAT, "bos_token_id"},
        {{"gpt2", "gpt-2", -1, T_COUNT - 1, NULL, 0}, TT_ERR_FORMAT, "token_type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bpe_tokenizer *t = (bpe_tokenizer *)&t;
        char msg[256] = "";
        buf b;
        tt_status st = toy_load(&cases[i].t, &t, msg, &b);
        ck_assert_msg(st == cases[i].st, "case %zu: %s (%s)", i, tt_status_name(st), msg);
        ck_assert_msg(strstr(msg, cases[i].text), "case %zu: '%s'", i, msg);
        ck_assert_ptr_null(t);
        free(b.p);
    }
}
END_TEST

/* ---- SmolLM2 ---- */
static gg_file *model_file;
static bpe_tokenizer *model_tok;

/* Expected ids: Hugging Face `tokenizers` 0.23.3 (pip install tokenizers gguf), SmolLM2's tokenizer
 * rebuilt from this GGUF's vocabulary and merges with its tokenizer.json pre-tokenizer by
 *   python3 tools/tokenizer/hf_reference.py MODEL.gguf encode 'TEXT' ...
 * (TEXT with Python escapes; "plain" cases: the same script's encode-plain, with which special
 * token spellings are ordinary text). */
static const struct {
    const char *text;
    int flags;
    int32_t ids[24];
    size_t n;
} KNOWN[] = {
    {"Hello world! It's 2024, isn't it?", 0,
     {19556, 905, 17, 657, 506, 216, 34, 32, 34, 36, 28, 3247, 982, 357, 47}, 15},
    {"First Citizen:\nBefore we proceed any further, hear me speak.", 0,
     {5345, 32062, 42, 198, 6121, 392, 7219, 750, 2030, 28, 4875, 549, 3287, 30}, 14},
    {"  3.14159  and\t\tx\n\n\ny ", 0,
     {256, 35, 30, 33, 36, 33, 37, 41, 216, 284, 197, 197, 104, 1116, 198, 105, 216}, 17},
    {"na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80", 0,
     {3546, 46494, 37366, 1841, 17097, 241, 115, 40993, 179, 120, 248, 40303, 218}, 13},
    {"<|im_start|>user\nHi there<|im_end|>\n", BPE_PARSE_SPECIAL, {1, 4093, 198, 26843, 665, 2, 198}, 7},
    {"<|im_start|>user\nHi there<|im_end|>\n", 0, /* plain */
     {44, 108, 306, 79, 3738, 108, 46, 4093, 198, 26843, 665, 44, 108, 306, 79, 486, 108, 46, 198},
     19},
};

START_TEST(test_smollm2_known)
{
    ck_assert_int_eq(bpe_vocab_size(model_tok), 49152);
    ck_assert_str_eq(bpe_pre_name(model_tok), "smollm");
    ck_assert_int_eq(bpe_bos_id(model_tok), 1);
    ck_assert_int_eq(bpe_eos_id(model_tok), 2);
    ck_assert_int_eq(bpe_unk_id(model_tok), 0);
    ck_assert_int_eq(bpe_pad_id(model_tok), 2);
    size_t len;
    const char *text = bpe_token_text(model_tok, 1, &len);
    ck_assert_uint_eq(len, 12);
    ck_assert(memcmp(text, "<|im_start|>", 12) == 0);
    ck_assert_int_eq(bpe_token_type(model_tok, 1), BPE_TOKEN_CONTROL);
    ck_assert_int_eq(bpe_token_type(model_tok, 17), BPE_TOKEN_NORMAL);
    ck_assert_int_eq(bpe_token_id(model_tok, "\xc4\xa0the", 5), 260); /* "Ġthe" */
    ck_assert_int_eq(bpe_token_id(model_tok, "the cat", 7), -1);
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        expect_ids(model_tok, KNOWN[i].text, KNOWN[i].flags, KNOWN[i].ids, KNOWN[i].n);
    /* Decoding drops control tokens on request. */
    char *s;
    size_t n;
    ck_assert_int_eq(bpe_decode(model_tok, KNOWN[4].ids, KNOWN[4].n, BPE_SKIP_SPECIAL, &s, &n),
                     TT_SUCCESS);
    ck_assert_str_eq(s, "user\nHi there\n");
    free(s);
}
END_TEST

/* decode(encode(text)) == text on a whole file, and the ids match Hugging Face's: their count and
 * h = h * 1000003 + id (mod 2^64), from hf_reference.py MODEL.gguf file PATH. The fingerprint is
 * only compared when the file has the size it had then. */
static void round_trip_file(const char *path, size_t size, size_t count, uint64_t hash)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    size_t len = (size_t)ftell(fp);
    rewind(fp);
    char *text = malloc(len + 1);
    ck_assert_uint_eq(fread(text, 1, len, fp), len);
    fclose(fp);
    int32_t *ids;
    size_t n, m;
    char *back;
    ck_assert_int_eq(bpe_encode(model_tok, text, len, 0, &ids, &n), TT_SUCCESS);
    ck_assert_int_eq(bpe_decode(model_tok, ids, n, 0, &back, &m), TT_SUCCESS);
    ck_assert_msg(m == len && memcmp(back, text, len) == 0, "%s does not round-trip", path);
    if (len == size) {
        uint64_t h = 0;
        for (size_t i = 0; i < n; i++)
            h = h * 1000003u + (uint64_t)ids[i];
        ck_assert_uint_eq(n, count);
        ck_assert_msg(h == hash, "%s: id fingerprint %llu, expected %llu", path,
                      (unsigned long long)h, (unsigned long long)hash);
    } else {
        printf("# %s is %zu bytes, not %zu: only the round trip was checked\n", path, len, size);
    }
    free(text);
    free(ids);
    free(back);
}

START_TEST(test_smollm2_shakespeare)
{
    const char *path = tt_test_shared_file("data/text/tinyshakespeare.txt");
    if (!path) {
        printf("# ../shared/data/text/tinyshakespeare.txt absent: skipped\n");
        return;
    }
    round_trip_file(path, 1115394, 341094, 2426359338191076317ull);
}
END_TEST

START_TEST(test_smollm2_gpl3)
{
    const char *path = "/usr/share/common-licenses/GPL-3";
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("# %s absent: skipped\n", path);
        return;
    }
    fclose(fp);
    round_trip_file(path, 35149, 7639, 3431049110681978250ull);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("toy");
    tcase_add_test(tc, test_toy_merges_and_specials);
    tcase_add_test(tc, test_toy_byte_round_trip);
    tcase_add_test(tc, test_toy_load_errors);
    suite_add_tcase(s, tc);
    char path[4096], msg[256] = "";
    if (gg_model_path(GG_SMOLLM2_FILE, path, sizeof path) == 1) {
        if (gg_open(path, &model_file, msg, sizeof msg) != TT_SUCCESS ||
            bpe_load_gguf(model_file, &model_tok, msg, sizeof msg) != TT_SUCCESS) {
            printf("Bail out! %s: %s\n", path, msg);
            return 1;
        }
        TCase *real = tcase_create("smollm2");
        tcase_set_timeout(real, 120);
        tcase_add_test(real, test_smollm2_known);
        tcase_add_test(real, test_smollm2_shakespeare);
        tcase_add_test(real, test_smollm2_gpl3);
        suite_add_tcase(s, real);
    } else {
        printf("# %s not in the model cache: SmolLM2 checks skipped "
               "(tools/model-get/get-smollm2.sh fetches it)\n", GG_SMOLLM2_FILE);
    }
    fflush(stdout);
    int rc = tt_test_run(s);
    bpe_free(model_tok);
    gg_close(model_file);
    return rc;
}

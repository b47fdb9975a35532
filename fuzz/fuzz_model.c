/* fuzz_model.c — libFuzzer harness for the llama2.c checkpoint loader (tm_model_load_memory):
 * any input must give either a model whose arrays lie inside the weights it owns, or an error
 * with a message. The weights are read end to end so ASan sees every pointer the loader set. */
#include "model/model.h"
#include <stdint.h>
#include <string.h>

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

/* Sums the first and last element of an array of n floats (touching both ends). */
static float ends(const float *p, size_t n)
{
    return n ? p[0] + p[n - 1] : 0.0f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[256];
    msg[0] = '\0';
    tm_model *m = (tm_model *)&m; /* must come back NULL on failure */
    tt_status st = tm_model_load_memory(data, size, &m, msg, sizeof msg);
    if (st != TT_SUCCESS) {
        REQUIRE(m == NULL && msg[0] != '\0');
        return 0;
    }
    REQUIRE(m != NULL);
    const tm_config *c = &m->cfg;
    REQUIRE(c->dim > 0 && c->n_heads > 0 && c->n_kv_heads > 0 && c->dim % c->n_heads == 0);
    REQUIRE(c->head_size * c->n_heads == c->dim && c->kv_dim == c->head_size * c->n_kv_heads);
    const size_t d = (size_t)c->dim, L = (size_t)c->n_layers, kv = (size_t)c->kv_dim;
    const size_t hd = (size_t)c->hidden_dim, V = (size_t)c->vocab_size;
    volatile float sink = ends(m->token_embedding, V * d) + ends(m->rms_att, L * d) +
                          ends(m->wq, L * d * d) + ends(m->wk, L * kv * d) +
                          ends(m->wv, L * kv * d) + ends(m->wo, L * d * d) +
                          ends(m->rms_ffn, L * d) + ends(m->w1, L * hd * d) +
                          ends(m->w2, L * d * hd) + ends(m->w3, L * hd * d) +
                          ends(m->rms_final, d) + ends(m->wcls, V * d);
    (void)sink;
    tm_model_free(m);
    return 0;
}

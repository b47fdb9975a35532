/* gguf_dequant.c — tensor type table and dequantisation to float32. Implemented: exactly the types
 * in the SmolLM2 Q4_1 file, F32, Q4_1 and Q8_0 (block layouts in docs/SMOLLM2.md); the other
 * types are known by name and size only, so that files holding them still validate. */
#include "gguf/gguf_internal.h"
#include <stdio.h>
#include <string.h>

/* Block size and bytes per block for each ggml type number; unlisted numbers were never assigned
 * or were removed from ggml. Cross-checked against gguf-py 0.19.0's GGML_QUANT_SIZES. */
static const struct {
    const char *name;
    uint16_t block, bytes;
} types[GG_TYPE_COUNT] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},         [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},     [6] = {"Q5_0", 32, 22},      [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},     [9] = {"Q8_1", 32, 40},      [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},  [12] = {"Q4_K", 256, 144},   [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},  [15] = {"Q8_K", 256, 292},   [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},  [21] = {"IQ3_S", 256, 110},  [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},        [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},       [27] = {"I64", 1, 8},        [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},  [30] = {"BF16", 1, 2},       [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},  [39] = {"MXFP4", 32, 17},    [40] = {"NVFP4", 64, 36},
    [41] = {"Q1_0", 128, 18},
};

uint32_t gg_type_block(uint32_t type)
{
    return type < GG_TYPE_COUNT ? types[type].block : 0;
}

uint32_t gg_type_block_bytes(uint32_t type)
{
    return type < GG_TYPE_COUNT ? types[type].bytes : 0;
}

const char *gg_tensor_type_name(uint32_t type)
{
    static _Thread_local char buf[24];
    if (type < GG_TYPE_COUNT && types[type].name)
        return types[type].name;
    snprintf(buf, sizeof buf, "type#%u", type);
    return buf;
}

float gg_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        /* Zero or subnormal: man * 2^-24 is exact in float. */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13); /* Inf / NaN keep their payload */
    else
        bits = sign | ((exp + 112u) << 23) | (man << 13); /* rebias 15 -> 127 */
    float r;
    memcpy(&r, &bits, sizeof r);
    return r;
}

static float le_f32(const unsigned char *p)
{
    uint32_t u = gg__le32(p);
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

int gg_dequant_raw(uint32_t type, const void *src, uint64_t n, float *out)
{
    const unsigned char *p = src;
    switch (type) {
    case GG_TYPE_F32:
        for (uint64_t i = 0; i < n; i++)
            out[i] = le_f32(p + 4 * i);
        return 0;
    case GG_TYPE_Q8_0:
        /* 34-byte block of 32: f16 scale d, then 32 int8 q; x = d * q. */
        for (uint64_t b = 0; b < n / 32; b++, p += 34, out += 32) {
            float d = gg_half_to_float(gg__le16(p));
            for (int j = 0; j < 32; j++)
                out[j] = d * (float)(int8_t)p[2 + j];
        }
        return 0;
    case GG_TYPE_Q4_1:
        /* 20-byte block of 32: f16 scale d, f16 minimum m, 16 bytes of nibbles. Byte j holds
         * element j in its low nibble and element j + 16 in its high one; x = d * q + m. */
        for (uint64_t b = 0; b < n / 32; b++, p += 20, out += 32) {
            float d = gg_half_to_float(gg__le16(p)), m = gg_half_to_float(gg__le16(p + 2));
            for (int j = 0; j < 16; j++) {
                out[j] = d * (float)(p[4 + j] & 0x0f) + m;
                out[j + 16] = d * (float)(p[4 + j] >> 4) + m;
            }
        }
        return 0;
    default:
        return -1;
    }
}

tt_status gg_dequant_rows(gg_file *f, const gg_tensor *t, uint64_t row0, uint64_t n_rows,
                          float *out)
{
    if (!f || !t || (!out && n_rows))
        return TT_ERR_NULL_ARGUMENT;
    uint64_t rows = t->n_elements / t->ne[0];
    if (row0 > rows || n_rows > rows - row0)
        return gg__fail(f, TT_ERR_BAD_SHAPE, "tensor '%.*s': rows [%llu, %llu) outside 0..%llu",
                        (int)t->name.len, t->name.ptr, (unsigned long long)row0,
                        (unsigned long long)(row0 + n_rows), (unsigned long long)rows);
    uint64_t row_bytes = t->ne[0] / gg_type_block(t->type) * gg_type_block_bytes(t->type);
    if (gg_dequant_raw(t->type, t->data + row0 * row_bytes, n_rows * t->ne[0], out) != 0)
        return gg__fail(f, TT_ERR_UNSUPPORTED,
                        "tensor '%.*s': dequantising %s is not implemented (F32, Q4_1, Q8_0 are)",
                        (int)t->name.len, t->name.ptr, gg_tensor_type_name(t->type));
    return TT_SUCCESS;
}

tt_status gg_dequant(gg_file *f, const gg_tensor *t, float *out)
{
    if (!t)
        return TT_ERR_NULL_ARGUMENT;
    return gg_dequant_rows(f, t, 0, t->n_elements / t->ne[0], out);
}

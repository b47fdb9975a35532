/* gguf.h — a strict reader for GGUF model files (versions 2 and 3): header, metadata, tensor
 * directory and data section, with dequantisation to float32 of the tensor types SmolLM2 uses.
 * Every size in the file is checked before use, so a damaged or hostile file gives a tt_status
 * and a message, never an out-of-bounds read (the reader is meant to be fuzzed). */
#ifndef TT_GGUF_H
#define TT_GGUF_H

#include "toptheta.h"
#include <stddef.h>
#include <stdint.h>

#define GG_MAX_DIMS 4
#define GG_DEFAULT_ALIGNMENT 32

/* Metadata value types, numbered as in the GGUF specification. */
typedef enum gg_value_type {
    GG_U8 = 0, GG_I8 = 1, GG_U16 = 2, GG_I16 = 3, GG_U32 = 4, GG_I32 = 5, GG_F32 = 6,
    GG_BOOL = 7, GG_STRING = 8, GG_ARRAY = 9, GG_U64 = 10, GG_I64 = 11, GG_F64 = 12,
    GG_VALUE_TYPE_COUNT
} gg_value_type;

/* Tensor types (ggml numbering). Only F32, Q4_1 and Q8_0 — the ones in the SmolLM2 file — can be
 * dequantised; the others are known by name and size so that a directory holding them still
 * validates, and dequantising them is TT_ERR_UNSUPPORTED. */
typedef enum gg_tensor_type {
    GG_TYPE_F32 = 0, GG_TYPE_F16 = 1, GG_TYPE_Q4_0 = 2, GG_TYPE_Q4_1 = 3, GG_TYPE_Q5_0 = 6,
    GG_TYPE_Q5_1 = 7, GG_TYPE_Q8_0 = 8, GG_TYPE_Q8_1 = 9, GG_TYPE_Q2_K = 10, GG_TYPE_Q3_K = 11,
    GG_TYPE_Q4_K = 12, GG_TYPE_Q5_K = 13, GG_TYPE_Q6_K = 14, GG_TYPE_Q8_K = 15, GG_TYPE_BF16 = 30,
    GG_TYPE_COUNT = 42
} gg_tensor_type;

/* A string inside the file: not NUL-terminated, may contain any bytes. */
typedef struct gg_str {
    const char *ptr;
    uint64_t len;
} gg_str;

/* One metadata key/value. Scalars: count == 1 and data points at the little-endian value in the
 * file. Arrays: type == GG_ARRAY, elem_type and count describe the elements; data points at the
 * packed elements (numeric arrays). Strings (scalar or array elements) are in strs[]. */
typedef struct gg_kv {
    gg_str key;
    uint32_t type;
    uint32_t elem_type;
    uint64_t count;
    const unsigned char *data;
    const gg_str *strs;
} gg_kv;

/* One tensor. ne[0] is the fastest-moving dimension (a "row" is ne[0] consecutive elements);
 * unused dimensions are 1. offset is relative to the data section; data points into the file. */
typedef struct gg_tensor {
    gg_str name;
    uint32_t n_dims;
    uint32_t type;
    uint64_t ne[GG_MAX_DIMS];
    uint64_t n_elements;
    uint64_t offset;
    uint64_t size;
    const unsigned char *data;
} gg_tensor;

typedef struct gg_file gg_file;

/* Opens a file (mapped read-only, or read into memory where mapping fails). On failure *out is
 * NULL and msg (if given) says what is wrong and where. */
tt_status gg_open(const char *path, gg_file **out, char *msg, size_t msg_size);
/* Parses a buffer in place: the caller keeps data alive (and unchanged) until gg_close. */
tt_status gg_open_memory(const void *data, size_t size, gg_file **out, char *msg,
                         size_t msg_size);
void gg_close(gg_file *f);
/* Message for the last failed accessor call on f. */
const char *gg_error(const gg_file *f);

uint32_t gg_version(const gg_file *f);
uint32_t gg_alignment(const gg_file *f);
uint64_t gg_data_offset(const gg_file *f);
uint64_t gg_kv_count(const gg_file *f);
const gg_kv *gg_kv_at(const gg_file *f, uint64_t i);
uint64_t gg_tensor_count(const gg_file *f);
const gg_tensor *gg_tensor_at(const gg_file *f, uint64_t i);

const char *gg_value_type_name(uint32_t type);
const char *gg_tensor_type_name(uint32_t type); /* "type#N" (static buffer) when unknown */
/* Block size (elements) and bytes per block of a tensor type; 0 when unknown. */
uint32_t gg_type_block(uint32_t type);
uint32_t gg_type_block_bytes(uint32_t type);

/* Metadata by key. A missing key is TT_ERR_FORMAT ("missing"), a value of another type
 * TT_ERR_FORMAT naming both types. Integer getters accept any integer type whose value fits
 * (the same key is u32 in one converter's output and i32 or u64 in another's); gg_get_f32
 * accepts F32 and F64. */
const gg_kv *gg_find_kv(const gg_file *f, const char *key);
tt_status gg_get_u32(gg_file *f, const char *key, uint32_t *out);
tt_status gg_get_f32(gg_file *f, const char *key, float *out);
tt_status gg_get_bool(gg_file *f, const char *key, int *out);
tt_status gg_get_string(gg_file *f, const char *key, gg_str *out);
/* An array whose elements are elem_type (GG_ARRAY's own element type; pass UINT32_MAX for any). */
tt_status gg_get_array(gg_file *f, const char *key, uint32_t elem_type, const gg_kv **out);
/* Element i of a numeric array as int64 (integers and bools) or double (any numeric type). */
int64_t gg_array_int(const gg_kv *kv, uint64_t i);
double gg_array_float(const gg_kv *kv, uint64_t i);
/* 1 if a string equals a C string. */
int gg_str_eq(gg_str s, const char *c);

/* Tensors by name; NULL when absent (gg_get_tensor: TT_ERR_FORMAT with a message instead). */
const gg_tensor *gg_find_tensor(const gg_file *f, const char *name);
tt_status gg_get_tensor(gg_file *f, const char *name, const gg_tensor **out);

/* Dequantises rows [row0, row0 + n_rows) of t (a row is ne[0] elements) into out
 * (n_rows * ne[0] floats). TT_ERR_UNSUPPORTED, naming the type, for types not implemented. */
tt_status gg_dequant_rows(gg_file *f, const gg_tensor *t, uint64_t row0, uint64_t n_rows,
                          float *out);
tt_status gg_dequant(gg_file *f, const gg_tensor *t, float *out);
/* Dequantises n elements (a multiple of the type's block) from raw blocks; no bounds to check
 * beyond the caller's. 0 on success, -1 for an unsupported type. */
int gg_dequant_raw(uint32_t type, const void *src, uint64_t n, float *out);
float gg_half_to_float(uint16_t h);

/* LLaMA-architecture hyper-parameters, read from "<arch>.*" keys and checked for consistency with
 * each other and with the tensor shapes. */
typedef struct gg_llama_params {
    char arch[32];
    uint32_t n_layer, dim, ffn_dim, n_head, n_head_kv, head_dim, rope_dim;
    uint32_t context_length, vocab_size;
    float rope_base, norm_eps;
    int tied_output; /* 1: no output.weight, the logits use token_embd.weight */
} gg_llama_params;
tt_status gg_llama_read(gg_file *f, gg_llama_params *p);

/* Where models are cached: $TOPTHETA_MODEL_DIR, else $XDG_CACHE_HOME/toptheta/models, else
 * ~/.cache/toptheta/models (the same order as tools/model-get/get-smollm2.sh). Writes
 * dir/file_name into buf; returns 1 if that file exists, 0 if not, -1 if no path can be made. */
int gg_model_path(const char *file_name, char *buf, size_t buf_size);
#define GG_SMOLLM2_FILE "SmolLM2-135M-Instruct.Q4_1.gguf"

#endif

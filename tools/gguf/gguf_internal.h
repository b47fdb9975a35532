/* gguf_internal.h — the gg_file structure and helpers shared by the parser (gguf.c), the accessors
 * (gguf_access.c) and the dequantisers (gguf_dequant.c). Not part of the reader's interface. */
#ifndef TT_GGUF_INTERNAL_H
#define TT_GGUF_INTERNAL_H

#include "gguf/gguf.h"

struct gg_file {
    const unsigned char *base; /* whole file */
    uint64_t size;
    void *map;             /* mmap'ed region (munmap on close), or */
    unsigned char *owned;  /* a malloc'ed copy (free on close); neither for gg_open_memory */
    size_t map_size;
    uint32_t version, alignment;
    uint64_t data_offset;
    uint64_t n_kv, n_tensors;
    gg_kv *kv;
    gg_str *kv_strs;       /* backing for scalar string values, one slot per kv */
    uint64_t *kv_sorted;   /* kv indices sorted by key, for duplicate checks and lookup */
    gg_tensor *tensors;
    uint64_t *tensor_sorted; /* tensor indices sorted by name */
    char err[384];
};

/* Formats a message into f->err and returns st. */
tt_status gg__fail(gg_file *f, tt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static inline uint16_t gg__le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t gg__le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t gg__le64(const unsigned char *p)
{
    return (uint64_t)gg__le32(p) | ((uint64_t)gg__le32(p + 4) << 32);
}

/* Parses f->base[0, f->size) into f (gguf.c); on failure f->err says why. */
tt_status gg__parse(gg_file *f);
/* Orders two file strings bytewise (shorter first on a common prefix). */
int gg__str_cmp(gg_str a, gg_str b);
/* Byte size of one scalar of a fixed-size value type; 0 for STRING, ARRAY and unknown types. */
uint32_t gg__value_size(uint32_t type);

#endif

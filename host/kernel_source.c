/* kernel_source.c — the one place kernel text comes from: the arrays embedded at build time by
 * kernels/embed.py, or, when $TT_KERNEL_DIR is set (development), the .cl files under it, so a
 * kernel can be edited without relinking. */
#include "internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.cl.h"
#include "rows.cl.h"
#include "mma_local.cl.h"
#include "scores.cl.h"
#include "select.cl.h"
#include "attend.cl.h"
#include "merge.cl.h"
#include "vmean.cl.h"
#include "decode_defs.cl.h"
#include "decode_scores.cl.h"
#include "decode.cl.h"
#include "decode_merge.cl.h"
#include "shfl.cl.h"
#include "mma.cl.h"
#include "decode_rows.cl.h"
#include "prefill.cl.h"
#include "prefill_kth.cl.h"
#include "prefill_fa.cl.h"
#include "prefill_rows.cl.h"

typedef struct {
    const char *name; /* file name */
    const char *path; /* path under kernels/ */
    const unsigned char *data;
    size_t len;
} embedded;

static const embedded table[] = {
    {"common.cl", "common/common.cl", tt_kernel_common_cl, sizeof tt_kernel_common_cl - 1},
    {"rows.cl", "common/rows.cl", tt_kernel_rows_cl, sizeof tt_kernel_rows_cl - 1},
    {"mma_local.cl", "common/mma_local.cl", tt_kernel_mma_local_cl,
     sizeof tt_kernel_mma_local_cl - 1},
    {"scores.cl", "attention/scores.cl", tt_kernel_scores_cl, sizeof tt_kernel_scores_cl - 1},
    {"select.cl", "attention/select.cl", tt_kernel_select_cl, sizeof tt_kernel_select_cl - 1},
    {"attend.cl", "attention/attend.cl", tt_kernel_attend_cl, sizeof tt_kernel_attend_cl - 1},
    {"merge.cl", "attention/merge.cl", tt_kernel_merge_cl, sizeof tt_kernel_merge_cl - 1},
    {"vmean.cl", "attention/vmean.cl", tt_kernel_vmean_cl, sizeof tt_kernel_vmean_cl - 1},
    {"decode_defs.cl", "decode/decode_defs.cl", tt_kernel_decode_defs_cl,
     sizeof tt_kernel_decode_defs_cl - 1},
    {"decode_scores.cl", "decode/decode_scores.cl", tt_kernel_decode_scores_cl,
     sizeof tt_kernel_decode_scores_cl - 1},
    {"decode.cl", "decode/decode.cl", tt_kernel_decode_cl, sizeof tt_kernel_decode_cl - 1},
    {"decode_merge.cl", "decode/decode_merge.cl", tt_kernel_decode_merge_cl,
     sizeof tt_kernel_decode_merge_cl - 1},
    {"shfl.cl", "decode/shfl.cl", tt_kernel_shfl_cl, sizeof tt_kernel_shfl_cl - 1},
    {"mma.cl", "decode/mma.cl", tt_kernel_mma_cl, sizeof tt_kernel_mma_cl - 1},
    {"decode_rows.cl", "decode/decode_rows.cl", tt_kernel_decode_rows_cl,
     sizeof tt_kernel_decode_rows_cl - 1},
    {"prefill.cl", "prefill/prefill.cl", tt_kernel_prefill_cl, sizeof tt_kernel_prefill_cl - 1},
    {"prefill_kth.cl", "prefill/prefill_kth.cl", tt_kernel_prefill_kth_cl,
     sizeof tt_kernel_prefill_kth_cl - 1},
    {"prefill_fa.cl", "prefill/prefill_fa.cl", tt_kernel_prefill_fa_cl,
     sizeof tt_kernel_prefill_fa_cl - 1},
    {"prefill_rows.cl", "prefill/prefill_rows.cl", tt_kernel_prefill_rows_cl,
     sizeof tt_kernel_prefill_rows_cl - 1},
};

static tt_status read_file(const tt_context *ctx, const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    TT_RETURN_IF(ctx, !f, TT_ERR_KERNEL_SOURCE, "cannot open kernel source %s", path);
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return tt__fail(ctx, TT_OUT_OF_HOST_MEMORY, "out of memory reading %s", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return tt__fail(ctx, TT_ERR_KERNEL_SOURCE, "error reading kernel source %s", path);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return TT_SUCCESS;
}

tt_status tt__kernel_source(const tt_context *ctx, const char *name, char **text, size_t *len)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(table[i].name, name) != 0)
            continue;
        const char *dir = getenv("TT_KERNEL_DIR");
        if (dir && *dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, table[i].path);
            return read_file(ctx, path, text, len);
        }
        char *buf = malloc(table[i].len + 1);
        TT_RETURN_IF(ctx, !buf, TT_OUT_OF_HOST_MEMORY, "out of memory");
        memcpy(buf, table[i].data, table[i].len);
        buf[table[i].len] = '\0';
        *text = buf;
        *len = table[i].len;
        return TT_SUCCESS;
    }
    return tt__fail(ctx, TT_ERR_KERNEL_SOURCE, "no kernel source named %s", name);
}

/* program_binaries.c — the public controls of the program binary cache (program_cache.c): the
 * per-context off switch, the read-only prebuilt-binary directory for ahead-of-time targets, and
 * the export of a context's programs as entries another machine can load. */
#include "program_cache.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

tt_status tt_context_set_cache(tt_context *ctx, int enabled)
{
    TT_RETURN_IF(NULL, !ctx, TT_ERR_NULL_ARGUMENT, "tt_context_set_cache: NULL context");
    pthread_mutex_lock(&ctx->lock);
    ctx->cache_off = !enabled;
    pthread_mutex_unlock(&ctx->lock);
    return TT_SUCCESS;
}

tt_status tt_context_load_binaries(tt_context *ctx, const char *dir)
{
    TT_RETURN_IF(NULL, !ctx, TT_ERR_NULL_ARGUMENT, "tt_context_load_binaries: NULL context");
    struct stat st;
    if (dir && *dir) {
        TT_RETURN_IF(ctx, strlen(dir) >= sizeof ctx->binaries_dir, TT_INVALID_VALUE,
                     "tt_context_load_binaries: path too long");
        TT_RETURN_IF(ctx, stat(dir, &st) != 0 || !S_ISDIR(st.st_mode), TT_ERR_IO,
                     "tt_context_load_binaries: %s is not a readable directory", dir);
    }
    pthread_mutex_lock(&ctx->lock);
    snprintf(ctx->binaries_dir, sizeof ctx->binaries_dir, "%s", dir ? dir : "");
    pthread_mutex_unlock(&ctx->lock);
    return TT_SUCCESS;
}

tt_status tt_context_export_binaries(tt_context *ctx, const char *dir, int *count)
{
    TT_RETURN_IF(NULL, !ctx || !dir, TT_ERR_NULL_ARGUMENT,
                 "tt_context_export_binaries: NULL argument");
    if (count)
        *count = 0;
    /* Snapshot the programs under the lock; the slow part runs without it. */
    cl_program progs[TT_MAX_PROGRAMS];
    unsigned char keys[TT_MAX_PROGRAMS][32];
    pthread_mutex_lock(&ctx->lock);
    int n = ctx->n_programs;
    for (int i = 0; i < n; i++) {
        progs[i] = ctx->programs[i].program;
        clRetainProgram(progs[i]);
        memcpy(keys[i], ctx->programs[i].cache_key, 32);
    }
    pthread_mutex_unlock(&ctx->lock);
    tt_status st = TT_SUCCESS;
    int written = 0;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        unsigned char *bin = st == TT_SUCCESS ? tt__pcache_program_binary(progs[i], &len) : NULL;
        if (st == TT_SUCCESS && !bin)
            st = tt__fail(ctx, TT_ERR_UNSUPPORTED,
                          "tt_context_export_binaries: the driver returned no program binary");
        else if (st == TT_SUCCESS &&
                 tt__pcache_write_entry(dir, keys[i], ctx->info.name, bin, len) != TT_SUCCESS)
            st = tt__fail(ctx, TT_ERR_IO, "tt_context_export_binaries: cannot write into %s",
                          dir);
        else if (st == TT_SUCCESS)
            written++;
        free(bin);
        clReleaseProgram(progs[i]);
    }
    if (count)
        *count = written;
    return st;
}

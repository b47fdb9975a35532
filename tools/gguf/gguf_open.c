/* gguf_open.c — getting a GGUF file's bytes: mapped read-only from disk (read into memory where
 * mapping fails) or a caller's buffer parsed in place (the fuzzing entry point); then the parse in
 * gguf.c; and releasing it all again. */
#include "gguf/gguf_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned long long ull;

void gg_close(gg_file *f)
{
    if (!f)
        return;
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++)
            if (f->kv[i].type == GG_ARRAY && f->kv[i].elem_type == GG_STRING)
                free((void *)f->kv[i].strs);
    free(f->kv);
    free(f->kv_strs);
    free(f->kv_sorted);
    free(f->tensors);
    free(f->tensor_sorted);
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->owned);
    free(f);
}

static tt_status finish_open(gg_file *f, gg_file **out, char *msg, size_t msg_size)
{
    tt_status st = gg__parse(f);
    if (st != TT_SUCCESS) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "%s", f->err);
        gg_close(f);
        return st;
    }
    f->err[0] = '\0';
    *out = f;
    return TT_SUCCESS;
}

tt_status gg_open_memory(const void *data, size_t size, gg_file **out, char *msg,
                         size_t msg_size)
{
    if (out)
        *out = NULL;
    if (!out || (!data && size)) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "gg_open_memory: NULL argument");
        return TT_ERR_NULL_ARGUMENT;
    }
    gg_file *f = calloc(1, sizeof *f);
    if (!f)
        return TT_OUT_OF_HOST_MEMORY;
    f->base = data ? data : (const unsigned char *)"";
    f->size = size;
    return finish_open(f, out, msg, msg_size);
}

tt_status gg_open(const char *path, gg_file **out, char *msg, size_t msg_size)
{
    if (out)
        *out = NULL;
    if (!path || !out) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "gg_open: NULL argument");
        return TT_ERR_NULL_ARGUMENT;
    }
    int fd = open(path, O_RDONLY);
    struct stat sb;
    const char *why = NULL;
    if (fd < 0 || fstat(fd, &sb) != 0)
        why = strerror(errno);
    else if (!S_ISREG(sb.st_mode))
        why = "not a regular file";
    if (why) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "%s: %s", path, why);
        if (fd >= 0)
            close(fd);
        return TT_ERR_IO;
    }
    gg_file *f = calloc(1, sizeof *f);
    if (!f || (uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        free(f);
        return f ? TT_ERR_TOO_LARGE : TT_OUT_OF_HOST_MEMORY;
    }
    f->size = (uint64_t)sb.st_size;
    f->base = (const unsigned char *)"";
    if (f->size) {
        void *m = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            f->map = m;
            f->map_size = (size_t)f->size;
            f->base = m;
        } else if ((f->owned = malloc((size_t)f->size))) {
            /* No mmap (some file systems): read the whole file instead. */
            uint64_t got = 0;
            while (got < f->size) {
                ssize_t r = pread(fd, f->owned + got, (size_t)(f->size - got), (off_t)got);
                if (r <= 0)
                    break;
                got += (uint64_t)r;
            }
            f->base = f->owned;
            if (got < f->size) {
                if (msg && msg_size)
                    snprintf(msg, msg_size, "%s: read failed after %llu bytes", path, (ull)got);
                close(fd);
                gg_close(f);
                return TT_ERR_IO;
            }
        } else {
            close(fd);
            gg_close(f);
            return TT_OUT_OF_HOST_MEMORY;
        }
    }
    close(fd);
    return finish_open(f, out, msg, msg_size);
}

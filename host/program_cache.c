/* program_cache.c — compiled programs on disk: a cache keyed by a SHA-256 of everything that
 * changes the binary, with self-checking entries and atomic writes, and the read-only prebuilt
 * path for devices that cannot compile (FPGA-style); the public calls that control both are in
 * program_binaries.c. Entry layout: see read_entry(). A bad entry is rebuilt, never loaded. */
#include "program_cache.h"
#include "sha256.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char magic[8] = {'T', 'T', 'P', 'C', 'A', 'C', 'H', 'E'};
#define MAX_NAME 1024
#define MAX_BINARY ((uint64_t)1 << 30)

/* Test hooks and counters are process-wide, so they sit behind their own lock. */
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static tt__pcache_stats stats;
static int fault, no_compiler;
static unsigned long temp_seq;

#define COUNT(field)                                                                               \
    do {                                                                                           \
        pthread_mutex_lock(&hook_lock);                                                            \
        stats.field++;                                                                             \
        pthread_mutex_unlock(&hook_lock);                                                          \
    } while (0)

void tt__pcache_get_stats(tt__pcache_stats *out)
{
    pthread_mutex_lock(&hook_lock);
    *out = stats;
    pthread_mutex_unlock(&hook_lock);
}

void tt__pcache_reset_stats(void)
{
    pthread_mutex_lock(&hook_lock);
    memset(&stats, 0, sizeof stats);
    pthread_mutex_unlock(&hook_lock);
}

void tt__pcache_set_fault(int f)
{
    pthread_mutex_lock(&hook_lock);
    fault = f;
    pthread_mutex_unlock(&hook_lock);
}

void tt__pcache_pretend_no_compiler(int on)
{
    pthread_mutex_lock(&hook_lock);
    no_compiler = on;
    pthread_mutex_unlock(&hook_lock);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void hash_field(tt__hsha256_ctx *s, const void *data, size_t len)
{
    unsigned char n[8];
    put_u64(n, (uint64_t)len);
    tt__hsha256_update(s, n, 8);
    tt__hsha256_update(s, data, len);
}

void tt__pcache_key(const char *const *texts, const size_t *lens, int n, const char *options,
                    const char *device_name, const char *driver_version,
                    const char *platform_version, unsigned char key[32])
{
    tt__hsha256_ctx s;
    tt__hsha256_init(&s);
    char fmt[32];
    snprintf(fmt, sizeof fmt, "toptheta-pcache-%d", TT_PCACHE_FORMAT);
    hash_field(&s, fmt, strlen(fmt));
    unsigned char cnt[4];
    put_u32(cnt, (uint32_t)n);
    tt__hsha256_update(&s, cnt, 4);
    for (int i = 0; i < n; i++)
        hash_field(&s, texts[i], lens[i]);
    const char *strs[] = {options, device_name, driver_version, platform_version};
    for (int i = 0; i < 4; i++)
        hash_field(&s, strs[i] ? strs[i] : "", strs[i] ? strlen(strs[i]) : 0);
    tt__hsha256_final(&s, key);
}

int tt__pcache_device_compiles(const tt_context *ctx)
{
    pthread_mutex_lock(&hook_lock);
    int pretend = no_compiler;
    pthread_mutex_unlock(&hook_lock);
    cl_bool avail = CL_TRUE;
    if (clGetDeviceInfo(ctx->device, CL_DEVICE_COMPILER_AVAILABLE, sizeof avail, &avail, NULL) !=
        CL_SUCCESS)
        avail = CL_TRUE; /* unknown: try to compile and let the build report */
    return !pretend && avail == CL_TRUE;
}

int tt__pcache_dir(tt_context *ctx, char *buf, size_t cap)
{
    int off_here = 0;
    if (ctx) {
        pthread_mutex_lock(&ctx->lock);
        off_here = ctx->cache_off;
        pthread_mutex_unlock(&ctx->lock);
    }
    if (off_here)
        return 0;
    const char *off = getenv("TOPTHETA_CACHE");
    if (off && (!strcmp(off, "0") || !strcmp(off, "off") || !strcmp(off, "no") ||
                !strcmp(off, "false")))
        return 0;
    const char *e = getenv("TOPTHETA_CACHE_DIR");
    int n;
    if (e && *e) {
        n = snprintf(buf, cap, "%s", e);
    } else if ((e = getenv("XDG_CACHE_HOME")) && *e == '/') {
        n = snprintf(buf, cap, "%s/toptheta", e);
    } else if ((e = getenv("HOME")) && *e) {
        n = snprintf(buf, cap, "%s/.cache/toptheta", e);
    } else {
        return 0; /* nowhere to keep it: the cache is simply off */
    }
    return n > 0 && (size_t)n < cap;
}

void tt__pcache_entry_path(const char *dir, const unsigned char key[32], char *buf, size_t cap)
{
    char hex[65];
    tt__hsha256_hex(key, hex);
    snprintf(buf, cap, "%s/%s.bin", dir, hex);
}

/* mkdir -p with private permissions: cached binaries are code the process will run. */
int tt__mkdirs(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

tt_status tt__pcache_write_entry(const char *dir, const unsigned char key[32],
                                 const char *device_name, const void *binary, size_t len)
{
    size_t nl = strlen(device_name);
    if (nl > MAX_NAME || (uint64_t)len > MAX_BINARY || tt__mkdirs(dir) != 0)
        return TT_ERR_IO;
    /* The whole entry is assembled first so the checksum can cover header and binary alike. */
    size_t total = 8 + 4 + 32 + 4 + nl + 8 + len + 32;
    unsigned char *e = malloc(total);
    if (!e)
        return TT_OUT_OF_HOST_MEMORY;
    unsigned char *p = e;
    memcpy(p, magic, 8), p += 8;
    put_u32(p, TT_PCACHE_FORMAT), p += 4;
    memcpy(p, key, 32), p += 32;
    put_u32(p, (uint32_t)nl), p += 4;
    memcpy(p, device_name, nl), p += nl;
    put_u64(p, (uint64_t)len), p += 8;
    memcpy(p, binary, len), p += len;
    tt__hsha256(e, (size_t)(p - e), p);

    char hex[65], tmp[4200], final[4200];
    tt__hsha256_hex(key, hex);
    pthread_mutex_lock(&hook_lock);
    unsigned long seq = ++temp_seq;
    int f = fault;
    pthread_mutex_unlock(&hook_lock);
    /* A unique temp name in the same directory, so rename() is atomic and concurrent writers of
     * the same key (threads or processes) never share a temp file. */
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%lu.tmp", dir, hex, (long)getpid(), seq);
    tt__pcache_entry_path(dir, key, final, sizeof final);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int ok = fd >= 0;
    if (ok && f == TT_PCACHE_FAULT_WRITE) {
        (void)write_all(fd, e, total / 2); /* the simulated interruption */
        ok = 0;
    }
    ok = ok && write_all(fd, e, total) == 0 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    ok = ok && f != TT_PCACHE_FAULT_RENAME && rename(tmp, final) == 0;
    if (!ok && fd >= 0)
        unlink(tmp);
    free(e);
    if (ok) { /* make the rename itself durable; failure here loses nothing already visible */
        int dfd = open(dir, O_RDONLY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    return ok ? TT_SUCCESS : TT_ERR_IO;
}

/* Reads and checks one entry: magic "TTPCACHE", u32 format, key[32], u32 name length, device
 * name, u64 binary length, binary, sha256 of everything before it (integers little-endian).
 * Returns the whole entry (malloc'ed) with the binary at *bin_off, or NULL with the reason. */
static unsigned char *read_entry(const char *path, const unsigned char key[32],
                                 const char *device_name, size_t *bin_off, size_t *bin_len,
                                 const char **why, int *missing)
{
    *missing = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT || errno == ENOTDIR;
        *why = *missing ? "no entry" : "entry cannot be opened";
        return NULL;
    }
    struct stat st;
    unsigned char *e = NULL;
    size_t size = 0;
    *why = "not a regular file or too large";
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= MAX_BINARY + 4096) {
        size = (size_t)st.st_size;
        e = malloc(size ? size : 1);
        size_t got = 0;
        while (e && got < size) {
            ssize_t r = read(fd, e + got, size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (e && got != size) {
            free(e);
            e = NULL;
            *why = "read error";
        }
    }
    close(fd);
    if (!e)
        return NULL;
    const size_t fixed = 8 + 4 + 32 + 4 + 8 + 32;
    size_t nl = size >= 48 ? (size_t)get_le(e + 44, 4) : 0;
    uint64_t bl = size >= fixed + nl && nl <= MAX_NAME ? get_le(e + 48 + nl, 8) : 0;
    unsigned char sum[32];
    if (size < fixed || memcmp(e, magic, 8) != 0)
        *why = "not a cache entry (bad magic or too short)";
    else if (get_le(e + 8, 4) != TT_PCACHE_FORMAT)
        *why = "entry of another format version";
    else if (nl > MAX_NAME || size < fixed + nl || bl > MAX_BINARY || size != fixed + nl + bl)
        *why = "truncated or oversized entry";
    else if (tt__hsha256(e, size - 32, sum), memcmp(sum, e + size - 32, 32) != 0)
        *why = "checksum mismatch (corrupted entry)";
    else if (memcmp(e + 12, key, 32) != 0)
        *why = "entry holds another key (foreign entry)";
    else if (nl != strlen(device_name) || memcmp(e + 48, device_name, nl) != 0)
        *why = "entry was built for another device";
    else {
        *bin_off = 48 + nl + 8;
        *bin_len = (size_t)bl;
        return e;
    }
    free(e);
    return NULL;
}

/* Turns an entry into a built program, or NULL (with the reason) if the driver refuses it. */
static cl_program load_entry(tt_context *ctx, const char *path, const unsigned char key[32],
                             const char *options, const char **why, int *missing)
{
    size_t off = 0, len = 0;
    unsigned char *e = read_entry(path, key, ctx->info.name, &off, &len, why, missing);
    if (!e)
        return NULL;
    const unsigned char *bin = e + off;
    cl_int err = CL_SUCCESS, bst = CL_SUCCESS;
    cl_program prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &len, &bin, &bst,
                                                &err);
    free(e);
    if (err != CL_SUCCESS || bst != CL_SUCCESS) {
        *why = "the driver rejected the binary";
        if (prog)
            clReleaseProgram(prog);
        return NULL;
    }
    if (clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) != CL_SUCCESS) {
        *why = "building the binary failed";
        clReleaseProgram(prog);
        return NULL;
    }
    return prog;
}

cl_program tt__pcache_load(tt_context *ctx, const unsigned char key[32], const char *options,
                           char *why, size_t why_cap)
{
    char path[4200];
    const char *reason = NULL;
    int missing = 0;
    cl_program prog = NULL;
    char pre[sizeof ctx->binaries_dir];
    pthread_mutex_lock(&ctx->lock);
    memcpy(pre, ctx->binaries_dir, sizeof pre);
    pthread_mutex_unlock(&ctx->lock);
    if (pre[0]) {
        tt__pcache_entry_path(pre, key, path, sizeof path);
        prog = load_entry(ctx, path, key, options, &reason, &missing);
        if (prog) {
            COUNT(prebuilt_hits);
            return prog;
        }
        if (!missing)
            COUNT(rejected);
        if (why)
            snprintf(why, why_cap, "%s: %s", path, reason);
    }
    char dir[4096];
    if (!tt__pcache_dir(ctx, dir, sizeof dir))
        return NULL;
    tt__pcache_entry_path(dir, key, path, sizeof path);
    prog = load_entry(ctx, path, key, options, &reason, &missing);
    if (prog) {
        COUNT(hits);
        return prog;
    }
    COUNT(misses);
    if (!missing)
        COUNT(rejected); /* the rebuild that follows overwrites it */
    return NULL;
}

unsigned char *tt__pcache_program_binary(cl_program prog, size_t *len)
{
    cl_uint nd = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_NUM_DEVICES, sizeof nd, &nd, NULL) != CL_SUCCESS ||
        nd != 1)
        return NULL;
    *len = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof *len, len, NULL) != CL_SUCCESS ||
        *len == 0 || (uint64_t)*len > MAX_BINARY)
        return NULL;
    unsigned char *bin = malloc(*len);
    if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(bin);
        bin = NULL;
    }
    return bin;
}

void tt__pcache_store(tt_context *ctx, const unsigned char key[32], cl_program program)
{
    char dir[4096];
    if (!tt__pcache_dir(ctx, dir, sizeof dir))
        return;
    size_t len = 0;
    unsigned char *bin = tt__pcache_program_binary(program, &len);
    if (bin && tt__pcache_write_entry(dir, key, ctx->info.name, bin, len) == TT_SUCCESS)
        COUNT(stores);
    else
        COUNT(write_failures);
    free(bin);
}

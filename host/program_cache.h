/* program_cache.h — private interface of the on-disk program binary cache and the prebuilt-binary
 * path (program_cache.c): the cache key, entry lookup and store used by program.c, and the test
 * hooks (counters, fault injection, a pretend-no-compiler switch). */
#ifndef TT_PROGRAM_CACHE_H
#define TT_PROGRAM_CACHE_H

#include "internal.h"

/* Bumped whenever the entry layout or the key's inputs change; it is part of the key too. */
#define TT_PCACHE_FORMAT 1

/* Key over everything that changes the binary: source texts, full options string, device name,
 * driver version, platform version and the format version. Fields are length-prefixed so that
 * moving bytes from one field to the next changes the key. */
void tt__pcache_key(const char *const *texts, const size_t *lens, int n, const char *options,
                    const char *device_name, const char *driver_version,
                    const char *platform_version, unsigned char key[32]);

/* Looks for a usable binary: the context's prebuilt directory first (read-only), then the disk
 * cache when it is enabled. Returns a built program or NULL; never fails a build by itself.
 * *why (if given) gets a short reason when a prebuilt entry was missing or unusable. */
cl_program tt__pcache_load(tt_context *ctx, const unsigned char key[32], const char *options,
                           char *why, size_t why_cap);

/* Stores a freshly built program under key when the cache is enabled. Errors are swallowed: a
 * cache that cannot be written must never fail a build (write_failures counts them). */
void tt__pcache_store(tt_context *ctx, const unsigned char key[32], cl_program program);

/* Whether the device can compile from source (CL_DEVICE_COMPILER_AVAILABLE, or the test hook). */
int tt__pcache_device_compiles(const tt_context *ctx);

/* Cache directory in effect ($TOPTHETA_CACHE_DIR, $XDG_CACHE_HOME/toptheta, ~/.cache/toptheta);
 * 0 when none can be named or the cache is switched off for ctx (ctx may be NULL). */
int tt__pcache_dir(tt_context *ctx, char *buf, size_t cap);

/* Writes one entry atomically (temp file in dir, fsync, rename). TT_ERR_IO on failure, in which
 * case no temp file is left behind and an existing entry is untouched. Public to the tests so they
 * can craft foreign or damaged entries. */
tt_status tt__pcache_write_entry(const char *dir, const unsigned char key[32],
                                 const char *device_name, const void *binary, size_t len);

/* The device binary of a built program (malloc'ed), or NULL if the driver gives none. */
unsigned char *tt__pcache_program_binary(cl_program program, size_t *len);

/* mkdir -p with mode 0700 for the directories it creates; 0 on success (also shared with the
 * tuning overlay writer). */
int tt__mkdirs(const char *dir);

/* Path of the entry for key in dir (dir/<hex>.bin). */
void tt__pcache_entry_path(const char *dir, const unsigned char key[32], char *buf, size_t cap);

/* ---- Test hooks (process-wide) ---- */
typedef struct tt__pcache_stats {
    unsigned long hits;            /* programs loaded from the disk cache */
    unsigned long misses;          /* lookups that found no usable entry */
    unsigned long rejected;        /* entries present but corrupt, truncated, foreign, unusable */
    unsigned long prebuilt_hits;   /* programs loaded from a tt_context_load_binaries directory */
    unsigned long stores;          /* entries written */
    unsigned long write_failures;  /* entries that could not be written */
} tt__pcache_stats;

void tt__pcache_get_stats(tt__pcache_stats *out);
void tt__pcache_reset_stats(void);

enum {
    TT_PCACHE_FAULT_NONE = 0,
    TT_PCACHE_FAULT_WRITE = 1,  /* the write fails after half the entry reached the temp file */
    TT_PCACHE_FAULT_RENAME = 2, /* the temp file is complete but the rename fails */
};
void tt__pcache_set_fault(int fault);
/* Makes tt__pcache_device_compiles report 0, as on an ahead-of-time (FPGA-style) target. */
void tt__pcache_pretend_no_compiler(int on);

#endif

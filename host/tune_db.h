/* tune_db.h — per-device launch parameters of the attention kernels: a built-in database
 * (device -> architecture -> vendor -> device-type default, after name normalisation), a user
 * overlay file, the TOPTHETA_TUNE override, and the capability clamps (tune_db.c, tune_overlay.c,
 * db/attention_db.c). Private to the library, its tools and its tests. */
#ifndef TT_TUNE_DB_H
#define TT_TUNE_DB_H

#include "internal.h"

typedef struct tt__tune_params {
    int wg;    /* work-group size, a power of two */
    int chunk; /* decode keys per work-group; 0 = automatic */
} tt__tune_params;

/* Where a lookup's values came from, most specific first. */
typedef enum tt__tune_level {
    TT_TUNE_OVERRIDE = 0, /* TOPTHETA_TUNE (on top of one of the levels below) */
    TT_TUNE_OVERLAY,      /* the user overlay file, by normalised device name */
    TT_TUNE_DEVICE,       /* built-in, by normalised device name */
    TT_TUNE_ARCH,         /* built-in, by architecture */
    TT_TUNE_VENDOR,       /* built-in, by normalised vendor */
    TT_TUNE_TYPE,         /* built-in default of the device type */
    TT_TUNE_FORCED        /* set on the context by tt__tune_force (the tuner) */
} tt__tune_level;

/* One built-in record; key is matched exactly against the normalised name of its level. */
typedef struct tt__tune_entry {
    tt__tune_level level; /* TT_TUNE_DEVICE, _ARCH, _VENDOR or _TYPE */
    const char *key;      /* "" for type defaults */
    cl_device_type type;  /* device types the record applies to */
    tt__tune_params params;
} tt__tune_entry;

extern const tt__tune_entry tt__attention_db[];
extern const int tt__attention_db_count;

/* A device's identity as the database sees it. */
typedef struct tt__tune_device {
    char name[256];   /* trimmed, spaces collapsed, PoCL's "pthread-"/"cpu-" prefix removed */
    char arch[64];    /* "haswell", "skylake-avx512", "Hopper", "gfx90a", or "" if unknown */
    char vendor[64];  /* "NVIDIA", "AMD", "Intel", "PoCL-CPU", or the trimmed vendor string */
    cl_device_type type;
} tt__tune_device;

void tt__tune_normalise(const char *name, const char *vendor, cl_device_type type,
                        tt__tune_device *out);
/* Trims and collapses runs of white space to one space (the first step of every normalisation). */
void tt__tune_clean(const char *in, char *out, size_t cap);

typedef struct tt__tune_result {
    tt__tune_device dev;
    tt__tune_params params;
    tt__tune_level level;  /* level of the record the values came from */
    int env_override;      /* TOPTHETA_TUNE changed at least one value */
    char matched[256];     /* key of the matching record, or the overlay path */
    /* A bad overlay or override is ignored (built-ins stay in effect); the reason is kept here. */
    tt_status overlay_status;
    char overlay_path[4096];
    char overlay_message[512];
    tt_status override_status;
    char override_message[256];
} tt__tune_result;

/* Built-in lookup only: device -> arch -> vendor -> type. TT_INVALID_DEVICE if nothing matches
 * (only possible for a device type no default covers). */
tt_status tt__tune_lookup_builtin(const tt__tune_device *dev, tt__tune_params *p,
                                  tt__tune_level *level, const char **key);

/* Full lookup for a device: TOPTHETA_TUNE > overlay > built-in. Fails only as the built-in does. */
tt_status tt__tune_lookup(const tt_device_info *info, tt__tune_result *r);

/* The context's parameters (looked up once per context, or forced), before clamping. */
tt_status tt__tune_context(tt_context *ctx, tt__tune_params *p);
/* Used by the tuner: the context's next programs use exactly these values (before clamping). */
void tt__tune_force(tt_context *ctx, tt__tune_params p);

/* Capability clamp: the largest power of two <= wg that the device's work-group limit and local
 * memory (tt__attention_local_bytes for head_dim and group) allow; at least 1. */
int tt__tune_clamp_wg(const tt_device_info *info, int wg, int head_dim, int group);

/* ---- Overlay and override (tune_overlay.c) ---- */
/* Overlay path: $TOPTHETA_TUNE_FILE, else $XDG_CACHE_HOME/toptheta/tune.txt, else
 * ~/.cache/toptheta/tune.txt. 0 if none can be named. */
int tt__tune_overlay_path(char *buf, size_t cap);

/* Strictly parses an overlay file ("device=<normalised name> WG=<n> CHUNK=<n>" per line, '#'
 * comments and blank lines allowed, each device once) and finds device's entry. *found = 0 and
 * TT_SUCCESS for a missing file. On a malformed file: TT_ERR_FORMAT (or TT_ERR_IO) with the line
 * and reason in msg. */
tt_status tt__tune_overlay_find(const char *path, const char *device, tt__tune_params *p,
                                int *found, char *msg, size_t msg_cap);

/* Parses "WG=<n>,CHUNK=<n>" (either key may be left out) over *p. TT_ERR_FORMAT with msg. */
tt_status tt__tune_override_parse(const char *text, tt__tune_params *p, char *msg,
                                  size_t msg_cap);

/* Sets device's line in the overlay at path, keeping every other line; atomic (temp + rename). */
tt_status tt__tune_overlay_write(const char *path, const char *device, tt__tune_params p,
                                 char *msg, size_t msg_cap);

/* Value ranges accepted from files and the environment. */
#define TT_TUNE_MAX_WG 4096
#define TT_TUNE_MAX_CHUNK (1 << 24)

#endif

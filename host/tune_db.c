/* tune_db.c — the launch-parameter lookup: device names normalised (white space, vendor aliases,
 * PoCL's "pthread-<cpu>-<model>" and "cpu-<cpu>-<model>" forms, NVIDIA model -> architecture),
 * then device -> architecture -> vendor -> type default in the built-in table, with the user
 * overlay and TOPTHETA_TUNE on top; values are clamped by device capabilities, never by names. */
#include "tune_db.h"
#include "attention_plan.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bounded copy that truncates quietly (names longer than the fields are not meaningful). */
static void scopy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    n = n < cap ? n : cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void tt__tune_clean(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    int space = 0;
    for (; in && *in && n + 1 < cap; in++) {
        if (isspace((unsigned char)*in)) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < cap)
            out[n++] = ' ';
        space = 0;
        out[n++] = *in;
    }
    out[n] = '\0';
}

/* CL_DEVICE_VENDOR strings (and CPUID vendors, which PoCL reports) under one short name each. */
static const char *const vendor_alias[][2] = {
    {"Advanced Micro Devices, Inc.", "AMD"}, {"AuthenticAMD", "AMD"},
    {"AMD", "AMD"},                          {"NVIDIA Corporation", "NVIDIA"},
    {"NVIDIA", "NVIDIA"},                    {"Intel(R) Corporation", "Intel"},
    {"Intel Corporation", "Intel"},          {"GenuineIntel", "Intel"},
    {"Intel", "Intel"},                      {"ARM", "ARM"},
    {"QUALCOMM", "Qualcomm"},                {"Apple", "Apple"},
};

/* NVIDIA model words and their architecture; a word matches exactly (case-insensitively). */
static const char *const nvidia_models[][2] = {
    {"GH200", "Hopper"}, {"H200", "Hopper"},     {"H100", "Hopper"},    {"H800", "Hopper"},
    {"H20", "Hopper"},   {"GB200", "Blackwell"}, {"B200", "Blackwell"}, {"B100", "Blackwell"},
    {"A100", "Ampere"},  {"A800", "Ampere"},     {"A40", "Ampere"},     {"A30", "Ampere"},
    {"A10", "Ampere"},   {"A16", "Ampere"},      {"A2", "Ampere"},      {"L40S", "Ada"},
    {"L40", "Ada"},      {"L4", "Ada"},          {"V100", "Volta"},     {"T4", "Turing"},
    {"P100", "Pascal"},  {"P40", "Pascal"},      {"P4", "Pascal"},
};

static const char *nvidia_arch(const char *name)
{
    char words[256];
    scopy(words, sizeof words, name);
    const char *prev = "";
    for (char *save = NULL, *w = strtok_r(words, " -", &save); w; w = strtok_r(NULL, " -", &save)) {
        for (size_t i = 0; i < sizeof nvidia_models / sizeof nvidia_models[0]; i++)
            if (!strcasecmp(w, nvidia_models[i][0]))
                return nvidia_models[i][1];
        if (!strcasecmp(w, "Ada"))
            return "Ada";
        /* GeForce / workstation numbering: "RTX 4090", "GTX 1080". */
        int num = isdigit((unsigned char)w[0]) ? atoi(w) : 0;
        if (!strcasecmp(prev, "RTX") && num >= 2000 && num < 6000)
            return num >= 5000 ? "Blackwell" : num >= 4000 ? "Ada" : num >= 3000 ? "Ampere"
                                                                                 : "Turing";
        if (!strcasecmp(prev, "RTX") && toupper((unsigned char)w[0]) == 'A' &&
            isdigit((unsigned char)w[1]))
            return "Ampere"; /* "RTX A6000" */
        if (!strcasecmp(prev, "GTX") && num >= 1000 && num < 1700)
            return num >= 1600 ? "Turing" : "Pascal";
        prev = w;
    }
    return "";
}

/* PoCL CPU names: "<prefix><llvm_cpu>-<model>". LLVM CPU names are lower-case words joined by
 * '-' ("skylake-avx512", "x86-64-v3"); the model is the first segment that is not such a word. */
static void pocl_split(const char *rest, tt__tune_device *out)
{
    size_t cut = 0, i = 0;
    for (;;) {
        size_t j = i;
        while (rest[j] && (islower((unsigned char)rest[j]) || isdigit((unsigned char)rest[j]) ||
                           rest[j] == '_' || rest[j] == '.'))
            j++;
        if (j == i || (rest[j] && rest[j] != '-'))
            break; /* this segment is (the start of) the model name */
        cut = j;
        if (!rest[j])
            break;
        i = j + 1;
    }
    if (cut == 0) /* no recognisable CPU name: keep the whole rest as the name only */
        return;
    size_t n = cut < sizeof out->arch ? cut : sizeof out->arch - 1;
    memcpy(out->arch, rest, n);
    out->arch[n] = '\0';
}

void tt__tune_normalise(const char *name, const char *vendor, cl_device_type type,
                        tt__tune_device *out)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    char v[128];
    tt__tune_clean(name, out->name, sizeof out->name);
    tt__tune_clean(vendor, v, sizeof v);
    scopy(out->vendor, sizeof out->vendor, v);
    for (size_t i = 0; i < sizeof vendor_alias / sizeof vendor_alias[0]; i++)
        if (!strcasecmp(v, vendor_alias[i][0]))
            scopy(out->vendor, sizeof out->vendor, vendor_alias[i][1]);

    const char *prefixes[] = {"pthread-", "cpu-"};
    for (int i = 0; i < 2 && (type & CL_DEVICE_TYPE_CPU); i++) {
        size_t pl = strlen(prefixes[i]);
        if (strncmp(out->name, prefixes[i], pl) != 0 || !out->name[pl])
            continue;
        /* Both PoCL forms of one CPU get one name, so an overlay survives a PoCL upgrade. */
        memmove(out->name, out->name + pl, strlen(out->name + pl) + 1);
        pocl_split(out->name, out);
        snprintf(out->vendor, sizeof out->vendor, "PoCL-CPU");
        return;
    }
    if (!strcmp(out->vendor, "NVIDIA")) {
        scopy(out->arch, sizeof out->arch, nvidia_arch(out->name));
    } else if (!strncmp(out->name, "gfx", 3)) {
        /* AMD reports the ISA ("gfx90a:sramecc+:xnack-"); the feature suffix is not the chip. */
        out->name[strcspn(out->name, ":")] = '\0';
        scopy(out->arch, sizeof out->arch, out->name);
    }
}

tt_status tt__tune_lookup_builtin(const tt__tune_device *dev, tt__tune_params *p,
                                  tt__tune_level *level, const char **key)
{
    const tt__tune_level order[] = {TT_TUNE_DEVICE, TT_TUNE_ARCH, TT_TUNE_VENDOR, TT_TUNE_TYPE};
    const char *want[] = {dev->name, dev->arch, dev->vendor, ""};
    for (int l = 0; l < 4; l++) {
        if (l < 3 && !want[l][0])
            continue; /* an unknown architecture matches nothing, not the empty key */
        for (int i = 0; i < tt__attention_db_count; i++) {
            const tt__tune_entry *e = &tt__attention_db[i];
            if (e->level == order[l] && (e->type & dev->type) && !strcmp(e->key, want[l])) {
                *p = e->params;
                *level = order[l];
                *key = e->key;
                return TT_SUCCESS;
            }
        }
    }
    return TT_INVALID_DEVICE;
}

tt_status tt__tune_lookup(const tt_device_info *info, tt__tune_result *r)
{
    memset(r, 0, sizeof *r);
    tt__tune_normalise(info->name, info->vendor, info->type, &r->dev);
    const char *key = "";
    tt_status st = tt__tune_lookup_builtin(&r->dev, &r->params, &r->level, &key);
    if (st != TT_SUCCESS)
        return tt__fail(NULL, st, "tuning database: no entry for device type 0x%llx (%s)",
                        (unsigned long long)info->type, r->dev.name);
    scopy(r->matched, sizeof r->matched, key);

    /* The overlay is the user's and may be broken; then the built-in values stay in effect. */
    if (tt__tune_overlay_path(r->overlay_path, sizeof r->overlay_path)) {
        tt__tune_params op;
        int found = 0;
        r->overlay_status = tt__tune_overlay_find(r->overlay_path, r->dev.name, &op, &found,
                                                  r->overlay_message, sizeof r->overlay_message);
        if (r->overlay_status == TT_SUCCESS && found) {
            r->params = op;
            r->level = TT_TUNE_OVERLAY;
            scopy(r->matched, sizeof r->matched, r->overlay_path);
        }
    }
    const char *env = getenv("TOPTHETA_TUNE");
    if (env && *env) {
        tt__tune_params ep = r->params;
        r->override_status = tt__tune_override_parse(env, &ep, r->override_message,
                                                     sizeof r->override_message);
        if (r->override_status == TT_SUCCESS) {
            r->env_override = ep.wg != r->params.wg || ep.chunk != r->params.chunk;
            r->params = ep;
        }
    }
    return TT_SUCCESS;
}

tt_status tt__tune_context(tt_context *ctx, tt__tune_params *p)
{
    pthread_mutex_lock(&ctx->lock);
    int state = ctx->tune_state;
    *p = (tt__tune_params){ctx->tune_wg, ctx->tune_chunk};
    pthread_mutex_unlock(&ctx->lock);
    if (state)
        return TT_SUCCESS;
    /* First use: look up outside the lock (it reads a file); the first result stored wins. */
    tt__tune_result r;
    tt_status st = tt__tune_lookup(&ctx->info, &r);
    if (st != TT_SUCCESS)
        return tt__fail(ctx, st, "%s", tt_last_error(NULL));
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->tune_state) {
        ctx->tune_state = 1;
        ctx->tune_wg = r.params.wg;
        ctx->tune_chunk = r.params.chunk;
    }
    *p = (tt__tune_params){ctx->tune_wg, ctx->tune_chunk};
    pthread_mutex_unlock(&ctx->lock);
    return TT_SUCCESS;
}

void tt__tune_force(tt_context *ctx, tt__tune_params p)
{
    pthread_mutex_lock(&ctx->lock);
    ctx->tune_state = 2;
    ctx->tune_wg = p.wg;
    ctx->tune_chunk = p.chunk;
    pthread_mutex_unlock(&ctx->lock);
}

int tt__tune_clamp_wg(const tt_device_info *info, int wg, int head_dim, int group)
{
    if (wg > TT_TUNE_MAX_WG)
        wg = TT_TUNE_MAX_WG;
    int p = 1;
    while (p * 2 <= wg)
        p *= 2;
    while (p > 1 && (size_t)p > info->max_work_group_size)
        p /= 2;
    while (p > 1 && tt__attention_local_bytes(head_dim, group, p) > info->local_mem_size)
        p /= 2;
    return p;
}

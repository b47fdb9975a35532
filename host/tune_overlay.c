/* tune_overlay.c — the user's side of the launch-parameter database: the overlay file
 * ("device=<normalised name> WG=<n> CHUNK=<n>" per line, written by `toptheta tune`), parsed
 * strictly so a typo is reported rather than half-applied, its atomic rewrite that keeps other
 * devices' lines, and the one-line TOPTHETA_TUNE override. */
#include "tune_db.h"
#include "program_cache.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE 1024
#define MAX_ENTRIES 4096

int tt__tune_overlay_path(char *buf, size_t cap)
{
    const char *e = getenv("TOPTHETA_TUNE_FILE");
    int n;
    if (e && *e)
        n = snprintf(buf, cap, "%s", e);
    else if ((e = getenv("XDG_CACHE_HOME")) && *e == '/')
        n = snprintf(buf, cap, "%s/toptheta/tune.txt", e);
    else if ((e = getenv("HOME")) && *e)
        n = snprintf(buf, cap, "%s/.cache/toptheta/tune.txt", e);
    else
        return 0;
    return n > 0 && (size_t)n < cap;
}

/* A decimal number with nothing else around it, within [0, max]. */
static int parse_num(const char *s, size_t len, long max, long *out)
{
    if (len == 0 || len > 9)
        return 0;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return v <= max;
}

/* Sets one "KEY=VALUE" of p; *seen guards against repeats. Returns 0 with msg on error. */
static int set_param(const char *tok, size_t len, tt__tune_params *p, int *seen, char *msg,
                     size_t cap)
{
    const char *eq = memchr(tok, '=', len);
    long v = 0;
    if (!eq) {
        snprintf(msg, cap, "'%.*s' is not KEY=VALUE", (int)len, tok);
        return 0;
    }
    size_t kl = (size_t)(eq - tok), vl = len - kl - 1;
    int which = kl == 2 && !strncmp(tok, "WG", 2)      ? 1
                : kl == 5 && !strncmp(tok, "CHUNK", 5) ? 2
                                                       : 0;
    if (!which) {
        snprintf(msg, cap, "unknown key '%.*s' (expected WG or CHUNK)", (int)kl, tok);
        return 0;
    }
    if (*seen & which) {
        snprintf(msg, cap, "%.*s given twice", (int)kl, tok);
        return 0;
    }
    *seen |= which;
    if (which == 1 && (!parse_num(eq + 1, vl, TT_TUNE_MAX_WG, &v) || v < 1 || (v & (v - 1)))) {
        snprintf(msg, cap, "WG must be a power of two in 1..%d, got '%.*s'", TT_TUNE_MAX_WG,
                 (int)vl, eq + 1);
        return 0;
    }
    if (which == 2 && !parse_num(eq + 1, vl, TT_TUNE_MAX_CHUNK, &v)) {
        snprintf(msg, cap, "CHUNK must be an integer in 0..%d, got '%.*s'", TT_TUNE_MAX_CHUNK,
                 (int)vl, eq + 1);
        return 0;
    }
    if (which == 1)
        p->wg = (int)v;
    else
        p->chunk = (int)v;
    return 1;
}

tt_status tt__tune_override_parse(const char *text, tt__tune_params *p, char *msg, size_t cap)
{
    tt__tune_params q = *p;
    int seen = 0;
    char m[200];
    for (const char *s = text;;) {
        size_t len = strcspn(s, ",");
        if (!set_param(s, len, &q, &seen, m, sizeof m)) {
            snprintf(msg, cap, "TOPTHETA_TUNE=\"%s\" ignored: %s", text, m);
            return TT_ERR_FORMAT;
        }
        if (!s[len])
            break;
        s += len + 1;
    }
    *p = q;
    return TT_SUCCESS;
}

/* Parses one non-comment line into name and params; returns 0 with msg on error. */
static int parse_line(char *line, char *name, size_t name_cap, tt__tune_params *p, char *msg,
                      size_t cap)
{
    if (strncmp(line, "device=", 7) != 0) {
        snprintf(msg, cap, "expected 'device=<name> WG=<n> CHUNK=<n>'");
        return 0;
    }
    /* The name may contain spaces; it ends where the parameters start. */
    char *wg = strstr(line, " WG=");
    if (!wg) {
        snprintf(msg, cap, "WG missing");
        return 0;
    }
    *wg = '\0';
    tt__tune_clean(line + 7, name, name_cap);
    if (!name[0]) {
        snprintf(msg, cap, "empty device name");
        return 0;
    }
    int seen = 0;
    *p = (tt__tune_params){0, 0};
    for (char *s = wg + 1; *s;) {
        size_t len = strcspn(s, " \t");
        if (!set_param(s, len, p, &seen, msg, cap))
            return 0;
        s += len;
        s += strspn(s, " \t");
    }
    if (seen != 3) {
        snprintf(msg, cap, "%s missing", seen & 1 ? "CHUNK" : "WG");
        return 0;
    }
    return 1;
}

/* Calls fn for every line of the overlay (raw text, parsed name or NULL for a comment/blank).
 * Returns the status of reading and parsing, with the reason in msg. */
typedef int (*line_fn)(void *arg, const char *raw, const char *name, tt__tune_params p);

static tt_status walk(const char *path, line_fn fn, void *arg, int *exists, char *msg, size_t cap)
{
    *exists = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) {
            snprintf(msg, cap, "no overlay at %s", path);
            return TT_SUCCESS;
        }
        snprintf(msg, cap, "%s: cannot open: %s", path, strerror(errno));
        return TT_ERR_IO;
    }
    *exists = 1;
    char (*names)[256] = malloc((size_t)MAX_ENTRIES * sizeof *names);
    char line[MAX_LINE + 2], raw[MAX_LINE + 2], m[300];
    int n = 0, lineno = 0;
    tt_status st = names ? TT_SUCCESS : TT_OUT_OF_HOST_MEMORY;
    while (st == TT_SUCCESS && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(msg, cap, "%s:%d: line longer than %d characters", path, lineno, MAX_LINE);
            st = TT_ERR_FORMAT;
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(raw, sizeof raw, "%s", line);
        char *s = line + strspn(line, " \t");
        char *end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        tt__tune_params p = {0, 0};
        if (!*s || *s == '#') {
            if (fn(arg, raw, NULL, p) != 0)
                st = TT_OUT_OF_HOST_MEMORY;
            continue;
        }
        if (n == MAX_ENTRIES || !parse_line(s, names[n], sizeof names[n], &p, m, sizeof m)) {
            snprintf(msg, cap, "%s:%d: %s", path, lineno,
                     n == MAX_ENTRIES ? "too many entries" : m);
            st = TT_ERR_FORMAT;
            break;
        }
        for (int i = 0; i < n && st == TT_SUCCESS; i++)
            if (!strcmp(names[i], names[n])) {
                snprintf(msg, cap, "%s:%d: device '%s' listed twice", path, lineno, names[n]);
                st = TT_ERR_FORMAT;
            }
        if (st == TT_SUCCESS && fn(arg, raw, names[n++], p) != 0)
            st = TT_OUT_OF_HOST_MEMORY;
    }
    if (st == TT_SUCCESS && ferror(f)) {
        snprintf(msg, cap, "%s: read error", path);
        st = TT_ERR_IO;
    }
    fclose(f);
    free(names);
    return st;
}

typedef struct {
    const char *device;
    tt__tune_params p;
    int found;
} find_arg;

static int find_cb(void *arg, const char *raw, const char *name, tt__tune_params p)
{
    find_arg *a = arg;
    (void)raw;
    if (name && !strcmp(name, a->device)) {
        a->p = p;
        a->found = 1;
    }
    return 0;
}

tt_status tt__tune_overlay_find(const char *path, const char *device, tt__tune_params *p,
                                int *found, char *msg, size_t cap)
{
    find_arg a = {device, {0, 0}, 0};
    int exists;
    msg[0] = '\0';
    tt_status st = walk(path, find_cb, &a, &exists, msg, cap);
    *found = st == TT_SUCCESS && a.found;
    if (*found)
        *p = a.p;
    return st;
}

/* Collects the lines to keep when rewriting the overlay. */
typedef struct {
    const char *device;
    char *text;
    size_t len, cap;
} keep_arg;

static int keep_cb(void *arg, const char *raw, const char *name, tt__tune_params p)
{
    keep_arg *a = arg;
    (void)p;
    if (name && !strcmp(name, a->device))
        return 0; /* replaced by the new line */
    size_t need = a->len + strlen(raw) + 2;
    if (need > a->cap) {
        size_t nc = need * 2;
        char *t = realloc(a->text, nc);
        if (!t)
            return -1;
        a->text = t;
        a->cap = nc;
    }
    a->len += (size_t)sprintf(a->text + a->len, "%s\n", raw);
    return 0;
}

tt_status tt__tune_overlay_write(const char *path, const char *device, tt__tune_params p,
                                 char *msg, size_t cap)
{
    char name[256];
    tt__tune_clean(device, name, sizeof name);
    keep_arg a = {name, NULL, 0, 0};
    int exists = 0;
    msg[0] = '\0';
    /* A malformed overlay is left for the user to fix rather than silently rewritten. */
    tt_status st = walk(path, keep_cb, &a, &exists, msg, cap);
    char line[400];
    snprintf(line, sizeof line, "%sdevice=%s WG=%d CHUNK=%d\n",
             exists ? "" : "# toptheta launch parameters: device=<name> WG=<n> CHUNK=<n>\n", name,
             p.wg, p.chunk);
    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = -1;
    if (st == TT_SUCCESS && slash && dir[0] && tt__mkdirs(dir) != 0) {
        snprintf(msg, cap, "cannot create the directory %s: %s", dir, strerror(errno));
        st = TT_ERR_IO;
    }
    if (st == TT_SUCCESS &&
        (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
        snprintf(msg, cap, "cannot create %s: %s", tmp, strerror(errno));
        st = TT_ERR_IO;
    }
    if (st == TT_SUCCESS) {
        int ok = (!a.len || write(fd, a.text, a.len) == (ssize_t)a.len) &&
                 write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0) {
            snprintf(msg, cap, "cannot write %s: %s", path, strerror(errno));
            unlink(tmp);
            st = TT_ERR_IO;
        }
    }
    free(a.text);
    return st;
}

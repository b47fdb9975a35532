/* test-faults.c — interrupted writes never damage what is already there: a table save failed at
 * the write, fsync or rename over many existing files (absent, empty, junk, valid, large, other
 * modes), a program-cache entry write failed over many existing entries, and a calibration that
 * fails part-way (run through the built `toptheta calibrate`), each leaving no temp file behind. */
#include "support.h"
#include "table_file.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include("program_cache.h")
#include "program_cache.h"
#define HAVE_PROGRAM_CACHE 1
#endif
#endif

static char dir[64];

static void make_dir(void) { tt_test_mkdtemp(dir, sizeof dir, "tt-faults"); }
static void remove_dir(void) { tt_test_rmdir(dir); }

static const char *in_dir(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

/* layers x heads curves of `samples` points each, D̂ on every curve when dhat. */
static tt_table *table(int layers, int heads, int samples, int dhat, float base)
{
    tt_table_meta m;
    memset(&m, 0, sizeof m);
    m.n_layers = layers, m.n_heads = heads, m.score_precision = 32;
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_create(&m, &t), TT_SUCCESS);
    int *ns = malloc(sizeof(int) * (size_t)samples);
    float *th = malloc(sizeof(float) * (size_t)samples);
    for (int i = 0; i < samples; i++)
        ns[i] = 4 + 3 * i, th[i] = base + 0.01f * (float)i;
    for (int l = 0; l < layers; l++) {
        ck_assert_int_eq(tt_table_set_layer_k(t, l, 4), TT_SUCCESS);
        for (int h = 0; h < heads; h++)
            ck_assert_int_eq(tt_table_set_curve(t, l, h, samples, ns, th, dhat ? th : NULL), 0);
    }
    free(ns);
    free(th);
    return t;
}

/* What is at the target path before the faulty save; kind indexes the list below. */
enum { EX_NONE, EX_EMPTY, EX_JUNK, EX_SMALL, EX_LARGE, EX_TRUNCATED, EX_MODE600, EX_COUNT };
static const char *const ex_names[EX_COUNT] = {"absent",      "empty",          "junk",
                                               "small table", "large table",    "truncated table",
                                               "mode 0600"};

static void make_existing(int kind, const char *path)
{
    unlink(path);
    if (kind == EX_EMPTY)
        tt_test_write_file(path, "", 0);
    else if (kind == EX_JUNK)
        tt_test_write_file(path, "not a table\n", 12);
    else if (kind != EX_NONE) {
        tt_table *t = table(kind == EX_LARGE ? 16 : 1, kind == EX_LARGE ? 16 : 2,
                            kind == EX_LARGE ? 64 : 3, kind == EX_LARGE, 0.5f);
        ck_assert_int_eq(tt_table_save(t, path), TT_SUCCESS);
        tt_table_destroy(t);
        if (kind == EX_TRUNCATED)
            ck_assert_int_eq(truncate(path, 70), 0);
        if (kind == EX_MODE600)
            ck_assert_int_eq(chmod(path, 0600), 0);
    }
}

START_TEST(test_table_save_faults)
{
    static const char *const steps[4] = {"", "write", "fsync", "rename"};
    tt_table *news[2] = {table(1, 1, 2, 0, 7.0f), table(24, 16, 96, 1, 9.0f)}; /* ~450 KB */
    const char *path = in_dir("target.ttt");
    char back_path[512];
    snprintf(back_path, sizeof back_path, "%s", in_dir("reference.ttt"));
    int cases = 0;
    for (int kind = 0; kind < EX_COUNT; kind++)
        for (int nt = 0; nt < 2; nt++)
            for (int fault = 1; fault <= 3; fault++) {
                make_existing(kind, path);
                size_t size = 0;
                unsigned char *before = tt_test_read_file(path, &size);
                struct stat sb0, sb1;
                int existed = stat(path, &sb0) == 0;
                tt__table_file_fault(fault);
                tt_status st = tt_table_save(news[nt], path);
                tt__table_file_fault(0);
                ck_assert_msg(st == TT_ERR_IO, "%s, fault %d: %s", ex_names[kind], fault,
                              tt_status_name(st));
                ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), steps[fault]));
                ck_assert_ptr_nonnull(strstr(tt_last_error(NULL), path));
                size_t now = 0;
                unsigned char *after = tt_test_read_file(path, &now);
                ck_assert_msg(existed ? after && now == size && !memcmp(before, after, size)
                                      : !after,
                              "%s, new table %d, fault %d: the existing file changed",
                              ex_names[kind], nt, fault);
                if (existed) {
                    ck_assert_int_eq(stat(path, &sb1), 0);
                    ck_assert_int_eq(sb1.st_mode, sb0.st_mode);
                }
                ck_assert_int_eq(tt_test_count_files(dir, ".tmp"), 0);
                free(before);
                free(after);
                cases++;
            }
    /* The same saves without a fault replace every kind of file, keeping its mode. */
    ck_assert_int_eq(tt_table_save(news[1], back_path), TT_SUCCESS);
    size_t want_size;
    unsigned char *want = tt_test_read_file(back_path, &want_size);
    for (int kind = 0; kind < EX_COUNT; kind++) {
        make_existing(kind, path);
        struct stat sb;
        mode_t mode = stat(path, &sb) == 0 ? sb.st_mode & 0777 : 0644;
        ck_assert_int_eq(tt_table_save(news[1], path), TT_SUCCESS);
        size_t got_size;
        unsigned char *got = tt_test_read_file(path, &got_size);
        ck_assert(got && got_size == want_size && !memcmp(got, want, want_size));
        ck_assert_int_eq(stat(path, &sb), 0);
        ck_assert_int_eq(sb.st_mode & 0777, mode);
        free(got);
    }
    free(want);
    ck_assert_int_eq(tt_test_count_files(dir, ".tmp"), 0);
    printf("# table save faults: %d interrupted saves, existing files intact\n", cases);
    tt_table_destroy(news[0]);
    tt_table_destroy(news[1]);
}
END_TEST

#ifdef HAVE_PROGRAM_CACHE
/* Writes an entry whose binary is len bytes of value fill under key, expecting status want. */
static void put_entry(const unsigned char key[32], size_t len, int fill, tt_status want)
{
    unsigned char *bin = malloc(len ? len : 1);
    memset(bin, fill, len);
    ck_assert_int_eq(tt__pcache_write_entry(dir, key, "Fault Device", bin, len), want);
    free(bin);
}

START_TEST(test_cache_entry_faults)
{
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(i * 37 + 1);
    char path[600];
    tt__pcache_entry_path(dir, key, path, sizeof path);
    /* Existing entries: none, valid (three sizes), damaged, empty, not an entry at all. */
    enum { NONE, SMALL, MID, BIG, FLIPPED, EMPTY, JUNK, KINDS };
    const size_t new_sizes[2] = {10, 300000};
    const int faults[2] = {TT_PCACHE_FAULT_WRITE, TT_PCACHE_FAULT_RENAME};
    int cases = 0;
    for (int kind = 0; kind < KINDS; kind++)
        for (int ns = 0; ns < 2; ns++)
            for (int f = 0; f < 2; f++) {
                unlink(path);
                if (kind >= SMALL && kind <= FLIPPED)
                    put_entry(key, kind == SMALL ? 1 : kind == BIG ? 200000 : 4000, 'a',
                              TT_SUCCESS);
                if (kind == FLIPPED) {
                    size_t n;
                    unsigned char *b = tt_test_read_file(path, &n);
                    b[n / 2] ^= 0x40;
                    tt_test_write_file(path, b, n);
                    free(b);
                }
                if (kind == EMPTY || kind == JUNK)
                    tt_test_write_file(path, "junk", kind == EMPTY ? 0 : 4);
                size_t size = 0, now = 0;
                unsigned char *before = tt_test_read_file(path, &size);
                tt__pcache_set_fault(faults[f]);
                put_entry(key, new_sizes[ns], 'b', TT_ERR_IO);
                tt__pcache_set_fault(TT_PCACHE_FAULT_NONE);
                unsigned char *after = tt_test_read_file(path, &now);
                ck_assert_msg(before ? after && now == size && !memcmp(before, after, size)
                                     : !after,
                              "existing entry %d, fault %d: changed", kind, faults[f]);
                ck_assert_int_eq(tt_test_count_files(dir, NULL), before ? 1 : 0); /* no temps */
                free(before);
                free(after);
                cases++;
            }
    /* Without the fault the entry is replaced whole. */
    put_entry(key, 5000, 'c', TT_SUCCESS);
    size_t n;
    unsigned char *b = tt_test_read_file(path, &n);
    ck_assert(b && n > 5000 && b[n - 32 - 1] == 'c' && b[n - 32 - 5000] == 'c');
    free(b);
    ck_assert_int_eq(tt_test_count_files(dir, NULL), 1);
    printf("# program cache faults: %d interrupted entry writes, existing entries intact\n", cases);
}
END_TEST
#endif

/* ---- Calibration through the CLI ------------------------------------------------------------ */
static char toptheta[PATH_MAX];

/* The built CLI next to this test (build/tests/ -> build/tools/cli/toptheta), if it has the
 * calibrate command. */
static int find_cli(void)
{
    char self[PATH_MAX / 2]; /* half, so the CLI path below always fits */
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 0;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    snprintf(toptheta, sizeof toptheta, "%s/../tools/cli/toptheta", self);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "'%s' calibrate --help >/dev/null 2>&1", toptheta);
    return access(toptheta, X_OK) == 0 && system(cmd) == 0;
}

/* Runs calibrate on tokens (text) into out (plot may be NULL); returns the exit status. */
static int calibrate(const char *tokens, const char *out, const char *plot)
{
    char tok_path[512], cmd[3 * PATH_MAX];
    snprintf(tok_path, sizeof tok_path, "%s", in_dir("calib.tokens"));
    tt_test_write_file(tok_path, tokens, strlen(tokens));
    snprintf(cmd, sizeof cmd,
             "'%s' calibrate --model '%s' --tokens '%s' --k 2 --out '%s'%s%s%s >/dev/null 2>&1",
             toptheta, tt_test_shared_file("models/stories260K/stories260K.bin"), tok_path, out,
             plot ? " --plot '" : "", plot ? plot : "", plot ? "'" : "");
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_failed_calibration_leaves_no_output)
{
    static const char good[] = "1 2 3 4 5 6 7 8 9 10\n1 5 9 13 17 21 25\n3 1 4 1 5 9 2 6\n";
    static const char bad3[] = "1 2 3 4 5 6 7 8 9 10\n1 5 9 13 17 21 25\n3 1 4 99999 5 9\n";
    static const char old[] = "an existing file the failed runs must leave alone\n";
    char out[512], plot[512], missing[512];
    snprintf(out, sizeof out, "%s", in_dir("out.ttt"));
    snprintf(plot, sizeof plot, "%s", in_dir("plot.svg"));
    snprintf(missing, sizeof missing, "%s", in_dir("no-such-dir/x"));
    const struct {
        const char *what, *tokens, *out, *plot;
    } runs[] = {
        {"bad token id in sequence 3", bad3, out, plot},
        {"plot into a missing directory (fails after the table is done)", good, out, missing},
        {"out into a missing directory", good, missing, plot},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        tt_test_write_file(out, old, sizeof old - 1);
        int rc = calibrate(runs[i].tokens, runs[i].out, runs[i].plot);
        ck_assert_msg(rc != 0, "%s: calibrate succeeded", runs[i].what);
        size_t n = 0;
        unsigned char *now = tt_test_read_file(out, &n);
        ck_assert_msg(now && n == sizeof old - 1 && !memcmp(now, old, n),
                      "%s: the existing --out file was %s", runs[i].what,
                      now ? "changed" : "removed");
        free(now);
        ck_assert_msg(access(plot, F_OK) != 0, "%s: a plot was written", runs[i].what);
        ck_assert_int_eq(tt_test_count_files(dir, "tmp"), 0);
    }
    /* Control: the same command succeeds on good tokens and replaces the file. */
    ck_assert_int_eq(calibrate(good, out, plot), 0);
    tt_table *t = NULL;
    ck_assert_int_eq(tt_table_load(out, &t), TT_SUCCESS);
    tt_table_destroy(t);
    ck_assert_int_eq(access(plot, F_OK), 0);
    ck_assert_int_eq(tt_test_count_files(dir, "tmp"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("interrupted writes");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_table_save_faults);
#ifdef HAVE_PROGRAM_CACHE
    tcase_add_test(tc, test_cache_entry_faults);
#else
    printf("# host/program_cache.h absent: program cache faults not tested\n");
#endif
    if (!tt_test_shared_file("models/stories260K/stories260K.bin"))
        printf("# shared model absent: calibration faults not tested\n");
    else if (!tt_test_have_device())
        printf("# no OpenCL device: calibration faults not tested\n");
    else if (!find_cli())
        printf("# toptheta calibrate not built: calibration faults not tested\n");
    else
        tcase_add_test(tc, test_failed_calibration_leaves_no_output);
    suite_add_tcase(s, tc);
    return tt_test_run(s);
}

/* table_file.c — placeholder until the table file format lands. */
#include "internal.h"
tt_status tt_table_load(const char *path, tt_table **out) { (void)path; (void)out; return tt__fail(NULL, TT_ERR_UNSUPPORTED, "not built yet"); }
tt_status tt_table_load_memory(const void *d, size_t n, tt_table **out) { (void)d; (void)n; (void)out; return tt__fail(NULL, TT_ERR_UNSUPPORTED, "not built yet"); }
tt_status tt_table_save(const tt_table *t, const char *path) { (void)t; (void)path; return tt__fail(NULL, TT_ERR_UNSUPPORTED, "not built yet"); }

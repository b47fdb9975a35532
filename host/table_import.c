/* table_import.c — placeholder (import moved here by the table-format work). */
#include "internal.h"
tt_status tt_table_import_ref(const char *a, const char *b, const tt_table_meta *m, int k, tt_table **out) { (void)a; (void)b; (void)m; (void)k; (void)out; return tt__fail(NULL, TT_ERR_UNSUPPORTED, "not built yet"); }

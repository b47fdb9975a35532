/* table_file.h — private declarations of the threshold-table file code (table_file.c,
 * table_select.c): format limits, the header-only reader the per-device selection uses, the
 * selection itself (until it moves to the public header) and the writer's fault-injection hook. */
#ifndef TT_TABLE_FILE_H
#define TT_TABLE_FILE_H

#include "toptheta.h"

/* Format v1 limits (docs/TABLE_FORMAT.md). They bound what a file may make the loader allocate. */
#define TT_TABLE_FILE_VERSION 1u
#define TT_TABLE_FILE_MAX_N (1 << 24)             /* largest row length or k */
#define TT_TABLE_FILE_MAX_SHAPE 4096              /* n_layers, n_heads, n_kv_heads */
#define TT_TABLE_FILE_MAX_HEAD_DIM 65536
#define TT_TABLE_FILE_MAX_TOTAL_SAMPLES (1 << 26) /* summed over every curve */
#define TT_TABLE_FILE_MAX_BYTES ((size_t)1 << 30)
/* The header (magic through the strings) never exceeds this many bytes. */
#define TT_TABLE_FILE_MAX_HEADER 512

/* CRC-32 (IEEE 802.3, the one zlib.crc32 computes) of size bytes. */
uint32_t tt__crc32(const void *data, size_t size);

/* Parses and validates only the header of a v1 file held in memory (data may be a prefix of the
 * file). Fills *meta; returns the statuses tt_table_load_memory would for the same bytes. */
tt_status tt__table_read_header(const void *data, size_t size, tt_table_meta *meta);

/* tt_table_select is declared in toptheta.h. */

/* tt_table_import_ref on texts held in memory (th, and sdc unless it is NULL), for the fuzzer:
 * the same parser and statuses, with "th.txt" / "sdc.txt" as the names in messages. */
tt_status tt__table_import_ref_memory(const void *th, size_t th_size, const void *sdc,
                                      size_t sdc_size, const tt_table_meta *meta, int default_k,
                                      tt_table **out);

/* Test-only fault injection for tt_table_save: the next saves fail on purpose at fail_at
 * (1: the write, after part of the data reached the temp file; 2: fsync; 3: rename), 0 turns it
 * off. It is process-wide and not synchronised: call it from single-threaded tests only. */
void tt__table_file_fault(int fail_at);

#endif

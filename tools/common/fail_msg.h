/* fail_msg.h — the one error helper of the tools' loaders (model files, GGUF runner, tokenizer,
 * token and text input): format a message into the caller's buffer and return the status, so a
 * failure reads `return tools_fail(msg, msg_size, TT_ERR_…, "…", …);`. */
#ifndef TT_TOOLS_FAIL_MSG_H
#define TT_TOOLS_FAIL_MSG_H

#include "toptheta.h"
#include <stddef.h>

/* Writes the formatted message into msg (when msg is not NULL and msg_size > 0; truncated to
 * fit) and returns st. */
tt_status tools_fail(char *msg, size_t msg_size, tt_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

/* fail_msg.c — tools_fail: format an error message into the caller's buffer and return the
 * status (shared by the tools' model, text and tokenizer loaders). */
#include "common/fail_msg.h"
#include <stdarg.h>
#include <stdio.h>

tt_status tools_fail(char *msg, size_t msg_size, tt_status st, const char *fmt, ...)
{
    if (msg && msg_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msg_size, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* status.c — status names and descriptions (from the one TT_STATUS_MAP X-macro), the version, and
 * the last-error messages: one per thread for calls without a context, one per context. */
#include "internal.h"
#include <stdio.h>
#include <string.h>

static _Thread_local char tt_thread_message[16384];

int tt_version(void) { return TT_VERSION_NUMBER; }

const char *tt_version_string(void) { return "0.1.0"; }

const char *tt_status_str(int status)
{
    switch (status) {
#define TT_STATUS_STR_(name, value, text)                                                          \
    case value:                                                                                    \
        return text;
        TT_STATUS_MAP(TT_STATUS_STR_)
#undef TT_STATUS_STR_
    default:
        return status < 0 && status > -1000 ? "OpenCL error" : "unknown status";
    }
}

const char *tt_status_name(int status)
{
    switch (status) {
#define TT_STATUS_NAME_(name, value, text)                                                         \
    case value:                                                                                    \
        return #name;
        TT_STATUS_MAP(TT_STATUS_NAME_)
#undef TT_STATUS_NAME_
    case -4: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case -45: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case -46: return "CL_INVALID_KERNEL_NAME";
    case -48: return "CL_INVALID_KERNEL";
    case -51: return "CL_INVALID_ARG_SIZE";
    case -52: return "CL_INVALID_KERNEL_ARGS";
    case -55: return "CL_INVALID_WORK_ITEM_SIZE";
    case -61: return "CL_INVALID_BUFFER_SIZE";
    case -63: return "CL_INVALID_GLOBAL_WORK_SIZE";
    default:
        return "TT_UNKNOWN_STATUS";
    }
}

tt_status tt__fail(const tt_context *ctx, tt_status st, const char *fmt, ...)
{
    /* Formatted into a scratch buffer first: callers often pass tt_last_error(NULL) itself as an
     * argument ("attention: %s"), and vsnprintf into its own source is undefined behaviour. */
    static _Thread_local char scratch[sizeof tt_thread_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scratch, sizeof scratch, fmt, ap);
    va_end(ap);
    memcpy(tt_thread_message, scratch, strlen(scratch) + 1);
    if (ctx) {
        /* The message buffer is shared by threads using one context; the lock keeps it whole. */
        tt_context *c = (tt_context *)ctx;
        pthread_mutex_lock(&c->lock);
        snprintf(c->message, sizeof c->message, "%s", tt_thread_message);
        pthread_mutex_unlock(&c->lock);
    }
    return st;
}

void tt__clear_error(const tt_context *ctx)
{
    (void)ctx;
    tt_thread_message[0] = '\0';
}

const char *tt_last_error(const tt_context *ctx)
{
    return ctx ? ctx->message : tt_thread_message;
}

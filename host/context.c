/* context.c — tt_context: a device with its OpenCL context and the library's own queue, created
 * by selecting a device or by adopting a caller's cl_context + cl_device_id (both retained). */
#include "internal.h"
#include "scratch.h"
#include <stdlib.h>
#include <string.h>

static tt_status finish_create(tt_context *c, tt_context **out)
{
    tt_status st = tt_device_probe(c->device, &c->info);
    if (st != TT_SUCCESS) {
        tt_context_destroy(c);
        return st;
    }
    cl_int err;
    if (clGetDeviceInfo(c->device, CL_DEVICE_MAX_PARAMETER_SIZE, sizeof c->max_param_size,
                        &c->max_param_size, NULL) != CL_SUCCESS)
        c->max_param_size = 256; /* the smallest any profile allows */
    c->nv_options = tt__nv_compiler_options(c);
    c->queue = clCreateCommandQueue(c->context, c->device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) {
        tt_context_destroy(c);
        return tt__fail(NULL, (tt_status)err, "clCreateCommandQueue failed: %s (%d)",
                        tt_status_name(err), (int)err);
    }
    *out = c;
    return TT_SUCCESS;
}

static tt_context *alloc_context(void)
{
    tt_context *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

tt_status tt_context_create(const char *selector, tt_context **out)
{
    TT_RETURN_IF(NULL, !out, TT_ERR_NULL_ARGUMENT, "tt_context_create: out is NULL");
    *out = NULL;
    cl_platform_id platform;
    cl_device_id device;
    tt_status st = tt_device_select(selector, &platform, &device);
    if (st != TT_SUCCESS)
        return st;
    tt_context *c = alloc_context();
    TT_RETURN_IF(NULL, !c, TT_OUT_OF_HOST_MEMORY, "tt_context_create: out of memory");
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    cl_int err;
    c->context = clCreateContext(props, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        tt_context_destroy(c);
        return tt__fail(NULL, (tt_status)err, "clCreateContext failed: %s (%d)",
                        tt_status_name(err), (int)err);
    }
    c->device = device;
    return finish_create(c, out);
}

tt_status tt_context_create_from_cl(cl_context context, cl_device_id device, tt_context **out)
{
    TT_RETURN_IF(NULL, !out || !context || !device, TT_ERR_NULL_ARGUMENT,
                 "tt_context_create_from_cl: NULL argument");
    *out = NULL;
    /* The device must belong to the context, or every later call would fail obscurely. */
    cl_uint nd = 0;
    cl_int err = clGetContextInfo(context, CL_CONTEXT_NUM_DEVICES, sizeof nd, &nd, NULL);
    TT_RETURN_IF(NULL, err != CL_SUCCESS, TT_INVALID_CONTEXT,
                 "tt_context_create_from_cl: not a valid cl_context (%d)", (int)err);
    cl_device_id devs[64];
    TT_RETURN_IF(NULL, nd == 0 || nd > 64, TT_INVALID_CONTEXT,
                 "tt_context_create_from_cl: context has %u devices", nd);
    clGetContextInfo(context, CL_CONTEXT_DEVICES, nd * sizeof devs[0], devs, NULL);
    int found = 0;
    for (cl_uint i = 0; i < nd; i++)
        found |= devs[i] == device;
    TT_RETURN_IF(NULL, !found, TT_INVALID_DEVICE,
                 "tt_context_create_from_cl: the device is not part of the context");
    tt_context *c = alloc_context();
    TT_RETURN_IF(NULL, !c, TT_OUT_OF_HOST_MEMORY, "tt_context_create_from_cl: out of memory");
    clRetainContext(context);
    clRetainDevice(device);
    c->context = context;
    c->device = device;
    return finish_create(c, out);
}

void tt_context_destroy(tt_context *c)
{
    if (!c)
        return;
    tt__scratch_destroy(c);
    tt__kernel_pool_drop_locked(c, NULL); /* no other thread may use c any more */
    for (int i = 0; i < c->n_programs; i++) {
        clReleaseProgram(c->programs[i].program);
        free(c->programs[i].key);
    }
    if (c->queue)
        clReleaseCommandQueue(c->queue);
    if (c->context)
        clReleaseContext(c->context);
    if (c->device)
        clReleaseDevice(c->device);
    free(c->extra_options);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

tt_status tt_context_device_info(const tt_context *c, tt_device_info *info)
{
    TT_RETURN_IF(NULL, !c || !info, TT_ERR_NULL_ARGUMENT, "tt_context_device_info: NULL argument");
    *info = c->info;
    return TT_SUCCESS;
}

tt_status tt_context_cl(const tt_context *c, cl_context *context, cl_device_id *device,
                        cl_command_queue *queue)
{
    TT_RETURN_IF(NULL, !c, TT_ERR_NULL_ARGUMENT, "tt_context_cl: NULL context");
    if (context)
        *context = c->context;
    if (device)
        *device = c->device;
    if (queue)
        *queue = c->queue;
    return TT_SUCCESS;
}

tt_status tt_context_set_build_options(tt_context *c, const char *options)
{
    TT_RETURN_IF(NULL, !c, TT_ERR_NULL_ARGUMENT, "tt_context_set_build_options: NULL context");
    char *copy = NULL;
    if (options && *options) {
        copy = strdup(options);
        TT_RETURN_IF(c, !copy, TT_OUT_OF_HOST_MEMORY, "out of memory");
    }
    pthread_mutex_lock(&c->lock);
    free(c->extra_options);
    c->extra_options = copy;
    tt__kernel_pool_drop_locked(c, NULL);
    for (int i = 0; i < c->n_programs; i++) {
        clReleaseProgram(c->programs[i].program);
        free(c->programs[i].key);
    }
    c->n_programs = 0;
    pthread_mutex_unlock(&c->lock);
    return TT_SUCCESS;
}

/* Test hook: pretends the device has only `bytes` of local memory, so the refusal of launches
 * that do not fit can be exercised on devices with plenty of it. */
void tt__context_limit_local_mem(tt_context *c, cl_ulong bytes)
{
    if (c)
        c->info.local_mem_size = bytes;
}

/* Test hook: pretends the device's kernel parameter space is `bytes`, so decode's path that
 * uploads θ and D̂ (devices below 1 KiB) runs on devices with more. */
void tt__context_limit_param_size(tt_context *c, size_t bytes)
{
    if (c)
        c->max_param_size = bytes;
}

/* probe-timing.h — shared by the device-machine probes (launch-floor-probe.c,
 * gather-floor-probe.c; standalone programs, not part of the build): the spin kernel that covers
 * an enqueue, the device choice, the span between two profiled events and the comparator for
 * medians. */
#ifndef PROBE_TIMING_H
#define PROBE_TIMING_H
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdlib.h>

/* A one-work-item kernel that runs ~n steps, so that what is enqueued after it waits on the
 * device, not on the host (its end is the start of the timing). */
#define PROBE_SPIN_SRC                                                                             \
    "__kernel void spin(__global uint *d, uint n) {\n"                                             \
    "  uint x = d[0]; for (uint i = 0; i < n; i++) x = x * 1664525u + 1013904223u; d[1] = x; }\n"

static inline int probe_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The first GPU of any platform, or, if the variable any_env is set, the first device of any type
 * (a CPU through PoCL, to try a probe here); 0 if none. */
static inline cl_device_id probe_device(const char *any_env)
{
    cl_platform_id p[8];
    cl_uint np = 0;
    clGetPlatformIDs(8, p, &np);
    cl_device_id dev = 0;
    for (cl_uint i = 0; i < np && !dev; i++)
        clGetDeviceIDs(p[i], CL_DEVICE_TYPE_GPU, 1, &dev, NULL);
    for (cl_uint i = 0; i < np && !dev && getenv(any_env); i++)
        clGetDeviceIDs(p[i], CL_DEVICE_TYPE_ALL, 1, &dev, NULL);
    return dev;
}

/* Microseconds from event a's point ia to event b's point ib. */
static inline double probe_span(cl_event a, cl_profiling_info ia, cl_event b, cl_profiling_info ib)
{
    cl_ulong t0, t1;
    clGetEventProfilingInfo(a, ia, sizeof t0, &t0, NULL);
    clGetEventProfilingInfo(b, ib, sizeof t1, &t1, NULL);
    return ((double)t1 - (double)t0) * 1e-3;
}
#endif

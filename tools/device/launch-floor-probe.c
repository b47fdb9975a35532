/* launch-floor-probe.c — device-machine probe, not part of the build: what does one kernel cost
 * on this OpenCL driver when it does nothing, what gap lies between two kernels enqueued back to
 * back, and how fast does one plain streaming read of decode's bytes (16K keys, batch 1) run?
 * Tells the fixed cost of a decode launch from the kernel's own work. Run:
 * gcc -O2 -o /tmp/lfp tools/device/launch-floor-probe.c -lOpenCL && /tmp/lfp */
#include "probe-timing.h"
#include <stdio.h>
#include <stdlib.h>
static const char *src =
    "__kernel void empty(__global float *d) { if (get_global_id(0) == 1u << 30) d[0] = 1.0f; }\n"
    PROBE_SPIN_SRC
    /* Each work-group reads `per` float4 with all its work-items, sums, writes one float. */
    "__kernel void stream(__global const float4 *s, __global float *d, uint per) {\n"
    "  const size_t base = get_group_id(0) * (size_t)per; float4 a = 0.0f;\n"
    "  for (uint i = get_local_id(0); i < per; i += get_local_size(0)) a += s[base + i];\n"
    "  __local float r[256]; r[get_local_id(0)] = a.x + a.y + a.z + a.w;\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  if (get_local_id(0) == 0) { float t = 0.0f; for (uint i = 0; i < get_local_size(0); i++)\n"
    "    t += r[i]; d[get_group_id(0)] = t; } }\n";

int main(void)
{
    cl_device_id dev = probe_device("LFP_ANY");
    if (!dev) {
        puts("no gpu");
        return 1;
    }
    cl_int e;
    cl_context c = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    cl_command_queue q = clCreateCommandQueue(c, dev, CL_QUEUE_PROFILING_ENABLE, &e);
    cl_program pr = clCreateProgramWithSource(c, 1, &src, NULL, &e);
    if ((e = clBuildProgram(pr, 1, &dev, "", NULL, NULL))) {
        printf("build %d\n", e);
        return 1;
    }
    cl_kernel ke = clCreateKernel(pr, "empty", &e), ks = clCreateKernel(pr, "spin", &e),
              kr = clCreateKernel(pr, "stream", &e);
    const size_t bytes = (size_t)16384 * 8 * 128 * 2 * 2; /* K + V, 16K keys, 8 KV heads, fp16 */
    cl_mem src_b = clCreateBuffer(c, CL_MEM_READ_WRITE, bytes, NULL, &e);
    cl_mem dst = clCreateBuffer(c, CL_MEM_READ_WRITE, 1 << 20, NULL, &e);
    float zero = 0.0f;
    clEnqueueFillBuffer(q, src_b, &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    clEnqueueFillBuffer(q, dst, &zero, sizeof zero, 0, 1 << 20, 0, NULL, NULL);
    clFinish(q);
    clSetKernelArg(ke, 0, sizeof dst, &dst);
    clSetKernelArg(ks, 0, sizeof dst, &dst);
    clSetKernelArg(kr, 0, sizeof src_b, &src_b);
    clSetKernelArg(kr, 1, sizeof dst, &dst);
    enum { R = 41 };
    double dur_e[R], gap[R], two[R], dur_s[8][R];
    const unsigned wgs[8] = {128, 256, 512, 1024, 2048, 4096, 8192, 0};
    for (int r = 0; r < R; r++) {
        /* A spin kernel first, so that the next ones are enqueued before the device gets to them. */
        cl_uint n = 200000;
        clSetKernelArg(ks, 1, sizeof n, &n);
        size_t one = 1, g = 32, l = 32;
        cl_event es, e1, e2;
        clEnqueueNDRangeKernel(q, ks, 1, NULL, &one, &one, 0, NULL, &es);
        clFlush(q);
        clEnqueueNDRangeKernel(q, ke, 1, NULL, &g, &l, 0, NULL, &e1);
        clEnqueueNDRangeKernel(q, ke, 1, NULL, &g, &l, 0, NULL, &e2);
        clFinish(q);
        dur_e[r] = probe_span(e1, CL_PROFILING_COMMAND_START, e1, CL_PROFILING_COMMAND_END);
        gap[r] = probe_span(e1, CL_PROFILING_COMMAND_END, e2, CL_PROFILING_COMMAND_START);
        two[r] = probe_span(es, CL_PROFILING_COMMAND_END, e2, CL_PROFILING_COMMAND_END);
        clReleaseEvent(es), clReleaseEvent(e1), clReleaseEvent(e2);
        for (int w = 0; wgs[w]; w++) {
            cl_uint per = (cl_uint)(bytes / 16 / wgs[w]);
            size_t gl = (size_t)wgs[w] * 256, ll = 256;
            clSetKernelArg(kr, 2, sizeof per, &per);
            clEnqueueNDRangeKernel(q, ks, 1, NULL, &one, &one, 0, NULL, &es);
            clFlush(q);
            clEnqueueNDRangeKernel(q, kr, 1, NULL, &gl, &ll, 0, NULL, &e1);
            clFinish(q);
            dur_s[w][r] = probe_span(es, CL_PROFILING_COMMAND_END, e1, CL_PROFILING_COMMAND_END);
            clReleaseEvent(es), clReleaseEvent(e1);
        }
    }
    qsort(dur_e, R, sizeof(double), probe_cmp), qsort(gap, R, sizeof(double), probe_cmp);
    qsort(two, R, sizeof(double), probe_cmp);
    printf("empty kernel: start->end %.2f us; gap end->next start %.2f us; spin end -> 2nd empty "
           "end %.2f us (medians of %d)\n",
           dur_e[R / 2], gap[R / 2], two[R / 2], R);
    for (int w = 0; wgs[w]; w++) {
        qsort(dur_s[w], R, sizeof(double), probe_cmp);
        printf("stream %zu MB, %u work-groups of 256: %.2f us from spin end (%.0f GB/s), min %.2f\n",
               bytes >> 20, wgs[w], dur_s[w][R / 2], bytes / dur_s[w][R / 2] * 1e-3, dur_s[w][0]);
    }
    return 0;
}

/* cpasync-probe.c — device-machine probe, not part of the build: does NVIDIA's OpenCL compiler
 * take cp.async (inline PTX) from global into __local memory? Builds two address forms of one
 * kernel and checks the copied data. Run: gcc -o /tmp/cpa tools/device/cpasync-probe.c -lOpenCL && /tmp/cpa */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <string.h>
static const char *src =
"__kernel void a1(__global const float4 *s, __global float4 *d) {\n"
"  __local float4 buf[128]; int t = get_local_id(0);\n"
"  uint sa = (uint)(size_t)(buf + t);\n"
"  asm volatile(\"cp.async.cg.shared.global [%0], [%1], 16;\" :: \"r\"(sa), \"l\"(s + t));\n"
"  asm volatile(\"cp.async.wait_all;\" ::: \"memory\");\n"
"  barrier(CLK_LOCAL_MEM_FENCE);\n"
"  d[t] = buf[(t + 1) % 128] * 2.0f; }\n";
static const char *src2 =
"__kernel void a1(__global const float4 *s, __global float4 *d) {\n"
"  __local float4 buf[128]; int t = get_local_id(0);\n"
"  uint sa; asm volatile(\"{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }\" : \"=r\"(sa) : \"l\"(buf + t));\n"
"  asm volatile(\"cp.async.cg.shared.global [%0], [%1], 16;\" :: \"r\"(sa), \"l\"(s + t));\n"
"  asm volatile(\"cp.async.wait_all;\" ::: \"memory\");\n"
"  barrier(CLK_LOCAL_MEM_FENCE);\n"
"  d[t] = buf[(t + 1) % 128] * 2.0f; }\n";
int main(void) {
  cl_platform_id p[8]; cl_uint np; clGetPlatformIDs(8, p, &np);
  cl_device_id dev = 0;
  for (cl_uint i = 0; i < np && !dev; i++) clGetDeviceIDs(p[i], CL_DEVICE_TYPE_GPU, 1, &dev, NULL);
  if (!dev) { puts("no gpu"); return 1; }
  cl_int e; cl_context c = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
  cl_command_queue q = clCreateCommandQueue(c, dev, 0, &e);
  const char *srcs[2] = {src, src2};
  for (int v = 0; v < 2; v++) {
    cl_program pr = clCreateProgramWithSource(c, 1, &srcs[v], NULL, &e);
    e = clBuildProgram(pr, 1, &dev, "", NULL, NULL);
    char log[8192] = ""; clGetProgramBuildInfo(pr, dev, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    printf("variant %d build %d\n%.2000s\n", v, e, log);
    if (e) continue;
    float in[512], out[512];
    for (int i = 0; i < 512; i++) in[i] = (float)i;
    cl_mem bi = clCreateBuffer(c, CL_MEM_COPY_HOST_PTR, sizeof in, in, &e);
    cl_mem bo = clCreateBuffer(c, CL_MEM_READ_WRITE, sizeof out, NULL, &e);
    cl_kernel k = clCreateKernel(pr, "a1", &e);
    clSetKernelArg(k, 0, sizeof bi, &bi); clSetKernelArg(k, 1, sizeof bo, &bo);
    size_t g = 128; e = clEnqueueNDRangeKernel(q, k, 1, NULL, &g, &g, 0, NULL, NULL);
    clEnqueueReadBuffer(q, bo, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL);
    int bad = 0;
    for (int t = 0; t < 128; t++) for (int j = 0; j < 4; j++)
      if (out[4 * t + j] != 2.0f * in[4 * ((t + 1) % 128) + j]) bad++;
    printf("variant %d enqueue %d wrong %d\n", v, e, bad);
  }
  return 0;
}

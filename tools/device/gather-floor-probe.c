/* gather-floor-probe.c — device-machine probe, not part of the build: how fast can any kernel move
 * the bytes of Top-θ decode against dense decode (32K keys, batch 8, 8 KV heads, d 128 fp16)?
 * Plain loads only, no math: K streamed, then (dense) every V row or (Top-θ) a sorted random set of
 * the chunk's V rows, read after the K loads completed or beside them. Their ratio bounds what
 * Top-θ decode can gain over dense on this device. Run (GFP_N keys, GFP_P (sequence, KV head)
 * pairs, GFP_FRAC kept V rows, GFP_U loads in flight per item, GFP_SPIN the epilogue's multiply-adds,
 * GFP_PAD bytes of local memory per work-group, GFP_CH / GFP_WG one chunk length / work-group size
 * instead of 512 and 1024 / 128 and 256; GFP_ANY=1 takes a CPU device):
 * gcc -O2 -o /tmp/gfp tools/device/gather-floor-probe.c -lOpenCL -lm && /tmp/gfp */
#include "probe-timing.h"
#include <stdio.h>
#include <stdlib.h>

/* A row is 16 uint4 (256 bytes); a work-group of WG items takes a chunk of CH rows of one pair,
 * 16 items per row, U loads in flight per item. The loaded words meet in a xor that is compared
 * with a value no data here holds, so the compiler keeps every load and nothing is written. */
static const char *src =
    "#ifndef U\n#define U 8\n#endif\n"
    PROBE_SPIN_SRC
    "__kernel void copy(__global const float4 *s, __global float4 *d) {\n"
    "  d[get_global_id(0)] = s[get_global_id(0)]; }\n"
    "inline uint4 rows(__global const uint4 *m, size_t base, uint total) {\n"
    "  const uint t = get_local_id(0), wg = get_local_size(0); uint4 a = 0;\n"
    "  for (uint i = t; i < total; i += wg * U) { uint4 x[U];\n"
    "    for (int u = 0; u < U; u++) x[u] = m[base + min(i + u * wg, total - 1)];\n"
    "    for (int u = 0; u < U; u++) a ^= x[u]; }\n"
    "  return a; }\n"
    /* mode 0: K only; 1: K then every V row (dense, the V loop after the K loop, as decode does);
     * 2: K and V rows in one loop; 3: K, then the kept V rows after K's loads completed (decode's
     * order: the list depends on the scores); 4: K and the kept V rows, V loads free to go out
     * with K's; 5: the kept V rows only. spin: a chain of that many dependent multiply-adds
     * between the K loads' completion and the V loads (modes 1 and 3), standing for the chunk's
     * epilogue, in which decode loads nothing. pad: local memory that limits the work-groups
     * per multiprocessor, as decode's registers and local arrays do. */
    "__kernel void probe(__global const uint4 *k, __global const uint4 *v,\n"
    "    __global const uint *idx, __global const uint *off, __global uint *out,\n"
    "    uint n, uint ch, int mode, __local uint *lidx, uint spin, __local uint *pad) {\n"
    "  const uint c = get_group_id(0), p = get_group_id(1), t = get_local_id(0);\n"
    "  const uint wg = get_local_size(0), nc = get_num_groups(0);\n"
    "  __local uint h[1];\n"
    "  const size_t base = ((size_t)p * n + (size_t)c * ch) * 16;\n"
    "  const uint o0 = off[p * nc + c], m = off[p * nc + c + 1] - o0;\n"
    "  for (uint i = t; i < m; i += wg) lidx[i] = idx[o0 + i];\n"
    "  if (t == 0) pad[0] = 0u;\n"
    "  barrier(CLK_LOCAL_MEM_FENCE);\n"
    "  uint4 a = 0;\n"
    "  if (mode == 2) { const uint total = ch * 16;\n"
    "    for (uint i = t; i < total; i += wg * U) { uint4 x[U], y[U];\n"
    "      for (int u = 0; u < U; u++) { const uint j = min(i + u * wg, total - 1);\n"
    "        x[u] = k[base + j]; y[u] = v[base + j]; }\n"
    "      for (int u = 0; u < U; u++) a ^= x[u] ^ y[u]; }\n"
    "  } else if (mode != 5) a = rows(k, base, ch * 16);\n"
    "  uint dep = 0;\n"
    "  if (mode == 1 || mode == 3) { if (t == 0) h[0] = 0; barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    atomic_xor(h, a.x ^ a.y ^ a.z ^ a.w); barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    float f = (float)h[0];\n"
    "    for (uint i = 0; i < spin; i++) f = fma(f, 0.999f, 1.0f);\n"
    "    dep = (f == -1.0f) + pad[0]; }\n"
    "  if (mode == 1) a ^= rows(v, base + dep, ch * 16);\n"
    "  if (mode >= 3) { const uint lane = t / 16, part = t % 16, lanes = wg / 16;\n"
    "    for (uint x = lane; x < m; x += lanes * U) { uint4 y[U];\n"
    "      for (int u = 0; u < U; u++)\n"
    "        y[u] = v[base + (size_t)(lidx[min(x + u * lanes, m - 1)] + dep) * 16 + part];\n"
    "      for (int u = 0; u < U; u++) if (x + u * lanes < m) a ^= y[u]; } }\n"
    "  if ((a.x ^ a.y ^ a.z ^ a.w) == 0x9e3779b9u) out[0] = 1u; }\n";

static unsigned env_u(const char *name, unsigned dflt)
{
    const char *e = getenv(name);
    return e && atoi(e) > 0 ? (unsigned)atoi(e) : dflt;
}

enum { R = 21 };
static cl_command_queue q;
static cl_kernel ks;

/* Median over R runs of one launch, timed from the end of a spin kernel that covers its enqueue. */
static double timed(cl_kernel k, const size_t *gl, const size_t *ll)
{
    double d[R];
    const cl_uint spin_n = 200000;
    const size_t one = 1;
    clSetKernelArg(ks, 1, sizeof spin_n, &spin_n);
    for (int r = 0; r < R; r++) {
        cl_event es, e1;
        clEnqueueNDRangeKernel(q, ks, 1, NULL, &one, &one, 0, NULL, &es);
        clFlush(q);
        cl_int e = clEnqueueNDRangeKernel(q, k, 2, NULL, gl, ll, 0, NULL, &e1);
        if (e) {
            printf("launch failed: %d\n", e);
            exit(1);
        }
        clFinish(q);
        d[r] = probe_span(es, CL_PROFILING_COMMAND_END, e1, CL_PROFILING_COMMAND_END);
        clReleaseEvent(es), clReleaseEvent(e1);
    }
    qsort(d, R, sizeof d[0], probe_cmp);
    return d[R / 2];
}

int main(void)
{
    const unsigned n = env_u("GFP_N", 32768), P = env_u("GFP_P", 64);
    const double frac = getenv("GFP_FRAC") ? atof(getenv("GFP_FRAC")) : 0.204;
    cl_device_id dev = probe_device("GFP_ANY");
    if (!dev) {
        puts("no device");
        return 1;
    }
    char name[256] = "";
    clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof name, name, NULL);
    cl_int e;
    cl_context c = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    q = clCreateCommandQueue(c, dev, CL_QUEUE_PROFILING_ENABLE, &e);
    cl_program pr = clCreateProgramWithSource(c, 1, &src, NULL, &e);
    char opts[32];
    snprintf(opts, sizeof opts, "-DU=%u", env_u("GFP_U", 8));
    if ((e = clBuildProgram(pr, 1, &dev, opts, NULL, NULL))) {
        char log[8192] = "";
        clGetProgramBuildInfo(pr, dev, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
        printf("build %d\n%s\n", e, log);
        return 1;
    }
    ks = clCreateKernel(pr, "spin", &e);
    cl_kernel kc = clCreateKernel(pr, "copy", &e), kp = clCreateKernel(pr, "probe", &e);
    const size_t half = (size_t)n * P * 256; /* K, and V, bytes */
    cl_mem kb = clCreateBuffer(c, CL_MEM_READ_WRITE, half, NULL, &e);
    cl_mem vb = clCreateBuffer(c, CL_MEM_READ_WRITE, half, NULL, &e);
    cl_mem ob = clCreateBuffer(c, CL_MEM_READ_WRITE, 4096, NULL, &e);
    if (e) {
        printf("buffers: %d\n", e);
        return 1;
    }
    const cl_uint zero = 0;
    clEnqueueFillBuffer(q, kb, &zero, sizeof zero, 0, half, 0, NULL, NULL);
    clEnqueueFillBuffer(q, vb, &zero, sizeof zero, 0, half, 0, NULL, NULL);
    clEnqueueFillBuffer(q, ob, &zero, sizeof zero, 0, 4096, 0, NULL, NULL);
    clFinish(q);
    clSetKernelArg(ks, 0, sizeof ob, &ob);

    /* The copy rate as bench measures it: a float4 copy of K into V, bytes read + written. */
    clSetKernelArg(kc, 0, sizeof kb, &kb);
    clSetKernelArg(kc, 1, sizeof vb, &vb);
    size_t cg[2] = {half / 16, 1}, cl[2] = {256, 1};
    const double copy_us = timed(kc, cg, cl), copy_gbps = 2.0 * half / copy_us * 1e-3;
    printf("device %s; %u keys x %u pairs, K %.0f MB, V %.0f MB; copy %.0f GB/s\n", name, n, P,
           half * 1e-6, half * 1e-6, copy_gbps);

    const unsigned chs[] = {env_u("GFP_CH", 512), 1024}, wgs[] = {env_u("GFP_WG", 128), 256};
    const int nch = getenv("GFP_CH") ? 1 : 2, nwg = getenv("GFP_WG") ? 1 : 2;
    const cl_uint spin = getenv("GFP_SPIN") ? (cl_uint)atoi(getenv("GFP_SPIN")) : 0;
    const size_t pad = env_u("GFP_PAD", 4);
    printf("U %u, spin %u, pad %zu bytes\n", env_u("GFP_U", 8), spin, pad);
    for (int ci = 0; ci < nch; ci++) {
        const unsigned ch = chs[ci], nc = n / ch;
        /* A sorted random set of each chunk's rows, each kept with probability frac. */
        unsigned *idx = malloc((size_t)n * P * sizeof *idx), *off = malloc(((size_t)nc * P + 1) * sizeof *off);
        unsigned long long s = 0x243f6a8885a308d3ull;
        size_t m = 0;
        for (size_t g = 0; g < (size_t)nc * P; g++) {
            off[g] = (unsigned)m;
            for (unsigned r = 0; r < ch; r++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                if ((double)(s >> 11) * 0x1p-53 < frac)
                    idx[m++] = r;
            }
        }
        off[(size_t)nc * P] = (unsigned)m;
        cl_mem ib = clCreateBuffer(c, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (m ? m : 1) * sizeof *idx, idx, &e);
        cl_mem fb = clCreateBuffer(c, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, ((size_t)nc * P + 1) * sizeof *off, off, &e);
        const double vfrac = (double)m / ((double)n * P);
        for (int wi = 0; wi < nwg; wi++) {
            const unsigned wg = wgs[wi];
            double us[6];
            for (int mode = 0; mode < 6; mode++) {
                clSetKernelArg(kp, 0, sizeof kb, &kb);
                clSetKernelArg(kp, 1, sizeof vb, &vb);
                clSetKernelArg(kp, 2, sizeof ib, &ib);
                clSetKernelArg(kp, 3, sizeof fb, &fb);
                clSetKernelArg(kp, 4, sizeof ob, &ob);
                clSetKernelArg(kp, 5, sizeof n, &n);
                clSetKernelArg(kp, 6, sizeof ch, &ch);
                clSetKernelArg(kp, 7, sizeof mode, &mode);
                clSetKernelArg(kp, 8, ch * sizeof(cl_uint), NULL);
                clSetKernelArg(kp, 9, sizeof spin, &spin);
                clSetKernelArg(kp, 10, pad, NULL);
                size_t gl[2] = {(size_t)nc * wg, P}, ll[2] = {wg, 1};
                us[mode] = timed(kp, gl, ll);
            }
            const double kv = 2.0 * half, th = half * (1.0 + vfrac);
            printf("chunk %u, WG %u, V rows %.3f: K only %.1f us (%.1f %% of copy); dense K then V "
                   "%.1f us (%.1f %%), K beside V %.1f us (%.1f %%); Top-theta V after K %.1f us "
                   "(%.1f %%), V beside K %.1f us (%.1f %%); kept V rows alone %.1f us (%.1f %%); "
                   "floor ratio dense/Top-theta %.3f (V after K), %.3f (beside)\n",
                   ch, wg, vfrac, us[0], 100 * half / us[0] * 1e-3 / copy_gbps, us[1],
                   100 * kv / us[1] * 1e-3 / copy_gbps, us[2], 100 * kv / us[2] * 1e-3 / copy_gbps,
                   us[3], 100 * th / us[3] * 1e-3 / copy_gbps, us[4],
                   100 * th / us[4] * 1e-3 / copy_gbps, us[5],
                   100 * half * vfrac / us[5] * 1e-3 / copy_gbps,
                   (us[1] < us[2] ? us[1] : us[2]) / us[3], (us[1] < us[2] ? us[1] : us[2]) / us[4]);
        }
        clReleaseMemObject(ib), clReleaseMemObject(fb);
        free(idx), free(off);
    }
    return 0;
}

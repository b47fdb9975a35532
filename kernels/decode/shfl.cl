/* shfl.cl — warp shuffles for NVIDIA devices, written as inline PTX (NVIDIA's OpenCL compiler
 * accepts PTX asm; OpenCL 1.2 has no shuffle). Only put into a program after host/shfl.c's probe
 * ran tt_shfl_probe correctly on the device; decode.cl sums partial dot products with it. */

/* x of the lane whose index differs from this one's by the bits of m (butterfly exchange). */
#ifdef TT_PTX_STUB /* tests on other devices: builds and runs, but returns the wrong lane */
inline float tt_shfl_xor(float x, int m)
{
    (void)m;
    return x;
}
#else
inline float tt_shfl_xor(float x, int m)
{
    float r;
    asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(x), "r"(m));
    return r;
}
#endif

/* Run with 64 work-items in one work-group: out[2t] must be t ^ 1, out[2t + 1] t ^ 16. */
__kernel void tt_shfl_probe(__global float *out)
{
    const int t = get_local_id(0);
    const float x = (float)t;
    out[2 * t] = tt_shfl_xor(x, 1);
    out[2 * t + 1] = tt_shfl_xor(x, 16);
}

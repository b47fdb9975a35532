/* cpasync.cl — asynchronous copies from global into local memory for NVIDIA devices of compute
 * capability 8.0 and later, written as inline PTX (cp.async; OpenCL 1.2's async_work_group_copy
 * is a synchronous loop on NVIDIA's driver). Only put into a program after host/cpasync.c's probe
 * ran tt_cpa_probe correctly; decode.cl streams K tiles through local memory with it. */

/* Starts a 16-byte copy (both addresses 16-byte aligned); the data bypasses L1 (.cg), since a
 * streamed K row is read once. A __local pointer converted to an integer is its shared-window
 * address on NVIDIA's OpenCL. */
#ifdef TT_PTX_STUB /* tests on other devices: the same results through plain copies */
inline void tt_cp16(__local void *dst, __global const void *src)
{
    *(__local uint4 *)dst = *(__global const uint4 *)src;
}
inline void tt_cp_commit(void)
{
}
#define TT_CP_WAIT(n) ((void)0)
#else
inline void tt_cp16(__local void *dst, __global const void *src)
{
    const uint d = (uint)(size_t)dst;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(d), "l"(src) : "memory");
}

/* Closes the group of copies this thread started since the last commit. */
inline void tt_cp_commit(void)
{
    asm volatile("cp.async.commit_group;" ::: "memory");
}

/* Waits until at most N of this thread's most recent groups are still in flight (N is a literal:
 * PTX takes an immediate). Other threads' copies need a barrier after the wait to be visible. */
#define TT_CP_WAIT_(n) asm volatile("cp.async.wait_group " #n ";" ::: "memory")
#define TT_CP_WAIT(n) TT_CP_WAIT_(n)
#endif

/* Run with 64 work-items in one work-group on 128 float4: out4[64s + t] must be
 * in4[64s + (t + 1) % 64] + 1. Two groups in flight, the older waited for first, as decode.cl
 * uses them. */
__kernel void tt_cpa_probe(__global const float4 *in, __global float4 *out)
{
    __local float4 buf[2][64];
    const int t = get_local_id(0);
    for (int s = 0; s < 2; s++) {
        tt_cp16(&buf[s][t], in + s * 64 + t);
        tt_cp_commit();
    }
    TT_CP_WAIT(1);
    barrier(CLK_LOCAL_MEM_FENCE);
    out[t] = buf[0][(t + 1) % 64] + 1.0f;
    TT_CP_WAIT(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    out[64 + t] = buf[1][(t + 1) % 64] + 1.0f;
}

/* mma_local.cl — mma.cl's warp-wide multiply-add (D = A·B + C, A 16×16 and B 16×8 in fp16, C and D
 * 16×8 in fp32, PTX mma.m16n8k16 fragment layout) emulated through local memory, for devices
 * without tensor cores: CI checks the tensor-core paths' fragment bookkeeping (decode's DEC_MMA,
 * prefill's PF_MMA) on PoCL with it. Every work-item of the work-group must make the same calls. */

/* x: 6 uints per work-item of scratch; lane l of warp w holds its fragment in x[6 (32 w + l)..]. */
inline void tt_mma_local(__local float *x, float *c, uint a0, uint a1, uint a2, uint a3, uint b0,
                         uint b1)
{
    const int t = get_local_id(0), w = t / 32 * 32, l = t % 32, g = l / 4, q = l % 4;
    __local uint *xu = (__local uint *)x;
    __local const half *xh = (__local const half *)x;
    xu[6 * t] = a0, xu[6 * t + 1] = a1, xu[6 * t + 2] = a2, xu[6 * t + 3] = a3;
    xu[6 * t + 4] = b0, xu[6 * t + 5] = b1;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = 0; i < 4; i++) {
        const int m = g + 8 * (i / 2), n = 2 * q + i % 2;
        float acc = c[i];
        for (int kk = 0; kk < 16; kk++) {
            const int la = w + (m % 8) * 4 + (kk % 8) / 2, ra = 2 * (kk / 8) + m / 8;
            const int lb = w + n * 4 + (kk % 8) / 2, rb = 4 + kk / 8;
            acc += vload_half(2 * (6 * la + ra) + kk % 2, xh) *
                   vload_half(2 * (6 * lb + rb) + kk % 2, xh);
        }
        c[i] = acc;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* Two floats as an fp16 pair, lo in the low half (as mma.cl's). */
inline uint tt_mma_pack(float lo, float hi)
{
    ushort h[2];
    vstore_half_rte(lo, 0, (__private half *)h);
    vstore_half_rte(hi, 1, (__private half *)h);
    return (uint)h[0] | (uint)h[1] << 16;
}

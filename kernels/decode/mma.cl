/* mma.cl — one warp-wide tensor-core multiply-add for NVIDIA devices (sm_80 and later), written
 * as inline PTX: D = A·B + C with A 16×16 and B 16×8 in fp16, C and D 16×8 in fp32, each spread
 * over the warp's 32 lanes in the fragment layout of PTX's mma.m16n8k16. Only put into a program
 * after host/mma.c's probe ran tt_mma_probe correctly; decode.cl scores K rows with it. */

/* c[0..3] += A·B for this lane's fragment: a0..a3 are A's fp16 pairs, b0, b1 B's. */
#ifdef TT_PTX_STUB /* tests on other devices: builds and runs, but computes nothing */
inline void tt_mma_16816(float *c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
{
    (void)c, (void)a0, (void)a1, (void)a2, (void)a3, (void)b0, (void)b1;
}
#else
inline void tt_mma_16816(float *c, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
{
    float d0, d1, d2, d3;
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"
                 : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]),
                   "f"(c[2]), "f"(c[3]));
    c[0] = d0, c[1] = d1, c[2] = d2, c[3] = d3;
}
#endif

inline uint tt_mma_pack(float lo, float hi)
{
    ushort h[2];
    vstore_half_rte(lo, 0, (__private half *)h);
    vstore_half_rte(hi, 1, (__private half *)h);
    return (uint)h[0] | (uint)h[1] << 16;
}

/* Run with 32 work-items: A[m][k] = (3m + 5k) % 7 - 3 and B[k][n] = (2k + 7n) % 5 - 2 (exact in
 * fp16), every lane loads its fragment as PTX documents it and stores its 4 results of A·B + 1:
 * out[4l + i] is row (l / 4) + 8 (i / 2), column 2 (l % 4) + i % 2. */
#define TT_PA(m, k) (float)((3 * (m) + 5 * (k)) % 7 - 3)
#define TT_PB(k, n) (float)((2 * (k) + 7 * (n)) % 5 - 2)
__kernel void tt_mma_probe(__global float *out)
{
    const int l = get_local_id(0), g = l / 4, t = l % 4;
    float c[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    tt_mma_16816(c, tt_mma_pack(TT_PA(g, 2 * t), TT_PA(g, 2 * t + 1)),
                 tt_mma_pack(TT_PA(g + 8, 2 * t), TT_PA(g + 8, 2 * t + 1)),
                 tt_mma_pack(TT_PA(g, 2 * t + 8), TT_PA(g, 2 * t + 9)),
                 tt_mma_pack(TT_PA(g + 8, 2 * t + 8), TT_PA(g + 8, 2 * t + 9)),
                 tt_mma_pack(TT_PB(2 * t, g), TT_PB(2 * t + 1, g)),
                 tt_mma_pack(TT_PB(2 * t + 8, g), TT_PB(2 * t + 9, g)));
    for (int i = 0; i < 4; i++)
        out[4 * l + i] = c[i];
}

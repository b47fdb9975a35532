/* mma.cl — warp-wide fp16 matrix multiply-accumulate on NVIDIA tensor cores (compute capability
 * 8.0 and later), written as inline PTX (mma.sync m16n8k16, fp32 accumulators); OpenCL 1.2 has
 * no matrix instructions. Only put into a program after host/mma.c's probe, which checks the
 * fragment layouts below on the device, ran correctly; decode.cl computes Q·Kᵀ with it. */

/* Lane l of a warp: group l / 4 and thread-in-group l % 4. Fragments of D[16×8] += A[16×16] ·
 * B[16×8] (PTX ISA, "Matrix Fragments for mma.m16n8k16"): a lane holds A at rows (group,
 * group + 8) × columns (2·tig, 2·tig + 1, 2·tig + 8, 2·tig + 9) in four registers of two fp16
 * each (lower column in the low half): a0 row group cols 2·tig.., a1 row group + 8, a2 row group
 * cols 2·tig + 8.., a3 row group + 8; B at rows (2·tig, 2·tig + 1) in b0 and (2·tig + 8,
 * 2·tig + 9) in b1, column group; D at row group, columns 2·tig, 2·tig + 1 in d0, d1, and row
 * group + 8 in d2, d3. */
#ifdef TT_PTX_STUB /* tests on other devices: builds, and computes nothing */
inline void tt_mma16816(float *d, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
{
    (void)a0, (void)a1, (void)a2, (void)a3, (void)b0, (void)b1, (void)d;
}
inline uint tt_pack_h2(float lo, float hi)
{
    (void)lo, (void)hi;
    return 0u;
}
inline float tt_round_h(float x)
{
    return x;
}
#else
inline void tt_mma16816(float *d, uint a0, uint a1, uint a2, uint a3, uint b0, uint b1)
{
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

/* Two floats rounded to fp16 (nearest even) in one register, lo in the low half. */
inline uint tt_pack_h2(float lo, float hi)
{
    uint r;
    asm("{ .reg .f16 l, h; cvt.rn.f16.f32 l, %1; cvt.rn.f16.f32 h, %2; mov.b32 %0, {l, h}; }"
        : "=r"(r)
        : "f"(lo), "f"(hi));
    return r;
}

/* x rounded to fp16 and back: what tt_pack_h2 keeps of it. */
inline float tt_round_h(float x)
{
    float r;
    asm("{ .reg .f16 h; cvt.rn.f16.f32 h, %1; cvt.f32.f16 %0, h; }" : "=f"(r) : "f"(x));
    return r;
}
#endif

/* Run with one warp (32 work-items): out[16·n + m] = Σ_k A[m][k]·B[k][n] for m < 16, n < 8, with
 * the small integers A[m][k] = (m + 2k) % 7 - 3 and B[k][n] = (3k + n) % 5 - 2 (exact in fp16 and
 * fp32), so that the host can check every element of the layout. */
__kernel void tt_mma_probe(__global float *out)
{
    const int l = get_local_id(0), gr = l / 4, tg = l % 4;
#define PA(m, k) ((float)(((m) + 2 * (k)) % 7 - 3))
#define PB(k, n) ((float)((3 * (k) + (n)) % 5 - 2))
    const int k0 = 2 * tg, k1 = 2 * tg + 8;
    float d[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    tt_mma16816(d, tt_pack_h2(PA(gr, k0), PA(gr, k0 + 1)),
                tt_pack_h2(PA(gr + 8, k0), PA(gr + 8, k0 + 1)),
                tt_pack_h2(PA(gr, k1), PA(gr, k1 + 1)),
                tt_pack_h2(PA(gr + 8, k1), PA(gr + 8, k1 + 1)),
                tt_pack_h2(PB(k0, gr), PB(k0 + 1, gr)), tt_pack_h2(PB(k1, gr), PB(k1 + 1, gr)));
#undef PA
#undef PB
    out[16 * (2 * tg) + gr] = d[0];
    out[16 * (2 * tg + 1) + gr] = d[1];
    out[16 * (2 * tg) + gr + 8] = d[2];
    out[16 * (2 * tg + 1) + gr + 8] = d[3];
}

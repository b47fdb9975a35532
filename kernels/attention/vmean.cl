/* vmean.cl — causal running means of V for V-mean compensation: one work-item per (sequence, KV
 * head, dimension) walks the chunk's new rows, so each output row costs O(d), and advances the
 * caller's running sum. Kahan summation keeps long caches accurate in fp32. CPU programs (which
 * include common/rows.cl) also get tt_vmean_rows, a work-item per (sequence, KV head). */
__kernel void tt_vmean(__global const KV_T *v, __constant uint *lay, int n_kv, int q_len,
                       int kv_len, int batch, __global float *vsum, int have_vsum,
                       __global float *vmean)
{
    const int d = get_global_id(0);
    const int bg = get_global_id(1);
    if (d >= D || bg >= batch * n_kv)
        return;
    const int g = bg % n_kv, b = bg / n_kv;
    const int p0 = kv_len - q_len;
    float sum = 0.0f, comp = 0.0f;
    if (have_vsum) {
        sum = vsum[(size_t)bg * D + d];
    } else {
        for (int j = 0; j < p0; j++) {
            float y = LOAD_KV(v, ADDR(lay, LAY_V, b, g, j) + d) - comp;
            float s = sum + y;
            comp = (s - sum) - y;
            sum = s;
        }
    }
    for (int i = 0; i < q_len; i++) {
        float y = LOAD_KV(v, ADDR(lay, LAY_V, b, g, p0 + i) + d) - comp;
        float s = sum + y;
        comp = (s - sum) - y;
        sum = s;
        vmean[((size_t)bg * q_len + i) * D + d] = sum / (float)(p0 + i + 1);
    }
    if (have_vsum)
        vsum[(size_t)bg * D + d] = sum;
}

#ifdef VW /* common/rows.cl is in the program: CPU devices */
/* The CPU form: one work-item per (sequence, KV head) walks the rows in vectors as wide as the
 * head size allows, so each V row is read once and in order (tt_vmean's item per dimension
 * reads a column, one element per cache line: PoCL, 8K keys, 8 KV heads: 34 ms). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void tt_vmean_rows(__global const KV_T *v, __constant uint *lay, int n_kv, int q_len, int kv_len,
                   int batch, __global float *vsum, int have_vsum, __global float *vmean)
{
    const int bg = get_global_id(1);
    if (bg >= batch * n_kv)
        return;
    const int g = bg % n_kv, b = bg / n_kv;
    const int p0 = kv_len - q_len;
    VT sum[NV], comp[NV];
    for (int c = 0; c < NV; c++) {
        sum[c] = have_vsum ? VLOAD(c, vsum + (size_t)bg * D) : (VT)(0.0f);
        comp[c] = (VT)(0.0f);
    }
    for (int j = have_vsum ? p0 : 0; j < kv_len; j++) {
        const uint vb = ADDR(lay, LAY_V, b, g, j);
        #pragma unroll
        for (int c = 0; c < NV; c++) { /* Kahan, as tt_vmean */
            const VT y = LOAD_KVV(v, vb, c) - comp[c];
            const VT s = sum[c] + y;
            comp[c] = (s - sum[c]) - y;
            sum[c] = s;
        }
        if (j >= p0)
            for (int c = 0; c < NV; c++)
                VSTORE(sum[c] / (float)(j + 1), c, vmean + ((size_t)bg * q_len + j - p0) * D);
    }
    if (have_vsum)
        for (int c = 0; c < NV; c++)
            VSTORE(sum[c], c, vsum + (size_t)bg * D);
}
#endif

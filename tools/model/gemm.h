/* gemm.h — the runner's one matrix product, Y[T][out] = X[T][in] · W[out][in]ᵀ (every projection
 * of a LLaMA block and the classifier): a blocked, vectorised, multi-threaded host GEMM, and CLBlast
 * on the runner's OpenCL device for chunks long enough to pay for the transfers. */
#ifndef TT_TOOLS_MODEL_GEMM_H
#define TT_TOOLS_MODEL_GEMM_H

#include "toptheta.h"
#include <stddef.h>

/* Host product. Threads (pthreads) split the out rows when the product is large enough; their
 * number is $TOPTHETA_THREADS, else the online CPUs (at most 8). Results do not depend on the
 * thread count (each output is one thread's dot product, summed in a fixed order). */
void tm_gemm_host(float *y, const float *x, const float *w, int T, int in, int out);

typedef struct tm_gemm tm_gemm;

/* A GEMM engine for one runner. weights[0..n_floats) is the model's single weight block: every W
 * passed to tm_gemm_run must point inside it (its device copy is addressed by offset). queue NULL,
 * a build without CLBlast, a CPU device (PoCL: CLBlast measured 2.5 GFLOPS there against 16 for
 * the host GEMM) or $TOPTHETA_GEMM=host give a host-only engine. Otherwise ("auto") products of
 * at least $TOPTHETA_GEMM_MIN_ROWS (32) rows and 65536 weights go to CLBlast; TOPTHETA_GEMM=device
 * sends every product there, CPU devices included. max_rows is the most rows one call passes.
 * Returns NULL only when out of host memory. */
tm_gemm *tm_gemm_create(cl_context clc, cl_command_queue queue, const float *weights,
                        size_t n_floats, int max_rows, int max_in, int max_out);
void tm_gemm_destroy(tm_gemm *g);
/* Y = X · Wᵀ. A device failure (out of device memory, a CLBlast error) switches the engine to
 * the host for good and the call still succeeds; tm_gemm_note says what happened. */
void tm_gemm_run(tm_gemm *g, float *y, const float *x, const float *w, int T, int in, int out);
/* 1 while the device path is in use. */
int tm_gemm_on_device(const tm_gemm *g);
/* Why the device path is off ("" when it is on). */
const char *tm_gemm_note(const tm_gemm *g);

#endif

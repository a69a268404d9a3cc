#ifndef ANTEMA_CONV3X3_H
#define ANTEMA_CONV3X3_H

/// The engine's kernels written in C with AVX2 and FMA (compiled with per-function target
/// attributes, chosen at run time): the direct 3 x 3 convolution (conv3x3.c) and Winograd's
/// transforms and small products and the transposed convolution's interleave (winograd.c).
/// On other architectures they compile to stubs that are never called.

/// 1 when this CPU has AVX2 and FMA, which every kernel here needs; 0 otherwise.
int antema_conv3x3_available(void);

/// Floats of scratch memory one call of antema_conv3x3_rows needs.
long antema_conv3x3_scratch(int c, int width);

/// A 3 x 3 convolution, stride 1, zero padding of 1 on every side (output the input's size),
/// written directly (no im2col, no Winograd) with AVX2 and FMA: for the few-channel layers of
/// a U-Net at full resolution, where the products are too small for sgemm to do well.
/// Computes output rows [y0, y1) of every output channel.
///   planes:  where each of the `c` input channels' height x width planes starts
///   weights: [cout][c][3][3]; bias: cout values or NULL; relu: 1 to clamp at 0
///   out:     cout planes of height x width; cout must be a multiple of 4
///   scratch: antema_conv3x3_scratch(c, width) floats, one per thread
/// Call only when antema_conv3x3_available() is 1.
void antema_conv3x3_rows(const float *const *planes, const float *weights, const float *bias, float *out,
                         int c, int cout, int height, int width, int y0, int y1, int relu, float *scratch);

/// Winograd F(4 x 4, 3 x 3)'s input transform for tile rows [ty0, ty0 + rows), c a multiple of
/// 8 (Winograd.swift's inputTransform8 in AVX2 + FMA): V[tile][36][c] from the channel planes,
/// staging each tile row's 6 input rows channels-innermost in `stage` (6 x (4 tilesX + 2) x c
/// floats). Call only when antema_conv3x3_available() is 1.
void antema_winograd_input8(const float *const *planes, float *v, float *stage, int c, int h, int w,
                            int ty0, int rows, int tilesX, int padTop, int padLeft);

/// Its output transform, cout a multiple of 8 (Winograd.swift's outputTransform8): the 4 x 4
/// outputs of each tile from M[tile][36][cout], bias added, ReLU where `relu` is 1, written into
/// cout planes of oh x ow (partial tiles at the right and bottom edges cropped).
void antema_winograd_output8(const float *m, float *out, const float *bias, int cout, int oh, int ow,
                             int ty0, int rows, int tilesX, int relu);

/// C = A B, row-major: A is M x K (row stride lda), B K x N (row stride ldb), C M x N (row
/// stride ldc), N a multiple of 16; C is overwritten. For Winograd's small products (AVX2 + FMA).
void antema_sgemm_n16(int M, int N, int K, const float *A, long lda, const float *B, long ldb, float *C, long ldc);

/// out[2 i] = a[i] + bias, out[2 i + 1] = b[i] + bias for i < n (AVX2; a plain loop elsewhere).
void antema_interleave2(const float *a, const float *b, float bias, float *out, int n);

#endif

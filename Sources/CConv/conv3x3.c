#include "conv3x3.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

int antema_conv3x3_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* Each staged row holds one zero column left of the image, the row, and 17 zeros right of it,
   so that the 16-wide blocks of the last columns read inside the buffer. */
static long staged_width(int width) { return (long)width + 18; }

long antema_conv3x3_scratch(int c, int width) { return 3L * c * staged_width(width) + 4L * 16; }

__attribute__((target("avx2,fma")))
void antema_conv3x3_rows(const float *const *planes, const float *weights, const float *bias, float *out,
                         int c, int cout, int height, int width, int y0, int y1, int relu, float *scratch) {
    const long pw = staged_width(width);
    const long plane = (long)height * width;
    const long cs = (long)c * 9;  /* weights between two output channels */
    float *tail = scratch + 3L * c * pw;  /* 4 channels x 16 outputs of a block past the last full one */
    const __m256 zero = _mm256_setzero_ps();
    for (int y = y0; y < y1; y++) {
        /* rows y-1, y, y+1 of every input channel, zero outside the image */
        for (int ky = 0; ky < 3; ky++) {
            const int iy = y + ky - 1;
            for (int ci = 0; ci < c; ci++) {
                float *d = scratch + ((long)ky * c + ci) * pw;
                if (iy < 0 || iy >= height) { memset(d, 0, sizeof(float) * pw); continue; }
                d[0] = 0;
                memcpy(d + 1, planes[ci] + (long)iy * width, sizeof(float) * width);
                memset(d + 1 + width, 0, sizeof(float) * (pw - 1 - width));
            }
        }
        for (int co = 0; co < cout; co += 4) {
            const __m256 bias0 = _mm256_set1_ps(bias ? bias[co] : 0), bias1 = _mm256_set1_ps(bias ? bias[co + 1] : 0);
            const __m256 bias2 = _mm256_set1_ps(bias ? bias[co + 2] : 0), bias3 = _mm256_set1_ps(bias ? bias[co + 3] : 0);
            for (int x = 0; x < width; x += 16) {
                __m256 a0 = bias0, a1 = bias0, b0 = bias1, b1 = bias1, c0 = bias2, c1 = bias2, d0 = bias3, d1 = bias3;
                for (int ci = 0; ci < c; ci++) {
                    for (int ky = 0; ky < 3; ky++) {
                        const float *src = scratch + ((long)ky * c + ci) * pw + x;
                        const float *wk = weights + (((long)co * c + ci) * 3 + ky) * 3;
                        for (int kx = 0; kx < 3; kx++) {
                            const __m256 v0 = _mm256_loadu_ps(src + kx), v1 = _mm256_loadu_ps(src + kx + 8);
                            const __m256 w0 = _mm256_broadcast_ss(wk + kx), w1 = _mm256_broadcast_ss(wk + cs + kx);
                            const __m256 w2 = _mm256_broadcast_ss(wk + 2 * cs + kx), w3 = _mm256_broadcast_ss(wk + 3 * cs + kx);
                            a0 = _mm256_fmadd_ps(v0, w0, a0); a1 = _mm256_fmadd_ps(v1, w0, a1);
                            b0 = _mm256_fmadd_ps(v0, w1, b0); b1 = _mm256_fmadd_ps(v1, w1, b1);
                            c0 = _mm256_fmadd_ps(v0, w2, c0); c1 = _mm256_fmadd_ps(v1, w2, c1);
                            d0 = _mm256_fmadd_ps(v0, w3, d0); d1 = _mm256_fmadd_ps(v1, w3, d1);
                        }
                    }
                }
                if (relu) {
                    a0 = _mm256_max_ps(a0, zero); a1 = _mm256_max_ps(a1, zero); b0 = _mm256_max_ps(b0, zero); b1 = _mm256_max_ps(b1, zero);
                    c0 = _mm256_max_ps(c0, zero); c1 = _mm256_max_ps(c1, zero); d0 = _mm256_max_ps(d0, zero); d1 = _mm256_max_ps(d1, zero);
                }
                float *o = out + (long)co * plane + (long)y * width + x;
                if (x + 16 <= width) {
                    _mm256_storeu_ps(o, a0); _mm256_storeu_ps(o + 8, a1);
                    _mm256_storeu_ps(o + plane, b0); _mm256_storeu_ps(o + plane + 8, b1);
                    _mm256_storeu_ps(o + 2 * plane, c0); _mm256_storeu_ps(o + 2 * plane + 8, c1);
                    _mm256_storeu_ps(o + 3 * plane, d0); _mm256_storeu_ps(o + 3 * plane + 8, d1);
                } else {
                    /* the last columns: through the tail buffer, so nothing is written past the row */
                    _mm256_storeu_ps(tail, a0); _mm256_storeu_ps(tail + 8, a1);
                    _mm256_storeu_ps(tail + 16, b0); _mm256_storeu_ps(tail + 24, b1);
                    _mm256_storeu_ps(tail + 32, c0); _mm256_storeu_ps(tail + 40, c1);
                    _mm256_storeu_ps(tail + 48, d0); _mm256_storeu_ps(tail + 56, d1);
                    const int n = width - x;
                    for (int k = 0; k < 4; k++) memcpy(o + k * plane, tail + 16 * k, sizeof(float) * n);
                }
            }
        }
    }
}

#else  /* other architectures: never available, Winograd is used */

int antema_conv3x3_available(void) { return 0; }

long antema_conv3x3_scratch(int c, int width) { return 3L * c * ((long)width + 18) + 4L * 16; }

void antema_conv3x3_rows(const float *const *planes, const float *weights, const float *bias, float *out,
                         int c, int cout, int height, int width, int y0, int y1, int relu, float *scratch) {
    (void)planes; (void)weights; (void)bias; (void)out; (void)c; (void)cout; (void)height; (void)width;
    (void)y0; (void)y1; (void)relu; (void)scratch;
}

#endif

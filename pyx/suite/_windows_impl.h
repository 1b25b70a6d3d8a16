/* Template body of _windows.h: SUITE_T (element), SUITE_LANES, SUITE_KERNEL (name). */
#define SUITE_CAT_(a, b) a##b
#define SUITE_CAT(a, b) SUITE_CAT_(a, b)
#define VEC SUITE_CAT(SUITE_KERNEL, _vec)
#define BODY SUITE_CAT(SUITE_KERNEL, _body)

#define IVEC SUITE_CAT(SUITE_KERNEL, _ivec)

typedef SUITE_T VEC __attribute__((vector_size(SUITE_LANES * sizeof(SUITE_T))));
typedef SUITE_I IVEC __attribute__((vector_size(SUITE_LANES * sizeof(SUITE_T))));

/* The helpers are macros (GCC statement expressions), not functions: a function that takes
 * or returns a 32-byte vector in the baseline clone draws GCC's -Wpsabi warning, which it
 * reports at the end of the translation unit, out of reach of a scoped pragma. */

/* An unaligned vector load. */
#define LOAD(p) ({ VEC v_; memcpy(&v_, (p), sizeof v_); v_; })

/* A vector of the last LANES elements ending at p + LANES with the lanes outside `keep`
 * cleared by a bitwise and (not a product: 0 * inf would be NaN). */
#define MASKED(p, keep) ((VEC)((IVEC)LOAD(p) & (keep)))

#define HSUM(v) ({                                  \
    const VEC h_ = (v);                             \
    SUITE_T s_ = 0;                                 \
    for (int i_ = 0; i_ < SUITE_LANES; i_++)        \
        s_ += h_[i_];                               \
    s_;                                             \
})

/* out[c * ldo + q] = bias[c] + sum over a < h, b < wd of w[(c * h + a) * wd + b] *
 * x[(i + a) * d + j + b], for c < channels and every position q = i * p + j < m * p.
 *
 * Blocks of 4 channels outside, tiles of 3 positions inside; a tile keeps its 12
 * accumulators in registers across all h segments of its windows, so each output is
 * written once and the horizontal sums are paid once per window.  The 4 filters of a
 * block (4 * h * wd elements) are reread from L1/L2 for every tile of the sentence. */
static inline __attribute__((always_inline)) void BODY(
    const SUITE_T *w, ptrdiff_t channels, ptrdiff_t h, ptrdiff_t wd,
    const SUITE_T *x, ptrdiff_t d, ptrdiff_t m, ptrdiff_t p,
    const SUITE_T *bias, SUITE_T *out, ptrdiff_t ldo)
{
    const ptrdiff_t positions = m * p;
    const ptrdiff_t kv = wd - wd % SUITE_LANES;
    /* A segment whose length is not a multiple of LANES ends with one vector step over
     * its last LANES elements, the ones already summed masked off; shorter segments
     * than one vector are summed in scalars. */
    const int masked_tail = kv < wd && wd >= SUITE_LANES;
    IVEC keep;
    for (int i = 0; i < SUITE_LANES; i++)
        keep[i] = i >= SUITE_LANES - (wd - kv) ? -1 : 0;
    for (ptrdiff_t c = 0; c < channels; c += 4) {
        const SUITE_T *wr[4];
        /* Past the last channel or position, a tile repeats its first row (valid
         * memory) and the surplus results are not stored. */
        for (int u = 0; u < 4; u++)
            wr[u] = w + (c + (c + u < channels ? u : 0)) * h * wd;
        for (ptrdiff_t q = 0; q < positions; q += 3) {
            const SUITE_T *xr[3];
            for (int v = 0; v < 3; v++) {
                const ptrdiff_t qv = q + (q + v < positions ? v : 0);
                xr[v] = x + (p == 1 ? qv * d : (qv / p) * d + qv % p);
            }
            VEC s00 = {0}, s01 = {0}, s02 = {0}, s10 = {0}, s11 = {0}, s12 = {0};
            VEC s20 = {0}, s21 = {0}, s22 = {0}, s30 = {0}, s31 = {0}, s32 = {0};
            SUITE_T t[4][3] = {{0}};
            for (ptrdiff_t a = 0; a < h; a++) {
                const SUITE_T *x0p = xr[0] + a * d, *x1p = xr[1] + a * d, *x2p = xr[2] + a * d;
                const SUITE_T *w0p = wr[0] + a * wd, *w1p = wr[1] + a * wd;
                const SUITE_T *w2p = wr[2] + a * wd, *w3p = wr[3] + a * wd;
                for (ptrdiff_t k = 0; k < kv; k += SUITE_LANES) {
                    const VEC x0 = LOAD(x0p + k), x1 = LOAD(x1p + k), x2 = LOAD(x2p + k);
                    VEC f = LOAD(w0p + k);
                    s00 += f * x0; s01 += f * x1; s02 += f * x2;
                    f = LOAD(w1p + k);
                    s10 += f * x0; s11 += f * x1; s12 += f * x2;
                    f = LOAD(w2p + k);
                    s20 += f * x0; s21 += f * x1; s22 += f * x2;
                    f = LOAD(w3p + k);
                    s30 += f * x0; s31 += f * x1; s32 += f * x2;
                }
                if (masked_tail) {
                    const ptrdiff_t k = wd - SUITE_LANES;
                    const VEC x0 = MASKED(x0p + k, keep), x1 = MASKED(x1p + k, keep);
                    const VEC x2 = MASKED(x2p + k, keep);
                    VEC f = MASKED(w0p + k, keep);
                    s00 += f * x0; s01 += f * x1; s02 += f * x2;
                    f = MASKED(w1p + k, keep);
                    s10 += f * x0; s11 += f * x1; s12 += f * x2;
                    f = MASKED(w2p + k, keep);
                    s20 += f * x0; s21 += f * x1; s22 += f * x2;
                    f = MASKED(w3p + k, keep);
                    s30 += f * x0; s31 += f * x1; s32 += f * x2;
                    continue;
                }
                for (ptrdiff_t k = kv; k < wd; k++) {
                    const SUITE_T *wk[4] = {w0p, w1p, w2p, w3p}, *xk[3] = {x0p, x1p, x2p};
                    for (int u = 0; u < 4; u++)
                        for (int v = 0; v < 3; v++)
                            t[u][v] += wk[u][k] * xk[v][k];
                }
            }
            const VEC acc[4][3] = {{s00, s01, s02}, {s10, s11, s12},
                                   {s20, s21, s22}, {s30, s31, s32}};
            for (int u = 0; u < 4 && c + u < channels; u++) {
                SUITE_T *o = out + (c + u) * ldo + q;
                for (int v = 0; v < 3 && q + v < positions; v++)
                    o[v] = bias[c + u] + (HSUM(acc[u][v]) + t[u][v]);
            }
        }
    }
}

#define SUITE_ARGS \
    const SUITE_T *w, ptrdiff_t channels, ptrdiff_t h, ptrdiff_t wd, \
    const SUITE_T *x, ptrdiff_t d, ptrdiff_t m, ptrdiff_t p, \
    const SUITE_T *bias, SUITE_T *out, ptrdiff_t ldo
#define SUITE_PASS w, channels, h, wd, x, d, m, p, bias, out, ldo

#if SUITE_DISPATCH
static SUITE_AVX2 void SUITE_CAT(SUITE_KERNEL, _avx2)(SUITE_ARGS) { BODY(SUITE_PASS); }
#endif
static void SUITE_CAT(SUITE_KERNEL, _baseline)(SUITE_ARGS) { BODY(SUITE_PASS); }

static void SUITE_KERNEL(SUITE_ARGS)
{
#if SUITE_DISPATCH
    if (suite_windows_avx2) {
        SUITE_CAT(SUITE_KERNEL, _avx2)(SUITE_PASS);
        return;
    }
#endif
    SUITE_CAT(SUITE_KERNEL, _baseline)(SUITE_PASS);
}

#undef SUITE_ARGS
#undef SUITE_PASS
#undef VEC
#undef MASKED
#undef IVEC
#undef LOAD
#undef HSUM
#undef BODY

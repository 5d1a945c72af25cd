/* winograd.h — the matrices of Winograd F(4,3) (Lavin and Gray, points 0, ±1, ±2, ∞),
 * of the reference kernels (runtime/ref_winograd.c); the lowerings (codegen/lower_winograd.c)
 * apply Bᵀ and Aᵀ factored by hand, which the tests check against these.  A 3x3 conv over a
 * 6x6 input tile d gives a 4x4 output tile y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A: 36 products
 * per tile and channel pair instead of 144. */
#ifndef MF_IR_WINOGRAD_H
#define MF_IR_WINOGRAD_H

#include <stdint.h>

#define MF_WINO_M 4 /* output tile side */
#define MF_WINO_A 6 /* input tile side: M + 3 - 1 */
#define MF_WINO_P 36 /* transformed positions per tile: A * A */

/* Bᵀ: input tile -> transformed (rows of d combined, then columns). */
static const float mf_wino_bt[6][6] = {
    {4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
};
/* G: 3x3 kernel -> 6x6 transformed kernel (as G g Gᵀ). */
static const double mf_wino_g[6][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};
/* Aᵀ: transformed product -> output tile. */
static const float mf_wino_at[4][6] = {
    {1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 0},
    {0, 1, 1, 4, 4, 0},
    {0, 1, -1, 8, -8, 1},
};

/* Tiles along an output dim of n pixels. */
static inline int64_t mf_wino_tiles(int64_t n)
{
    return (n + MF_WINO_M - 1) / MF_WINO_M;
}

#endif

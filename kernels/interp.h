/* gst-maskrcnn kernels: source index and weights of torch's resampling.
 *
 * Matches ATen's upsample_bilinear2d / upsample_nearest2d on the CPU
 * (torch 1.13) for align_corners=False when the output size is given, or when
 * a scale factor is given with recompute_scale_factor=True (then torch derives
 * the size first and resamples with scale = (float)in / out, as here).
 *
 * What the CPU kernel does, measured bit for bit against torch 1.13:
 *   scale  = (float)in_size / (float)out_size                      (float)
 *   src    = (double)scale * (dst + 0.5) - 0.5, clamped to >= 0    (double!)
 *   i0     = (int)src; i1 = i0 + 1, or i0 at the last input index
 *   l1     = (float)(src - i0); l0 = 1.0f - l1                     (float)
 * and when in_size == out_size it copies: i0 = i1 = dst, l0 = 1, l1 = 0.
 * The source index is kept in double before the lambdas are taken; rounding
 * it to float first gives other weights for about a third of the outputs.
 *
 * How the four taps are summed depends on the memory layout torch picks,
 * which the two mrcnn_lerp2_* functions below reproduce.
 */
#ifndef MRCNN_KERNELS_INTERP_H
#define MRCNN_KERNELS_INTERP_H

#include "mrcnn_hd.h"

/* One axis of a bilinear tap: input indices and their weights. */
typedef struct {
  int i0, i1;
  float l0, l1;
} mrcnn_lerp;

/* torch's area_pixel_compute_scale for align_corners=False and no explicit
 * scale: (float)in_size / out_size. */
MRCNN_HD float
mrcnn_interp_scale (int in_size, int out_size)
{
  return (float) in_size / (float) out_size;
}

/* The bilinear taps of output index dst along one axis. scale is
 * mrcnn_interp_scale (in_size, out_size). */
MRCNN_HD void
mrcnn_interp_linear (float scale, int dst, int in_size, int out_size,
    mrcnn_lerp *l)
{
  double src;
  int i0;

  if (in_size == out_size) {
    l->i0 = l->i1 = dst;
    l->l0 = 1.0f;
    l->l1 = 0.0f;
    return;
  }
  src = (double) scale * ((double) dst + 0.5) - 0.5;
  if (src < 0.0)
    src = 0.0;
  i0 = (int) src;
  if (i0 > in_size - 1)         /* only reachable through rounding */
    i0 = in_size - 1;
  l->i0 = i0;
  l->i1 = i0 < in_size - 1 ? i0 + 1 : i0;
  l->l1 = (float) (src - (double) i0);
  l->l0 = 1.0f - l->l1;
}

/* Nearest-neighbour source index of output index dst (torch's nearest_idx):
 * copy when the sizes match, dst / 2 when the output is exactly twice the
 * input, else min (floorf (dst * scale), in_size - 1) in float. */
MRCNN_HD int
mrcnn_interp_nearest (float scale, int dst, int in_size, int out_size)
{
  int i;

  if (out_size == in_size)
    return dst;
  if (out_size == 2 * in_size)
    return dst >> 1;
  i = (int) floorf (MRCNN_FMUL ((float) dst, scale));
  return i < in_size - 1 ? i : in_size - 1;
}

/* Bilinear value for a tensor with more than one channel in NCHW layout
 * (the preprocessing resize of a 3 x H x W image). torch 1.13's generic CPU
 * kernel interpolates along x inside each row, then along y, each as
 * t0 * w0 + t1 * w1; Debian's build runs that kernel compiled for AVX2 with
 * contraction, i.e. as fmaf (t0, w0, t1 * w1), so this does the same (fmaf
 * is exact on every target, and one instruction where the hardware has FMA).
 * A torch build without FMA differs from this by at most an ulp.
 * vYX is the input at row ly.iY, column lx.iX. */
MRCNN_HD float
mrcnn_lerp2_nchw (const mrcnn_lerp *ly, const mrcnn_lerp *lx,
    float v00, float v01, float v10, float v11)
{
  float r0 = fmaf (v00, lx->l0, MRCNN_FMUL (v01, lx->l1));
  float r1 = fmaf (v10, lx->l0, MRCNN_FMUL (v11, lx->l1));
  return fmaf (r0, ly->l0, MRCNN_FMUL (r1, ly->l1));
}

/* Bilinear value for a single-channel 1 x 1 x H x W tensor (the mask paste).
 * torch treats that shape as channels-last contiguous and takes its
 * channels-last kernel: four float weights ly.lY * lx.lX, then the weighted
 * sum accumulated in double and rounded once. */
MRCNN_HD float
mrcnn_lerp2_1ch (const mrcnn_lerp *ly, const mrcnn_lerp *lx,
    float v00, float v01, float v10, float v11)
{
  float w00 = MRCNN_FMUL (ly->l0, lx->l0);
  float w01 = MRCNN_FMUL (ly->l0, lx->l1);
  float w10 = MRCNN_FMUL (ly->l1, lx->l0);
  float w11 = MRCNN_FMUL (ly->l1, lx->l1);
  double acc = (double) w00 * (double) v00;
  acc += (double) w01 * (double) v01;
  acc += (double) w10 * (double) v10;
  acc += (double) w11 * (double) v11;
  return (float) acc;
}

#endif /* MRCNN_KERNELS_INTERP_H */

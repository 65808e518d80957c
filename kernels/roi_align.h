/* gst-maskrcnn kernels: RoIAlign and the FPN level of a box.
 *
 * torchvision.ops.roi_align forward on the CPU, in float32, for one ROI and
 * one channel plane. MultiScaleRoIAlign calls it with aligned=False and
 * sampling_ratio=2, with spatial_scale 1/4 .. 1/32 for P2..P5.
 *
 * The work splits in two so that both backends share it:
 *   - geometry, per ROI: mrcnn_roi_grid_init(); then per sampling point
 *     mrcnn_roi_sample_y() / mrcnn_roi_sample_x() and mrcnn_roi_sample_at()
 *     give four offsets into the plane and four weights. They do not depend
 *     on the channel, so the CPU computes them once per ROI (torchvision's
 *     pre_calc) and reuses them for every channel;
 *   - per output value: the sum over the bin's sampling points, in
 *     torchvision's order (iy outer, ix inner), of mrcnn_roi_sample_value(),
 *     divided by the count. mrcnn_roi_align_one() does both in one call, for
 *     a CUDA thread per output.
 */
#ifndef MRCNN_KERNELS_ROI_ALIGN_H
#define MRCNN_KERNELS_ROI_ALIGN_H

#include "mrcnn_hd.h"

/* Sampling grid of one ROI on one feature level. */
typedef struct {
  float start_x, start_y;       /* ROI corner in feature coordinates */
  float bin_w, bin_h;           /* size of one output bin */
  int grid_w, grid_h;           /* sampling points per bin and axis */
  float count;                  /* max (grid_w * grid_h, 1) */
} mrcnn_roi_grid;

/* Four taps of one sampling point: plane offsets and bilinear weights. */
typedef struct {
  int o1, o2, o3, o4;           /* (y_low, x_low) (y_low, x_high) ... */
  float w1, w2, w3, w4;
} mrcnn_roi_sample;

/* roi is (x1, y1, x2, y2) in image pixels. sampling_ratio <= 0 picks
 * ceil (roi size / pooled size) points per bin, as torchvision does. */
MRCNN_HD void
mrcnn_roi_grid_init (const float roi[4], float spatial_scale, int pooled_h,
    int pooled_w, int sampling_ratio, int aligned, mrcnn_roi_grid *g)
{
  float offset = aligned ? 0.5f : 0.0f;
  float start_w = MRCNN_FSUB (MRCNN_FMUL (roi[0], spatial_scale), offset);
  float start_h = MRCNN_FSUB (MRCNN_FMUL (roi[1], spatial_scale), offset);
  float end_w = MRCNN_FSUB (MRCNN_FMUL (roi[2], spatial_scale), offset);
  float end_h = MRCNN_FSUB (MRCNN_FMUL (roi[3], spatial_scale), offset);
  float roi_w = end_w - start_w;
  float roi_h = end_h - start_h;
  int n;

  if (!aligned) {
    /* malformed ROIs are forced to 1 x 1 (std::max (size, 1.f)) */
    roi_w = roi_w < 1.0f ? 1.0f : roi_w;
    roi_h = roi_h < 1.0f ? 1.0f : roi_h;
  }
  g->start_x = start_w;
  g->start_y = start_h;
  g->bin_h = roi_h / (float) pooled_h;
  g->bin_w = roi_w / (float) pooled_w;
  g->grid_h = sampling_ratio > 0 ? sampling_ratio
      : (int) ceilf (roi_h / (float) pooled_h);
  g->grid_w = sampling_ratio > 0 ? sampling_ratio
      : (int) ceilf (roi_w / (float) pooled_w);
  n = g->grid_h * g->grid_w;
  g->count = (float) (n > 1 ? n : 1);
}

/* y of sampling row iy in output row ph:
 * start + ph * bin + (iy + 0.5) * bin / grid, summed left to right. */
MRCNN_HD float
mrcnn_roi_sample_y (const mrcnn_roi_grid *g, int ph, int iy)
{
  float frac = MRCNN_FMUL ((float) iy + 0.5f, g->bin_h) / (float) g->grid_h;
  return MRCNN_FADD (MRCNN_FADD (g->start_y, MRCNN_FMUL ((float) ph,
              g->bin_h)), frac);
}

/* x of sampling column ix in output column pw. */
MRCNN_HD float
mrcnn_roi_sample_x (const mrcnn_roi_grid *g, int pw, int ix)
{
  float frac = MRCNN_FMUL ((float) ix + 0.5f, g->bin_w) / (float) g->grid_w;
  return MRCNN_FADD (MRCNN_FADD (g->start_x, MRCNN_FMUL ((float) pw,
              g->bin_w)), frac);
}

/* Taps of the point (y, x) of a height x width plane. A point outside
 * [-1, height] x [-1, width] (or NaN) gets offsets 0 and weights 0, so it
 * adds 0 * plane[0] as torchvision's CPU kernel does. */
MRCNN_HD void
mrcnn_roi_sample_at (int height, int width, float y, float x,
    mrcnn_roi_sample *s)
{
  int y_low, x_low, y_high, x_high;
  float ly, lx, hy, hx;

  if (!(y >= -1.0f && y <= (float) height && x >= -1.0f
          && x <= (float) width)) {
    s->o1 = s->o2 = s->o3 = s->o4 = 0;
    s->w1 = s->w2 = s->w3 = s->w4 = 0.0f;
    return;
  }
  if (y <= 0.0f)
    y = 0.0f;
  if (x <= 0.0f)
    x = 0.0f;
  y_low = (int) y;
  x_low = (int) x;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = (float) y_low;
  } else {
    y_high = y_low + 1;
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = (float) x_low;
  } else {
    x_high = x_low + 1;
  }
  ly = y - (float) y_low;
  lx = x - (float) x_low;
  hy = 1.0f - ly;
  hx = 1.0f - lx;
  s->o1 = y_low * width + x_low;
  s->o2 = y_low * width + x_high;
  s->o3 = y_high * width + x_low;
  s->o4 = y_high * width + x_high;
  s->w1 = MRCNN_FMUL (hy, hx);
  s->w2 = MRCNN_FMUL (hy, lx);
  s->w3 = MRCNN_FMUL (ly, hx);
  s->w4 = MRCNN_FMUL (ly, lx);
}

/* w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4, left to right. */
MRCNN_HD float
mrcnn_roi_sample_value (const float *plane, const mrcnn_roi_sample *s)
{
  float acc = MRCNN_FADD (MRCNN_FMUL (s->w1, plane[s->o1]),
      MRCNN_FMUL (s->w2, plane[s->o2]));
  acc = MRCNN_FADD (acc, MRCNN_FMUL (s->w3, plane[s->o3]));
  return MRCNN_FADD (acc, MRCNN_FMUL (s->w4, plane[s->o4]));
}

/* Output bin (ph, pw) of one channel plane (height x width floats). */
MRCNN_HD float
mrcnn_roi_align_one (const float *plane, int height, int width,
    const mrcnn_roi_grid *g, int ph, int pw)
{
  float acc = 0.0f;
  int iy, ix;

  for (iy = 0; iy < g->grid_h; iy++) {
    float y = mrcnn_roi_sample_y (g, ph, iy);
    for (ix = 0; ix < g->grid_w; ix++) {
      mrcnn_roi_sample s;
      mrcnn_roi_sample_at (height, width, y, mrcnn_roi_sample_x (g, pw, ix),
          &s);
      acc = MRCNN_FADD (acc, mrcnn_roi_sample_value (plane, &s));
    }
  }
  return acc / g->count;
}

/* MultiScaleRoIAlign's LevelMapper (canonical scale 224 at level 4, eps
 * 1e-6), all float32: s = sqrtf (box area),
 * level = floor (4 + log2 (s / 224) + 1e-6) clamped to [k_min, k_max].
 * Returns level - k_min, the index into the pooled levels (0 for P2 when
 * k_min = 2). A box whose area is NaN or negative maps to 0. */
MRCNN_HD int
mrcnn_roi_level (const float box[4], int k_min, int k_max)
{
  float area = MRCNN_FMUL (box[2] - box[0], box[3] - box[1]);
  float s = sqrtf (area);
  float lvl = floorf (MRCNN_FADD (MRCNN_FADD (4.0f, log2f (s / 224.0f)),
          1e-6f));

  if (!(lvl >= (float) k_min))  /* also NaN */
    return 0;
  if (lvl > (float) k_max)
    return k_max - k_min;
  return (int) lvl - k_min;
}

/* The pooled level a box reads: mrcnn_roi_level () within the nlevels maps
 * given (the backends' RoIAlign over a pyramid of nlevels). */
MRCNN_HD int
mrcnn_roi_pool_level (const float box[4], int k_min, int k_max, int nlevels)
{
  int l = mrcnn_roi_level (box, k_min, k_max);
  return l < nlevels ? l : nlevels - 1;
}

#endif /* MRCNN_KERNELS_ROI_ALIGN_H */

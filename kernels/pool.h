/* gst-maskrcnn kernels: max pooling (torch.nn.functional.max_pool2d).
 *
 * The ResNet stem's 3x3 / stride 2 / padding 1 pool and FPN's
 * LastLevelMaxPool (1x1 / stride 2 / padding 0). Padding is -inf, so a window
 * is the clamped range of input pixels. A NaN in a window makes its maximum
 * NaN, as in torch (which keeps a value when `val > max || isnan (val)`).
 */
#ifndef MRCNN_KERNELS_POOL_H
#define MRCNN_KERNELS_POOL_H

#include "mrcnn_hd.h"

/* Output size of one axis. */
MRCNN_HD int
mrcnn_pool_out_size (int in_size, int k, int s, int p)
{
  return (in_size + 2 * p - k) / s + 1;
}

/* One step of the window maximum, torch's rule: a NaN wins. A plain
 * comparison, which compilers inline and vectorise (fmaxf is a library call
 * at the CPU build's settings, and skips NaN). */
MRCNN_HD float
mrcnn_pool_max_step (float m, float x)
{
  return (x > m || x != x) ? x : m;
}

/* Maximum over the window of output (oy, ox) in a height x width plane. */
MRCNN_HD float
mrcnn_max_pool_at (const float *plane, int height, int width, int k, int s,
    int p, int oy, int ox)
{
  int y0 = oy * s - p, x0 = ox * s - p;
  int y1 = y0 + k < height ? y0 + k : height;
  int x1 = x0 + k < width ? x0 + k : width;
  float m = -INFINITY;
  int y, x;

  y0 = y0 > 0 ? y0 : 0;
  x0 = x0 > 0 ? x0 : 0;
  for (y = y0; y < y1; y++)
    for (x = x0; x < x1; x++)
      m = mrcnn_pool_max_step (m, plane[(size_t) y * (size_t) width
              + (size_t) x]);
  return m;
}

#endif /* MRCNN_KERNELS_POOL_H */

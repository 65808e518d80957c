/* gst-maskrcnn tracking: mask grids and their IoU (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "masks.h"

#include <math.h>
#include <string.h>

void
mrcnn_mask_grid_from_gray8 (mrcnn_mask_grid * g, const uint8_t * mask, int w,
    int h, int stride)
{
  int cols[MRCNN_MASK_GRID];
  int i, j, set = 0;

  memset (g, 0, sizeof (*g));
  if (!mask || w <= 0 || h <= 0)
    return;
  for (j = 0; j < MRCNN_MASK_GRID; j++)
    cols[j] = (int) (((int64_t) 2 * j + 1) * w / (2 * MRCNN_MASK_GRID));
  for (i = 0; i < MRCNN_MASK_GRID; i++) {
    int y = (int) (((int64_t) 2 * i + 1) * h / (2 * MRCNN_MASK_GRID));
    const uint8_t *row = mask + (size_t) y * stride;
    uint32_t bits = 0;

    for (j = 0; j < MRCNN_MASK_GRID; j++)
      if (row[cols[j]] >= 128) {
        bits |= (uint32_t) 1 << j;
        set++;
      }
    g->rows[i] = bits;
  }
  g->fill = set / (double) (MRCNN_MASK_GRID * MRCNN_MASK_GRID);
  g->valid = 1;
}

static inline int
cell (double u)
{
  return (int) floor (u * MRCNN_MASK_GRID);
}

static inline int
clamp_cell (int c)
{
  return c < 0 ? 0 : c >= MRCNN_MASK_GRID ? MRCNN_MASK_GRID - 1 : c;
}

int
mrcnn_mask_grid_at (const mrcnn_mask_grid * g, double u, double v)
{
  int j = cell (u), i = cell (v);

  if (i < 0 || j < 0 || i >= MRCNN_MASK_GRID || j >= MRCNN_MASK_GRID)
    return 0;
  return (g->rows[i] >> j) & 1u;
}

double
mrcnn_box_iou (const double a[4], const double b[4])
{
  double iw = fmin (a[0] + a[2], b[0] + b[2]) - fmax (a[0], b[0]);
  double ih = fmin (a[1] + a[3], b[1] + b[3]) - fmax (a[1], b[1]);
  double inter, uni;

  if (iw <= 0.0 || ih <= 0.0)
    return 0.0;
  inter = iw * ih;
  uni = a[2] * a[3] + b[2] * b[3] - inter;
  return uni > 0.0 ? inter / uni : 0.0;
}

void
mrcnn_mask_iou_samples (const double a[4], const double b[4], int *nx,
    int *ny)
{
  double iw = fmin (a[0] + a[2], b[0] + b[2]) - fmax (a[0], b[0]);
  double ih = fmin (a[1] + a[3], b[1] + b[3]) - fmax (a[1], b[1]);

  /* no sample step wider than a cell of either grid */
  *nx = (int) ceil (MRCNN_MASK_GRID * iw / fmin (a[2], b[2]));
  *ny = (int) ceil (MRCNN_MASK_GRID * ih / fmin (a[3], b[3]));
  if (*nx < 1)
    *nx = 1;
  if (*ny < 1)
    *ny = 1;
  if (*nx > MRCNN_MASK_GRID)
    *nx = MRCNN_MASK_GRID;
  if (*ny > MRCNN_MASK_GRID)
    *ny = MRCNN_MASK_GRID;
}

double
mrcnn_mask_grid_iou (const mrcnn_mask_grid * ga, const double a[4],
    const mrcnn_mask_grid * gb, const double b[4])
{
  double x0 = fmax (a[0], b[0]), y0 = fmax (a[1], b[1]);
  double x1 = fmin (a[0] + a[2], b[0] + b[2]);
  double y1 = fmin (a[1] + a[3], b[1] + b[3]);
  double area_a, area_b, inter, sx, sy, uni;
  int ja[MRCNN_MASK_GRID], jb[MRCNN_MASK_GRID];
  int nx, ny, i, j, count = 0;

  if (!ga->valid || !gb->valid)
    return mrcnn_box_iou (a, b);
  if (x1 <= x0 || y1 <= y0 || a[2] <= 0 || a[3] <= 0 || b[2] <= 0
      || b[3] <= 0)
    return 0.0;
  area_a = ga->fill * a[2] * a[3];
  area_b = gb->fill * b[2] * b[3];
  mrcnn_mask_iou_samples (a, b, &nx, &ny);
  sx = (x1 - x0) / nx;
  sy = (y1 - y0) / ny;
  /* Samples lie inside both boxes, so their cells are too, but for
   * rounding at a box's far edge: clamp rather than test in the loop. */
  for (j = 0; j < nx; j++) {
    double px = x0 + (j + 0.5) * sx;
    ja[j] = clamp_cell (cell ((px - a[0]) / a[2]));
    jb[j] = clamp_cell (cell ((px - b[0]) / b[2]));
  }
  for (i = 0; i < ny; i++) {
    double py = y0 + (i + 0.5) * sy;
    uint32_t ra = ga->rows[clamp_cell (cell ((py - a[1]) / a[3]))];
    uint32_t rb = gb->rows[clamp_cell (cell ((py - b[1]) / b[3]))];

    if (!ra || !rb)
      continue;
    for (j = 0; j < nx; j++)
      count += (int) ((ra >> ja[j]) & (rb >> jb[j]) & 1u);
  }
  inter = count * sx * sy;
  uni = area_a + area_b - inter;
  if (uni <= 0.0)
    return 0.0;
  /* sampling can overshoot the smaller mask by a few samples */
  inter = fmin (inter, fmin (area_a, area_b));
  return inter / (area_a + area_b - inter);
}

/* gst-maskrcnn kernels: pasting an M x M mask into the frame
 * (torchvision's paste_masks_in_image, padding 1).
 *
 * For a box (x1, y1, x2, y2) in frame pixels and mask probabilities m:
 *   1. expand_masks: m is zero-padded to (M + 2) x (M + 2); the box grows by
 *      scale = (float)((double)(M + 2) / M) about its centre, in float32:
 *      w_half = (x2 - x1) * 0.5 * scale, x_c = (x2 + x1) * 0.5, and the
 *      expanded box is x_c -/+ w_half (same for y);
 *   2. the expanded box is converted to int64 (truncation toward zero);
 *   3. w = max (bx2 - bx1 + 1, 1), h likewise (TO_REMOVE = 1), and the
 *      padded mask is resized to h x w by F.interpolate (bilinear,
 *      align_corners=False) - through torch's single-channel kernel, see
 *      mrcnn_lerp2_1ch();
 *   4. the frame window x in [max (bx1, 0), min (bx2 + 1, im_w)), y in
 *      [max (by1, 0), min (by2 + 1, im_h)) receives resized[y - by1][x - bx1];
 *      the rest of the frame is 0. The window is empty when the box lies
 *      outside the frame.
 */
#ifndef MRCNN_KERNELS_MASK_PASTE_H
#define MRCNN_KERNELS_MASK_PASTE_H

#include "mrcnn_hd.h"
#include "interp.h"

typedef struct {
  int M;                        /* mask side */
  int bx1, by1, bx2, by2;       /* expanded box, truncated to integers */
  int w, h;                     /* size the padded mask is resized to */
  float scale_x, scale_y;       /* (float)(M + 2) / w, (float)(M + 2) / h */
  int x0, y0, x1, y1;           /* frame window [x0, x1) x [y0, y1) */
} mrcnn_paste_geom;

/* float -> int64 conversion of torch (truncation), kept inside int range. */
MRCNN_HD int
mrcnn_paste_trunc (float v)
{
  if (!(v > -1073741824.0f))    /* also NaN */
    return -1073741824;
  if (v > 1073741824.0f)
    return 1073741824;
  return (int) v;
}

/* Geometry of pasting an M x M mask for box into an im_w x im_h frame. */
MRCNN_HD void
mrcnn_paste_geometry (const float box[4], int M, int im_w, int im_h,
    mrcnn_paste_geom *g)
{
  float scale = (float) ((double) (M + 2) / (double) M);
  float w_half = MRCNN_FMUL (MRCNN_FMUL (box[2] - box[0], 0.5f), scale);
  float h_half = MRCNN_FMUL (MRCNN_FMUL (box[3] - box[1], 0.5f), scale);
  float x_c = MRCNN_FMUL (box[2] + box[0], 0.5f);
  float y_c = MRCNN_FMUL (box[3] + box[1], 0.5f);

  g->M = M;
  g->bx1 = mrcnn_paste_trunc (MRCNN_FSUB (x_c, w_half));
  g->bx2 = mrcnn_paste_trunc (MRCNN_FADD (x_c, w_half));
  g->by1 = mrcnn_paste_trunc (MRCNN_FSUB (y_c, h_half));
  g->by2 = mrcnn_paste_trunc (MRCNN_FADD (y_c, h_half));
  g->w = g->bx2 - g->bx1 + 1;
  g->h = g->by2 - g->by1 + 1;
  if (g->w < 1)
    g->w = 1;
  if (g->h < 1)
    g->h = 1;
  g->scale_x = mrcnn_interp_scale (M + 2, g->w);
  g->scale_y = mrcnn_interp_scale (M + 2, g->h);
  g->x0 = g->bx1 > 0 ? g->bx1 : 0;
  g->y0 = g->by1 > 0 ? g->by1 : 0;
  g->x1 = g->bx2 + 1 < im_w ? g->bx2 + 1 : im_w;
  g->y1 = g->by2 + 1 < im_h ? g->by2 + 1 : im_h;
  if (g->x1 < g->x0)            /* empty window: keep x1 - x0 == 0 */
    g->x1 = g->x0;
  if (g->y1 < g->y0)
    g->y1 = g->y0;
}

/* 1 when the window holds no pixel. */
MRCNN_HD int
mrcnn_paste_window_empty (const mrcnn_paste_geom *g)
{
  return g->x1 <= g->x0 || g->y1 <= g->y0;
}

/* Horizontal taps of frame column x (x0 <= x < x1), in padded-mask columns. */
MRCNN_HD void
mrcnn_paste_lerp_x (const mrcnn_paste_geom *g, int x, mrcnn_lerp *l)
{
  mrcnn_interp_linear (g->scale_x, x - g->bx1, g->M + 2, g->w, l);
}

/* Vertical taps of frame row y (y0 <= y < y1), in padded-mask rows. */
MRCNN_HD void
mrcnn_paste_lerp_y (const mrcnn_paste_geom *g, int y, mrcnn_lerp *l)
{
  mrcnn_interp_linear (g->scale_y, y - g->by1, g->M + 2, g->h, l);
}

/* Element (r, c) of the zero-padded (M + 2) x (M + 2) mask. */
MRCNN_HD float
mrcnn_paste_padded (const float *mask, int M, int r, int c)
{
  if (r < 1 || r > M || c < 1 || c > M)
    return 0.0f;
  return mask[(size_t) (r - 1) * (size_t) M + (size_t) (c - 1)];
}

/* Pasted probability from precomputed taps (see mrcnn_paste_lerp_*). */
MRCNN_HD float
mrcnn_paste_value_lerp (const float *mask, int M, const mrcnn_lerp *ly,
    const mrcnn_lerp *lx)
{
  return mrcnn_lerp2_1ch (ly, lx,
      mrcnn_paste_padded (mask, M, ly->i0, lx->i0),
      mrcnn_paste_padded (mask, M, ly->i0, lx->i1),
      mrcnn_paste_padded (mask, M, ly->i1, lx->i0),
      mrcnn_paste_padded (mask, M, ly->i1, lx->i1));
}

/* Probability at frame pixel (x, y); 0 outside the window. mask is the
 * M x M row-major mask of the detection. */
MRCNN_HD float
mrcnn_paste_value (const float *mask, int M, const mrcnn_paste_geom *g,
    int x, int y)
{
  mrcnn_lerp ly, lx;

  if (x < g->x0 || x >= g->x1 || y < g->y0 || y >= g->y1)
    return 0.0f;
  mrcnn_paste_lerp_y (g, y, &ly);
  mrcnn_paste_lerp_x (g, x, &lx);
  return mrcnn_paste_value_lerp (mask, M, &ly, &lx);
}

#endif /* MRCNN_KERNELS_MASK_PASTE_H */

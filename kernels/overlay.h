/* gst-maskrcnn kernels: the per-pixel math of maskrcnnoverlay, shared by the
 * CPU canvas (gst/maskrcnn-canvas.c, gst/gstmaskrcnnoverlay.c) and the CUDA
 * kernel (kernels/overlay.cu) that draws on frames in CUDA memory.
 *
 * What is drawn, per instance (lowest score first): its mask, a contour
 * `line_width` pixels wide inside the mask, the outline of its box (inside the
 * box), and last a caption, an ARGB32 premultiplied sprite rendered on the
 * CPU. Colours blend by an 8-bit coverage; on 4:2:0 YUV the chroma sample of a
 * 2x2 block takes the mean coverage of its luma pixels.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef MRCNN_KERNELS_OVERLAY_H
#define MRCNN_KERNELS_OVERLAY_H

#include "mrcnn_hd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- blending */

/* src over dst with coverage a (0..255), rounded. */
MRCNN_HD uint8_t
mrcnn_overlay_mix (unsigned src, unsigned dst, unsigned a)
{
  return (uint8_t) ((src * a + dst * (255u - a) + 127u) / 255u);
}

/* The destination's alpha after blending with coverage a. */
MRCNN_HD uint8_t
mrcnn_overlay_mix_alpha (unsigned dst_a, unsigned a)
{
  return (uint8_t) (a + (dst_a * (255u - a) + 127u) / 255u);
}

/* One chroma sample blended by the coverage of its luma pixels: sum_c is
 * the sum of a * c over them, sum_a the sum of a, total 255 x their count. */
MRCNN_HD uint8_t
mrcnn_overlay_chroma (unsigned sum_c, unsigned dst, unsigned sum_a,
    unsigned total)
{
  return (uint8_t) ((sum_c + dst * (total - sum_a) + total / 2u) / total);
}

MRCNN_HD uint8_t
mrcnn_overlay_clamp_u8 (double v)
{
  return v <= 0.0 ? 0 : v >= 255.0 ? 255 : (uint8_t) (v + 0.5);
}

/* R'G'B' to Y'CbCr with the frame's matrix (kr, kb) and range. */
MRCNN_HD void
mrcnn_overlay_rgb_to_yuv (double kr, double kb, int full_range,
    const uint8_t rgb[3], uint8_t yuv[3])
{
  double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
  double ey = kr * r + (1.0 - kr - kb) * g + kb * b;
  double pb = (b - ey) / (2.0 * (1.0 - kb));
  double pr = (r - ey) / (2.0 * (1.0 - kr));

  if (full_range) {
    yuv[0] = mrcnn_overlay_clamp_u8 (255.0 * ey);
    yuv[1] = mrcnn_overlay_clamp_u8 (128.0 + 255.0 * pb);
    yuv[2] = mrcnn_overlay_clamp_u8 (128.0 + 255.0 * pr);
  } else {
    yuv[0] = mrcnn_overlay_clamp_u8 (16.0 + 219.0 * ey);
    yuv[1] = mrcnn_overlay_clamp_u8 (128.0 + 224.0 * pb);
    yuv[2] = mrcnn_overlay_clamp_u8 (128.0 + 224.0 * pr);
  }
}

/* A native-endian premultiplied ARGB32 pixel (cairo's) as straight colour;
 * returns its alpha. */
MRCNN_HD uint8_t
mrcnn_overlay_unpremultiply (uint32_t p, uint8_t rgb[3])
{
  unsigned a = p >> 24, c[3], k;

  if (a == 0)
    return 0;
  c[0] = (((p >> 16) & 0xffu) * 255u + a / 2u) / a;
  c[1] = (((p >> 8) & 0xffu) * 255u + a / 2u) / a;
  c[2] = ((p & 0xffu) * 255u + a / 2u) / a;
  for (k = 0; k < 3; k++)
    rgb[k] = (uint8_t) (c[k] < 255u ? c[k] : 255u);
  return (uint8_t) a;
}

/* ---------------------------------------------------------------- colours */

/* A distinct, stable colour for a class id (any int), as RGB: the same in
 * maskrcnnoverlay (CPU and CUDA frames) and mrcnn-infer --overlay. */
MRCNN_HD void
mrcnn_overlay_class_color (int class_id, uint8_t rgb[3])
{
  /* Golden-ratio steps around the hue circle keep neighbouring ids far
   * apart; full saturation and value stay visible on most photos. */
  unsigned u = (unsigned) class_id;
  double hue = fmod (u * 0.618033988749895, 1.0) * 6.0;
  int sector = (int) hue;
  double f = hue - sector;
  uint8_t up = (uint8_t) lround (255.0 * f);
  uint8_t down = (uint8_t) lround (255.0 * (1.0 - f));

  switch (sector % 6) {
    case 0: rgb[0] = 255; rgb[1] = up; rgb[2] = 0; break;
    case 1: rgb[0] = down; rgb[1] = 255; rgb[2] = 0; break;
    case 2: rgb[0] = 0; rgb[1] = 255; rgb[2] = up; break;
    case 3: rgb[0] = 0; rgb[1] = down; rgb[2] = 255; break;
    case 4: rgb[0] = up; rgb[1] = 0; rgb[2] = 255; break;
    default: rgb[0] = 255; rgb[1] = 0; rgb[2] = down; break;
  }
}

/* ---------------------------------------------------------------- masks */

/* Chessboard distance from mask pixel (x, y) of a w x h box-relative mask
 * (>= 128 inside) to the nearest pixel outside the mask, where everything
 * beyond the box is outside; 0 for a pixel outside, at most `cap`. Equal to
 * the two-pass distance transform of the CPU overlay, clipped at cap. */
MRCNN_HD unsigned
mrcnn_overlay_outside_distance (const uint8_t * mask, int w, int h,
    int stride, int x, int y, unsigned cap)
{
  unsigned r;

  if (x < 0 || y < 0 || x >= w || y >= h || mask[(size_t) y * stride + x] < 128)
    return 0;
  /* Ring r holds the pixels at distance exactly r; the first ring with an
   * outside pixel gives the distance. */
  for (r = 1; r < cap; r++) {
    int i, ri = (int) r;
    for (i = -ri; i <= ri; i++) {
      int xs[4] = { x + i, x + i, x - ri, x + ri };
      int ys[4] = { y - ri, y + ri, y + i, y + i };
      int k;
      for (k = 0; k < 4; k++) {
        if (xs[k] < 0 || ys[k] < 0 || xs[k] >= w || ys[k] >= h ||
            mask[(size_t) ys[k] * stride + xs[k]] < 128)
          return r;
      }
    }
  }
  return cap;
}

/* The coverage drawn at a mask pixel: 0 outside the mask, 255 on the
 * contour (distance to outside <= line_width) when contours are drawn, else
 * `fill` when masks are drawn. */
MRCNN_HD uint8_t
mrcnn_overlay_mask_alpha (uint8_t mask, unsigned distance, unsigned line_width,
    int draw_masks, int draw_contours, uint8_t fill)
{
  if (mask < 128)
    return 0;
  if (draw_contours && distance <= line_width)
    return 255;
  return draw_masks ? fill : 0;
}

/* ---------------------------------------------------------------- boxes */

/* The outline's width in a w x h box: inside the box, so that it never
 * covers what lies beyond, and at most half of it. */
MRCNN_HD int
mrcnn_overlay_box_thickness (int w, int h, int line_width)
{
  int t = line_width, hw = (w + 1) / 2, hh = (h + 1) / 2;

  t = t < hw ? t : hw;
  return t < hh ? t : hh;
}

/* Whether box-relative pixel (i, j) of a w x h box lies on its outline of
 * thickness t (mrcnn_overlay_box_thickness ()). */
MRCNN_HD int
mrcnn_overlay_on_box_outline (int i, int j, int w, int h, int t)
{
  if (i < 0 || j < 0 || i >= w || j >= h)
    return 0;
  return i < t || j < t || i >= w - t || j >= h - t;
}

/* ---------------------------------------------------------------- CUDA */

/* A frame in device memory, as the canvas describes a mapped one: packed
 * RGB(A) with component offsets, or 4:2:0 YUV with per-component pointers. */
typedef struct {
  int width, height;
  int yuv;
  uint8_t *data;                   /* packed: plane 0 */
  int stride, pstride;
  int off_r, off_g, off_b, off_a;  /* off_a < 0: no alpha */
  uint8_t *comp[3];                /* YUV: first byte of Y, U, V */
  int comp_stride[3], comp_pstride[3];
  double kr, kb;
  int full_range;
} mrcnn_overlay_target;

typedef enum {
  MRCNN_OVERLAY_LAYER_MASK = 0,    /* mask fill and contour */
  MRCNN_OVERLAY_LAYER_BOX,         /* box outline */
  MRCNN_OVERLAY_LAYER_SPRITE       /* premultiplied ARGB32 caption */
} mrcnn_overlay_layer_kind;

/* One thing to draw over the frame rectangle (x, y, w, h). */
typedef struct {
  int kind;
  int x, y, w, h;
  const uint8_t *data;     /* device: mask (w x h) or sprite (ARGB32) */
  int stride;              /* bytes per row of data */
  uint8_t rgb[3];
  uint8_t fill;            /* mask: coverage of the fill */
  int line_width;          /* mask contour and box outline */
  int draw_masks, draw_contours;
} mrcnn_overlay_layer;

/* Draws one layer onto the frame on `stream` (a cudaStream_t), clipped to
 * it. Returns a cudaError_t (0: launched). Defined in kernels/overlay.cu,
 * only in builds with CUDA. */
int mrcnn_cuda_overlay_draw (const mrcnn_overlay_target * target,
    const mrcnn_overlay_layer * layer, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* MRCNN_KERNELS_OVERLAY_H */

/* gst-maskrcnn: alpha blending onto mapped video frames for maskrcnnoverlay.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-canvas.h"

#include <string.h>

/* The per-pixel math, shared with the CUDA kernel (kernels/overlay.cu). */
#include "overlay.h"

/* What is drawn: one colour weighted by an 8-bit coverage plane or by a box
 * outline (mrcnn_overlay_on_box_outline ()), or a premultiplied ARGB32
 * image. */
typedef enum {
  SOURCE_A8,
  SOURCE_BOX,
  SOURCE_ARGB32,
} SourceKind;

typedef struct {
  SourceKind kind;
  const guint8 *data;
  gint stride;
  guint8 rgb[3];
  gint w, h, t;                 /* SOURCE_BOX: box size, outline width */
  guint8 yuv[3];                /* rgb converted, for all but ARGB32 */
} Source;

static void
rgb_to_yuv (const GstMaskRcnnCanvas * c, const guint8 rgb[3], guint8 yuv[3])
{
  mrcnn_overlay_rgb_to_yuv (c->kr, c->kb, c->full_range, rgb, yuv);
}

/* Straight (not premultiplied) colour and coverage of source pixel (i, j). */
static inline guint8
source_pixel (const Source * s, gint i, gint j, guint8 rgb[3])
{
  switch (s->kind) {
    case SOURCE_A8:
      rgb[0] = s->rgb[0];
      rgb[1] = s->rgb[1];
      rgb[2] = s->rgb[2];
      return s->data[(gsize) j * s->stride + i];
    case SOURCE_BOX:
      rgb[0] = s->rgb[0];
      rgb[1] = s->rgb[1];
      rgb[2] = s->rgb[2];
      return mrcnn_overlay_on_box_outline (i, j, s->w, s->h, s->t) ? 255 : 0;
    case SOURCE_ARGB32:{
      guint32 p = ((const guint32 *) (s->data + (gsize) j * s->stride))[i];
      return mrcnn_overlay_unpremultiply (p, rgb);
    }
  }
  return 0;
}

static inline guint8
mix (guint src, guint dst, guint a)
{
  return mrcnn_overlay_mix (src, dst, a);
}

/* Where a row of a box outline is hollow, the next column worth visiting
 * after source column i (source rows j0..j1, columns i0..i1, all inside
 * one of them hollow): the right side; else i1 + 1. Only saves work: the
 * hollow has coverage 0. */
static inline gint
source_next (const Source * s, gint i0, gint i1, gint j0, gint j1)
{
  if (s->kind == SOURCE_BOX && j0 >= s->t && j1 < s->h - s->t &&
      i0 >= s->t && i1 < s->w - s->t)
    return s->w - s->t;
  return i1 + 1;
}

gboolean
gst_maskrcnn_canvas_init (GstMaskRcnnCanvas * c, GstVideoFrame * frame)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  GstVideoColorMatrix matrix = frame->info.colorimetry.matrix;
  guint i;

  memset (c, 0, sizeof (*c));
  c->width = GST_VIDEO_FRAME_WIDTH (frame);
  c->height = GST_VIDEO_FRAME_HEIGHT (frame);

  switch (GST_VIDEO_FRAME_FORMAT (frame)) {
    case GST_VIDEO_FORMAT_RGB:
    case GST_VIDEO_FORMAT_BGR:
    case GST_VIDEO_FORMAT_RGBA:
    case GST_VIDEO_FORMAT_BGRA:
    case GST_VIDEO_FORMAT_RGBx:
    case GST_VIDEO_FORMAT_BGRx:
      c->yuv = FALSE;
      c->data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
      c->stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
      c->pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, 0);
      c->off_r = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_R);
      c->off_g = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_G);
      c->off_b = GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_B);
      c->off_a = GST_VIDEO_FORMAT_INFO_HAS_ALPHA (finfo) ?
          (gint) GST_VIDEO_FORMAT_INFO_POFFSET (finfo, GST_VIDEO_COMP_A) : -1;
      return TRUE;
    case GST_VIDEO_FORMAT_NV12:
    case GST_VIDEO_FORMAT_I420:
      c->yuv = TRUE;
      for (i = 0; i < 3; i++) {
        c->comp[i] = GST_VIDEO_FRAME_COMP_DATA (frame, i);
        c->comp_stride[i] = GST_VIDEO_FRAME_COMP_STRIDE (frame, i);
        c->comp_pstride[i] = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, i);
      }
      /* Untagged YUV is taken as BT.601, as videoconvert does for SD. */
      if (matrix == GST_VIDEO_COLOR_MATRIX_UNKNOWN ||
          matrix == GST_VIDEO_COLOR_MATRIX_RGB ||
          !gst_video_color_matrix_get_Kr_Kb (matrix, &c->kr, &c->kb)) {
        c->kr = 0.299;
        c->kb = 0.114;
      }
      c->full_range =
          frame->info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
      return TRUE;
    default:
      return FALSE;
  }
}

static void
blend_rgb (GstMaskRcnnCanvas * c, gint x, gint y, gint x0, gint y0, gint x1,
    gint y1, const Source * s)
{
  gint i, j;

  for (j = y0; j < y1; j++) {
    guint8 *row = c->data + (gsize) j * c->stride;

    for (i = x0; i < x1; i = x + source_next (s, i - x, i - x, j - y, j - y)) {
      guint8 rgb[3], *p;
      guint a = source_pixel (s, i - x, j - y, rgb);

      if (a == 0)
        continue;
      p = row + (gsize) i * c->pstride;
      p[c->off_r] = mix (rgb[0], p[c->off_r], a);
      p[c->off_g] = mix (rgb[1], p[c->off_g], a);
      p[c->off_b] = mix (rgb[2], p[c->off_b], a);
      if (c->off_a >= 0)
        p[c->off_a] = mrcnn_overlay_mix_alpha (p[c->off_a], a);
    }
  }
}

static inline void
source_yuv (const GstMaskRcnnCanvas * c, const Source * s, gint i, gint j,
    guint * a, guint8 yuv[3])
{
  guint8 rgb[3];

  *a = source_pixel (s, i, j, rgb);
  if (*a == 0)
    return;
  if (s->kind == SOURCE_ARGB32) {
    rgb_to_yuv (c, rgb, yuv);
  } else {
    yuv[0] = s->yuv[0];
    yuv[1] = s->yuv[1];
    yuv[2] = s->yuv[2];
  }
}

static void
blend_yuv420 (GstMaskRcnnCanvas * c, gint x, gint y, gint x0, gint y0,
    gint x1, gint y1, const Source * s)
{
  gint i, j, cx, cy;

  for (j = y0; j < y1; j++) {
    guint8 *row = c->comp[0] + (gsize) j * c->comp_stride[0];

    for (i = x0; i < x1; i = x + source_next (s, i - x, i - x, j - y, j - y)) {
      guint8 yuv[3];
      guint a;
      guint8 *p;

      source_yuv (c, s, i - x, j - y, &a, yuv);
      if (a == 0)
        continue;
      p = row + (gsize) i * c->comp_pstride[0];
      *p = mix (yuv[0], *p, a);
    }
  }

  /* Each chroma sample takes the mean coverage of the (up to) four luma
   * pixels it stands for, so thin lines and edges are not over-blended. */
  for (cy = y0 / 2; cy <= (y1 - 1) / 2; cy++) {
    guint8 *urow = c->comp[1] + (gsize) cy * c->comp_stride[1];
    guint8 *vrow = c->comp[2] + (gsize) cy * c->comp_stride[2];

    for (cx = x0 / 2; cx <= (x1 - 1) / 2;
        cx = (x + source_next (s, 2 * cx - x, 2 * cx + 1 - x, 2 * cy - y,
                2 * cy + 1 - y)) / 2) {
      guint n = 0, sum_a = 0, sum_u = 0, sum_v = 0, total;
      guint8 *pu, *pv;
      gint dx, dy;

      for (dy = 0; dy < 2; dy++) {
        for (dx = 0; dx < 2; dx++) {
          gint li = 2 * cx + dx, lj = 2 * cy + dy;
          guint8 yuv[3];
          guint a;

          if (li >= c->width || lj >= c->height)
            continue;
          n++;
          if (li < x0 || li >= x1 || lj < y0 || lj >= y1)
            continue;
          source_yuv (c, s, li - x, lj - y, &a, yuv);
          if (a == 0)
            continue;
          sum_a += a;
          sum_u += a * yuv[1];
          sum_v += a * yuv[2];
        }
      }
      if (sum_a == 0)
        continue;
      total = 255 * n;
      pu = urow + (gsize) cx * c->comp_pstride[1];
      pv = vrow + (gsize) cx * c->comp_pstride[2];
      *pu = mrcnn_overlay_chroma (sum_u, *pu, sum_a, total);
      *pv = mrcnn_overlay_chroma (sum_v, *pv, sum_a, total);
    }
  }
}

static void
blend (GstMaskRcnnCanvas * c, gint x, gint y, gint w, gint h, Source * s)
{
  gint x0 = MAX (x, 0), y0 = MAX (y, 0);
  gint x1 = (gint) MIN ((gint64) x + w, c->width);
  gint y1 = (gint) MIN ((gint64) y + h, c->height);

  if (w <= 0 || h <= 0 || x0 >= x1 || y0 >= y1)
    return;
  if (c->yuv) {
    if (s->kind != SOURCE_ARGB32)
      rgb_to_yuv (c, s->rgb, s->yuv);
    blend_yuv420 (c, x, y, x0, y0, x1, y1, s);
  } else {
    blend_rgb (c, x, y, x0, y0, x1, y1, s);
  }
}

void
gst_maskrcnn_canvas_blend_a8 (GstMaskRcnnCanvas * c, gint x, gint y,
    gint w, gint h, const guint8 * alpha, gint stride, const guint8 rgb[3])
{
  Source s = { .kind = SOURCE_A8, .data = alpha, .stride = stride,
    .rgb = {rgb[0], rgb[1], rgb[2]} };

  blend (c, x, y, w, h, &s);
}

void
gst_maskrcnn_canvas_box_outline (GstMaskRcnnCanvas * c, gint x, gint y,
    gint w, gint h, gint line_width, const guint8 rgb[3])
{
  Source s = { .kind = SOURCE_BOX, .rgb = {rgb[0], rgb[1], rgb[2]},
    .w = w, .h = h, .t = mrcnn_overlay_box_thickness (w, h, line_width) };

  blend (c, x, y, w, h, &s);
}

void
gst_maskrcnn_canvas_blend_argb32 (GstMaskRcnnCanvas * c, gint x, gint y,
    gint w, gint h, const guint8 * argb, gint stride)
{
  Source s = { .kind = SOURCE_ARGB32, .data = argb, .stride = stride };

  blend (c, x, y, w, h, &s);
}

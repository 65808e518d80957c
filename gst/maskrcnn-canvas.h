/* gst-maskrcnn: alpha blending onto mapped video frames for maskrcnnoverlay.
 *
 * One set of drawing primitives for every format the overlay accepts:
 * packed RGB (3 or 4 bytes per pixel, any component order, alpha kept
 * consistent where the format has it) and 4:2:0 YUV (NV12, I420), where
 * colours are converted with the frame's own matrix and range and the
 * chroma of a 2x2 block is blended by the coverage of its four pixels.
 * Regions are clipped to the frame.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_CANVAS_H__
#define __GST_MASK_RCNN_CANVAS_H__

#include <gst/video/video.h>

G_BEGIN_DECLS

typedef struct {
  gint width, height;
  gboolean yuv;

  /* Packed RGB: plane 0, byte offsets of each component in a pixel. */
  guint8 *data;
  gint stride, pstride;
  gint off_r, off_g, off_b, off_a;      /* off_a < 0: no alpha */

  /* 4:2:0 YUV: the first byte of each component and its strides. */
  guint8 *comp[3];
  gint comp_stride[3], comp_pstride[3];

  /* R'G'B' to Y'CbCr. */
  gdouble kr, kb;
  gboolean full_range;
} GstMaskRcnnCanvas;

/* Prepares drawing onto a frame mapped for writing. Returns FALSE for a
 * format the canvas cannot draw on. The canvas borrows the frame. */
gboolean gst_maskrcnn_canvas_init (GstMaskRcnnCanvas * canvas,
    GstVideoFrame * frame);

/* Blends `rgb` over the w x h region at (x, y), weighted per pixel by the
 * 8-bit coverage `alpha` (w x h bytes, `stride` per row; not kept). */
void gst_maskrcnn_canvas_blend_a8 (GstMaskRcnnCanvas * canvas, gint x,
    gint y, gint w, gint h, const guint8 * alpha, gint stride,
    const guint8 rgb[3]);

/* Blends `rgb` over the outline of the w x h box at (x, y), `line_width`
 * pixels wide inside the box (mrcnn_overlay_box_thickness ()), in one pass:
 * on 4:2:0 YUV a chroma sample where two sides meet is blended once, by the
 * mean coverage of its four luma pixels, as on the GPU. */
void gst_maskrcnn_canvas_box_outline (GstMaskRcnnCanvas * canvas, gint x,
    gint y, gint w, gint h, gint line_width, const guint8 rgb[3]);

/* Composites a cairo CAIRO_FORMAT_ARGB32 image (premultiplied, native
 * endian 32-bit pixels, `stride` bytes per row; not kept) at (x, y). */
void gst_maskrcnn_canvas_blend_argb32 (GstMaskRcnnCanvas * canvas, gint x,
    gint y, gint w, gint h, const guint8 * argb, gint stride);

G_END_DECLS

#endif /* __GST_MASK_RCNN_CANVAS_H__ */

/* gst-maskrcnn: what maskrcnnoverlay draws besides the instances: the
 * lines, zones and counters of maskrcnncount's counts meta, and each
 * track's trail. Rendered with cairo into one premultiplied ARGB32 image
 * that the overlay blends like a caption (on the CPU canvas, or as a
 * sprite on frames in CUDA memory).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_ANNOTATIONS_H__
#define __GST_MASK_RCNN_ANNOTATIONS_H__

#include <cairo.h>
#include <gst/gst.h>
#include <pango/pangocairo.h>

G_BEGIN_DECLS

/* The recent anchor points of one track, oldest first. */
typedef struct
{
  guint n;
  const gdouble *xy;            /* x0, y0, x1, y1, ... */
  guint8 rgb[3];
} GstMaskRcnnTrail;

/* Renders the counts (NULL: none) and the trails onto a new width x height
 * surface, text through `layout` (its font set by the caller; NULL: no
 * text). Returns NULL when there is nothing to draw or cairo fails; else
 * the caller destroys the surface. */
cairo_surface_t *gst_maskrcnn_annotations_render (const GstStructure *
    counts, const GstMaskRcnnTrail * trails, guint n_trails, gint width,
    gint height, PangoLayout * layout);

G_END_DECLS

#endif /* __GST_MASK_RCNN_ANNOTATIONS_H__ */

/* gst-maskrcnn: what maskrcnncount shares with maskrcnnoverlay and
 * maskrcnnpublish: the counts meta it attaches to each frame, and the
 * parsing of its lines and zones.
 *
 * The counts travel as a GstCustomMeta named "GstMaskRcnnCountsMeta"
 * (readable with gst_buffer_get_custom_meta()) whose structure, named
 * "counts", holds (see docs/elements.md):
 *
 *   lines: array of "line" { name, x1, y1, x2, y2 (frame pixels, doubles),
 *          to-left, to-right: array of "class" { label, class-id, count } }
 *   zones: array of "zone" { name, points: array of doubles (x, y, ...),
 *          occupancy: array of "class" { label, class-id, count },
 *          tracks: array of "track" { track-id, label, class-id, dwell } }
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_COUNTS_H__
#define __GST_MASK_RCNN_COUNTS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_MASK_RCNN_COUNTS_META_NAME "GstMaskRcnnCountsMeta"

/* Registers the custom meta (once; any thread). */
void gst_maskrcnn_counts_meta_register (void);

/* Attaches `counts` (taken) to a writable buffer, replacing counts it
 * carried. */
void gst_maskrcnn_buffer_set_counts (GstBuffer * buffer,
    GstStructure * counts);

/* The buffer's counts, or NULL (owned by the buffer). */
const GstStructure *gst_maskrcnn_buffer_get_counts (GstBuffer * buffer);

/* A named polyline from maskrcnncount's lines or zones property. */
typedef struct
{
  gchar *name;
  guint n_points;
  gdouble *xy;                  /* x0, y0, x1, y1, ... */
} GstMaskRcnnShape;

void gst_maskrcnn_shapes_free (GArray * shapes);

/* Parses "name:x1,y1,x2,y2[,...];name2:..." (numbers separated by commas or
 * spaces). `kind` "line": exactly two distinct points; "zone": a simple
 * polygon of at least three. `normalized`: coordinates in 0..1. Returns a
 * new GArray of GstMaskRcnnShape (free with gst_maskrcnn_shapes_free()),
 * empty for NULL or an empty string, or NULL with *why (a new string that
 * says what is wrong, for the user). */
GArray *gst_maskrcnn_shapes_parse (const gchar * text, const gchar * kind,
    gboolean normalized, gchar ** why);

G_END_DECLS

#endif /* __GST_MASK_RCNN_COUNTS_H__ */

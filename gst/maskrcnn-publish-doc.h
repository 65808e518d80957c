/* gst-maskrcnn: the JSON document maskrcnnpublish sends for one frame.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASKRCNN_PUBLISH_DOC_H__
#define __GST_MASKRCNN_PUBLISH_DOC_H__

#include <gst/gst.h>
#include <gst/maskrcnn-meta.h>

G_BEGIN_DECLS

/* What the streaming thread copies out of a buffer, so that the worker
 * builds the document without holding the buffer (which may belong to an
 * upstream pool). */
typedef struct {
  GstClockTime pts;
  guint64 frame;
  gint width, height;
  GList *instances;             /* GstMaskRcnnInstance copies, owned */
  GstStructure *counts;         /* maskrcnncount's counts, or NULL */
} GstMaskRcnnPublishFrame;

/* A new frame record with the buffer's instances and counts. Free with
 * gst_maskrcnn_publish_frame_free(). */
GstMaskRcnnPublishFrame *gst_maskrcnn_publish_frame_new (GstBuffer * buffer,
    guint64 frame, gint width, gint height);

void gst_maskrcnn_publish_frame_free (GstMaskRcnnPublishFrame * frame);

/* The frame's JSON document, one line (no newline):
 *
 *   {"source_id": ..., "frame": n, "pts": ns or null, "width": w,
 *    "height": h, "detections": [{"label", "class_id", "score",
 *    "box": [x1, y1, x2, y2], "stale", "age", "track_id",
 *    "mask": {"size": [h, w], "counts": "<COCO compressed RLE>"}}],
 *    "counts": {...}}
 *
 * The detection fields are those of `mrcnn-infer --json`, plus the track
 * id (maskrcnntrack's; 0 when untracked); the mask is the full-frame mask,
 * as there. With include_masks FALSE, "mask" is left out. "counts" is
 * there on frames that maskrcnncount went through: its counts meta as JSON
 * (field names with '_' for '-', arrays for arrays, objects for
 * structures; see docs/elements.md).
 * Returns a new string (g_free), or NULL when memory runs out while
 * encoding a mask. */
gchar *gst_maskrcnn_publish_frame_to_json (const GstMaskRcnnPublishFrame *
    frame, const gchar * source_id, gboolean include_masks);

G_END_DECLS

#endif /* __GST_MASKRCNN_PUBLISH_DOC_H__ */

/* gst-maskrcnn: where maskrcnnoverlay puts each instance's caption, so that
 * no two captions cover each other. Pure geometry, shared by the CPU and
 * CUDA drawing paths.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASKRCNN_CAPTIONS_H__
#define __GST_MASKRCNN_CAPTIONS_H__

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint x, y, w, h;
} GstMaskRcnnRect;

/* Places a tw x th caption for `box` in a frame_w x frame_h frame, clear of
 * the `n_placed` captions placed before it (give them best instance first:
 * the better ones get the natural places). Tried in order: just above the
 * box, inside its top edge, just below it, inside its bottom edge; then the
 * first of those slid down, else up, past the captions in its way. Always
 * inside the frame where the caption fits in it, with its left edge at the
 * box's where it can. Where the frame is too crowded for any clear place,
 * the caption goes above the box (inside its top edge at the frame's top),
 * over others. Writes the result to *out. */
void gst_maskrcnn_caption_place (const GstMaskRcnnRect * box, gint tw,
    gint th, gint frame_w, gint frame_h, const GstMaskRcnnRect * placed,
    guint n_placed, GstMaskRcnnRect * out);

/* Sorts `order` (n indexes into `scores`) by descending score, ties by
 * index, for gst_maskrcnn_caption_place(). */
void gst_maskrcnn_caption_order (const gdouble * scores, guint n,
    guint * order);

G_END_DECLS

#endif /* __GST_MASKRCNN_CAPTIONS_H__ */

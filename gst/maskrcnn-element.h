/* gst-maskrcnn: what both elements share as GstBaseTransform subclasses:
 * their pad templates and their allocation proposal.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_ELEMENT_H__
#define __GST_MASK_RCNN_ELEMENT_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

/* Adds the "sink" and "src" pad templates, both GST_MASK_RCNN_CAPS (the
 * elements work in place, so the caps are the same on both sides). */
void gst_maskrcnn_element_class_add_pad_templates (GstElementClass * klass);

/* propose_allocation() of an element that derives directly from
 * GstBaseTransform: GstBaseTransform's proposal, plus GstVideoMeta, since
 * frames are read through GstVideoFrame (any strides and offsets). */
gboolean gst_maskrcnn_element_propose_allocation (GstBaseTransform * trans,
    GstQuery * decide_query, GstQuery * query);

G_END_DECLS

#endif /* __GST_MASK_RCNN_ELEMENT_H__ */

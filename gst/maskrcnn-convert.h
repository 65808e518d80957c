/* gst-maskrcnn: conversions between GStreamer and engine types for the
 * maskrcnn element: a video frame as an mrcnn_image, an engine result as
 * instances ready to attach, instances as the element message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_CONVERT_H__
#define __GST_MASK_RCNN_CONVERT_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "maskrcnn-meta.h"
#include "mrcnn/mrcnn.h"

G_BEGIN_DECLS

/* Describes a mapped frame to the engine (a view: the frame must stay
 * mapped while the image is used). `on_device`: the frame was mapped with
 * GST_MAP_CUDA and its plane pointers are CUDA device pointers, which the
 * engine reads in place. FALSE for a format the engine does not read. */
gboolean gst_maskrcnn_image_from_frame (const GstVideoFrame * frame,
    gboolean on_device, mrcnn_image * image);

/* A new array of GstMaskRcnnInstanceInit, for the functions below. Free
 * with g_array_unref(); its masks are released with it. */
GArray *gst_maskrcnn_instances_new (void);

/* Replaces the contents of `instances` with the detections of `result` on
 * a frame_w x frame_h frame: each box as the smallest pixel window holding
 * the engine's float box (clipped, at least 1x1) and each mask pasted by
 * the engine over that window at `mask_threshold` (a new GRAY8 buffer).
 * Labels point into the model, which must outlive the array's use. On
 * failure `instances` is left empty and err says why. */
gboolean gst_maskrcnn_instances_from_result (GArray * instances,
    const mrcnn_result * result, gint frame_w, gint frame_h,
    gfloat mask_threshold, mrcnn_error * err);

/* The "maskrcnn" element message's structure for these instances (see
 * docs/elements.md). Caller owns it. */
GstStructure *gst_maskrcnn_instances_to_structure (const GArray * instances,
    GstClockTime pts, GstClockTime stream_time, GstClockTime running_time,
    GstClockTime duration, guint age);

G_END_DECLS

#endif /* __GST_MASK_RCNN_CONVERT_H__ */

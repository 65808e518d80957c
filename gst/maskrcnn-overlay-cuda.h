/* gst-maskrcnn: maskrcnnoverlay's drawing on frames in CUDA memory: the
 * device state (stream, mask staging, caption sprite cache) and the calls
 * into kernels/overlay.cu. Only in builds with CUDA.
 *
 * Per frame: every instance's mask (read on the CPU from its GRAY8 buffer,
 * resampled to its box) is gathered into one pinned host buffer and copied
 * once; then one launch per layer (mask, box, caption) in the CPU canvas's
 * order; then one stream synchronisation before the frame is unmapped.
 * Captions are rendered on the CPU (Pango/Cairo) once per distinct text,
 * colour and size, uploaded once and kept on the device.
 *
 * Everything runs in the device's primary context (maskrcnn-cuda.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_OVERLAY_CUDA_H__
#define __GST_MASK_RCNN_OVERLAY_CUDA_H__

#include <gst/video/video.h>

#include "overlay.h"

G_BEGIN_DECLS

typedef struct _GstMaskRcnnOverlayCuda GstMaskRcnnOverlayCuda;

/* A stream on CUDA device `device`. NULL with *why (new string) on
 * failure. Free with gst_maskrcnn_overlay_cuda_free(). */
GstMaskRcnnOverlayCuda *gst_maskrcnn_overlay_cuda_new (gint device,
    gchar ** why);
void gst_maskrcnn_overlay_cuda_free (GstMaskRcnnOverlayCuda * oc);

/* Describes a frame mapped with GST_MAP_CUDA (plane pointers are device
 * pointers) to the kernel. FALSE for a format it cannot draw on. */
gboolean gst_maskrcnn_overlay_cuda_target (const GstVideoFrame * frame,
    mrcnn_overlay_target * target);

/* Host staging of `size` bytes for this frame's masks (previous contents
 * are lost). NULL with *why on failure. */
guint8 *gst_maskrcnn_overlay_cuda_stage (GstMaskRcnnOverlayCuda * oc,
    gsize size, gchar ** why);

/* Copies the staged bytes to the device; returns the device address of
 * the staging's first byte (valid until the next stage call). */
const guint8 *gst_maskrcnn_overlay_cuda_upload (GstMaskRcnnOverlayCuda *
    oc, gsize size, gchar ** why);

/* The device copy of a caption sprite by key, or NULL when not cached. */
const guint8 *gst_maskrcnn_overlay_cuda_sprite (GstMaskRcnnOverlayCuda * oc,
    const gchar * key, gint * w, gint * h, gint * stride);

/* Uploads an ARGB32 sprite (w x h, stride bytes per row) under `key` and
 * returns its device copy. NULL with *why on failure. */
const guint8 *gst_maskrcnn_overlay_cuda_add_sprite (GstMaskRcnnOverlayCuda *
    oc, const gchar * key, const guint8 * argb, gint w, gint h, gint stride,
    gchar ** why);

/* Queues one layer; FALSE with *why when the launch failed. */
gboolean gst_maskrcnn_overlay_cuda_draw (GstMaskRcnnOverlayCuda * oc,
    const mrcnn_overlay_target * target, const mrcnn_overlay_layer * layer,
    gchar ** why);

/* Waits for everything queued; FALSE with *why on a CUDA error. */
gboolean gst_maskrcnn_overlay_cuda_finish (GstMaskRcnnOverlayCuda * oc,
    gchar ** why);

G_END_DECLS

#endif /* __GST_MASK_RCNN_OVERLAY_CUDA_H__ */

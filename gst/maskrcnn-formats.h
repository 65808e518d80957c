/* gst-maskrcnn: the raw video formats both elements accept.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_FORMATS_H__
#define __GST_MASK_RCNN_FORMATS_H__

#include <gst/video/video.h>

/* The formats the engine reads directly (no conversion element needed) and
 * the overlay draws on. Both elements work in place, so sink and source caps
 * are the same. A structure with the CUDAMemory feature will join these when
 * the CUDA path lands. */
#define GST_MASK_RCNN_VIDEO_FORMATS \
  "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, NV12, I420 }"

#define GST_MASK_RCNN_SYSTEM_MEMORY_CAPS \
  GST_VIDEO_CAPS_MAKE (GST_MASK_RCNN_VIDEO_FORMATS)

#endif /* __GST_MASK_RCNN_FORMATS_H__ */

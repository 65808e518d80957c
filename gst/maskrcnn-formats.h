/* gst-maskrcnn: the raw video formats both elements accept.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_FORMATS_H__
#define __GST_MASK_RCNN_FORMATS_H__

#include <gst/video/video.h>

/* The formats the engine reads directly (no conversion element needed) and
 * the overlay draws on. Both elements work in place, so sink and source caps
 * are the same. Where the plugin is built with CUDA, frames in CUDA memory
 * (gstreamer-cuda's memory:CUDAMemory) are accepted too, in the formats the
 * engine's preprocessing kernel reads from a device pointer; that structure
 * comes first, so that a CUDA neighbour keeps its frames on the device. */
#define GST_MASK_RCNN_VIDEO_FORMATS \
  "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, NV12, I420 }"

#define GST_MASK_RCNN_SYSTEM_MEMORY_CAPS \
  GST_VIDEO_CAPS_MAKE (GST_MASK_RCNN_VIDEO_FORMATS)

#define GST_MASK_RCNN_CUDA_FORMATS "{ RGBA, BGRA, BGRx, RGBx, NV12, I420 }"

#define GST_MASK_RCNN_CUDA_MEMORY_CAPS \
  GST_VIDEO_CAPS_MAKE_WITH_FEATURES ("memory:CUDAMemory", \
      GST_MASK_RCNN_CUDA_FORMATS)

#ifdef GST_MASK_RCNN_HAVE_CUDA
#define GST_MASK_RCNN_CAPS \
  GST_MASK_RCNN_CUDA_MEMORY_CAPS "; " GST_MASK_RCNN_SYSTEM_MEMORY_CAPS
#else
#define GST_MASK_RCNN_CAPS GST_MASK_RCNN_SYSTEM_MEMORY_CAPS
#endif

#endif /* __GST_MASK_RCNN_FORMATS_H__ */

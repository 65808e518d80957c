/* gst-maskrcnn: CUDA context sharing and CUDA-memory frames: the helpers
 * behind GstMaskRcnnBaseTransform (gstmaskrcnnbasetransform.h), which wires
 * them into both elements, and the checks the elements make on frames. Only
 * built where the plugin has CUDA (GST_MASK_RCNN_HAVE_CUDA).
 *
 * Contexts. The engine's CUDA backend uses the CUDA runtime API: it calls
 * cudaSetDevice() before its work, which makes the device's *primary*
 * context current, and creates its stream, cuDNN/cuBLAS handles and every
 * buffer there. A kernel can only dereference device memory of the context
 * it runs in, so frames must live in that same primary context. GStreamer
 * 1.22's gst_cuda_ensure_element_context() would make a context of its own
 * (cuCtxCreate) where no neighbour has one; these elements wrap the primary
 * context instead (gst_cuda_context_new_wrapped()) and share it exactly as
 * the nvcodec elements share theirs (context query, need-context and
 * have-context messages, set_context()). They do so from NULL to READY, so
 * that nvcodec neighbours, which look for a context when they start (READY
 * to PAUSED), find and adopt ours. A frame whose memory belongs to another
 * context is refused with an error that says so, never read.
 *
 * No driver. gstreamer-cuda opens libcuda at run time: every CUDA call here
 * is behind gst_maskrcnn_cuda_load(), so the plugin loads and its CPU path
 * works where no NVIDIA driver is installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_CUDA_H__
#define __GST_MASK_RCNN_CUDA_H__

#ifndef GST_USE_UNSTABLE_API
#define GST_USE_UNSTABLE_API
#endif

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/cuda/gstcudacontext.h>
#include <gst/cuda/gstcudamemory.h>
#include <gst/cuda/gstcudautils.h>

G_BEGIN_DECLS

/* Whether libcuda could be opened (once per process). FALSE where no driver
 * is installed; then *why (static) says so. Nothing else here may be called
 * before this returned TRUE. */
gboolean gst_maskrcnn_cuda_load (const gchar ** why);

/* TRUE when caps carry the memory:CUDAMemory feature. */
gboolean gst_maskrcnn_caps_are_cuda (const GstCaps * caps);

/* Finds the CUDA context to share: one a neighbour already holds (context
 * query, downstream then upstream), else one the application or a bin
 * gives on need-context, else a new wrapper of the primary context of
 * device `device_id` (-1: the runtime's current device, normally 0), posted
 * with have-context so that neighbours adopt it. *ctx is set through the
 * element's set_context(), which must call
 * gst_maskrcnn_cuda_handle_set_context(). No-op when *ctx is set. FALSE
 * with *why (a new string, caller frees) when no context could be had. */
gboolean gst_maskrcnn_cuda_ensure_context (GstElement * element,
    gint device_id, GstCudaContext ** ctx, gchar ** why);

/* set_context() helper: adopts a "gst.cuda.context" GstContext on the same
 * device (any device when device_id is -1). */
void gst_maskrcnn_cuda_handle_set_context (GstElement * element,
    GstContext * context, gint device_id, GstCudaContext ** ctx);

/* The device ordinal of a context. */
gint gst_maskrcnn_cuda_context_device (GstCudaContext * ctx);

/* Checks that `buf` can be read in place by a kernel of the engine: every
 * memory is CUDA memory of a context that is the primary context of the
 * device `device` (the engine's). FALSE with *why (a new string) else. */
gboolean gst_maskrcnn_cuda_check_buffer (GstBuffer * buf, gint device,
    gchar ** why);

G_END_DECLS

#endif /* __GST_MASK_RCNN_CUDA_H__ */

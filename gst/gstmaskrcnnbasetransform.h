/* gst-maskrcnn: GstMaskRcnnBaseTransform, the abstract base of maskrcnn and
 * maskrcnnoverlay (in the manner of gst-plugins-bad's GstCudaBaseTransform).
 *
 * Both elements work in place on the same raw video caps and share how they
 * meet CUDA neighbours: the base class holds the CUDA context they share
 * (see maskrcnn-cuda.h for why it is the device's primary context), answers
 * context queries with it, adopts one given through set_context(), looks
 * for one from NULL to READY and drops it from READY to NULL, orders caps
 * query answers with CUDA memory first, and records whether the negotiated
 * caps are in CUDA memory. It also proposes GstVideoMeta in allocation
 * queries, since both read frames through GstVideoFrame.
 *
 * The class exists in every build. Where the plugin is built without CUDA
 * (GST_MASK_RCNN_HAVE_CUDA undefined) it does nothing CUDA: no context is
 * ever held, caps are never in CUDA memory, and every vfunc only chains up.
 *
 * Subclasses chain up in the vfuncs they override (set_caps, query,
 * set_context, change_state, propose_allocation) through their
 * parent_class, as GObject subclasses do.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_BASE_TRANSFORM_H__
#define __GST_MASK_RCNN_BASE_TRANSFORM_H__

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

#ifdef GST_MASK_RCNN_HAVE_CUDA
#ifndef GST_USE_UNSTABLE_API
#define GST_USE_UNSTABLE_API
#endif
#include <gst/cuda/gstcudacontext.h>
#endif

G_BEGIN_DECLS

#define GST_TYPE_MASK_RCNN_BASE_TRANSFORM \
  (gst_maskrcnn_base_transform_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstMaskRcnnBaseTransform,
    gst_maskrcnn_base_transform, GST, MASK_RCNN_BASE_TRANSFORM,
    GstBaseTransform);

/**
 * GstMaskRcnnBaseTransformClass:
 * @parent_class: the parent class
 * @cuda_settings: the CUDA device to share a context on (-1: any, a
 *   neighbour's) and whether the element takes frames in CUDA memory at all
 *   (maskrcnn backend=cpu does not: its caps queries then leave CUDA memory
 *   out and it looks for no context). Called without the object lock held,
 *   from any thread. The default: any device, frames in CUDA memory taken.
 */
struct _GstMaskRcnnBaseTransformClass
{
  GstBaseTransformClass parent_class;

  void (*cuda_settings) (GstMaskRcnnBaseTransform * self, gint * device_id,
      gboolean * wants_cuda);
};

/* Whether the caps last set (set_caps()) carry memory:CUDAMemory. Always
 * FALSE in a build without CUDA. Valid in the streaming thread, after the
 * subclass's set_caps() chained up. */
gboolean gst_maskrcnn_base_transform_cuda_frames (GstMaskRcnnBaseTransform *
    self);

/* Adds the "sink" and "src" pad templates, both GST_MASK_RCNN_CAPS (the
 * elements work in place, so the caps are the same on both sides). For a
 * subclass's class_init. */
void gst_maskrcnn_base_transform_class_add_pad_templates (GstElementClass *
    klass);

#ifdef GST_MASK_RCNN_HAVE_CUDA
/* The CUDA context shared with the neighbours, or NULL where none was found
 * (no driver, no device, or a subclass that wants no CUDA frames). Borrowed:
 * held from NULL to READY (or the first ensure) until back to NULL; read it
 * from the element's own state changes and streaming thread. */
GstCudaContext *gst_maskrcnn_base_transform_get_cuda_context
    (GstMaskRcnnBaseTransform * self);

/* Finds the context to share (a neighbour's, else one an application or bin
 * gives on need-context, else a new wrapper of the primary context of the
 * device cuda_settings() names, posted with have-context) unless one is
 * held already. FALSE with *why (a new string, the caller frees) when none
 * could be had, e.g. no driver. */
gboolean gst_maskrcnn_base_transform_ensure_cuda_context
    (GstMaskRcnnBaseTransform * self, gchar ** why);

/* As gst_maskrcnn_base_transform_ensure_cuda_context(), where not finding a
 * context is no error yet (the caps decide later whether one was needed):
 * does nothing when the subclass wants no CUDA frames, and only logs why
 * no context was found. This runs from NULL to READY; call it again where
 * the settings may have changed since (maskrcnn's start()). */
void gst_maskrcnn_base_transform_look_for_cuda_context
    (GstMaskRcnnBaseTransform * self);
#endif

G_END_DECLS

#endif /* __GST_MASK_RCNN_BASE_TRANSFORM_H__ */

/* gst-maskrcnn: GstMaskRcnnBaseTransform (see the header).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * GstMaskRcnnBaseTransform:
 *
 * The abstract base of `maskrcnn` and `maskrcnnoverlay`: in-place video
 * transforms that share a CUDA context with their neighbours where the
 * plugin is built with CUDA.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnnbasetransform.h"

#include <gst/video/video.h>

#include "maskrcnn-formats.h"
#ifdef GST_MASK_RCNN_HAVE_CUDA
#include "maskrcnn-cuda.h"
#endif

GST_DEBUG_CATEGORY_STATIC (gst_maskrcnn_base_transform_debug);
#define GST_CAT_DEFAULT gst_maskrcnn_base_transform_debug

typedef struct
{
  /* The negotiated caps carry memory:CUDAMemory (set_caps()). */
  gboolean cuda_frames;
#ifdef GST_MASK_RCNN_HAVE_CUDA
  /* Shared with the neighbours, from NULL to READY until back to NULL. */
  GstCudaContext *cuda_ctx;
#endif
} GstMaskRcnnBaseTransformPrivate;

#define gst_maskrcnn_base_transform_parent_class parent_class
G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (GstMaskRcnnBaseTransform,
    gst_maskrcnn_base_transform, GST_TYPE_BASE_TRANSFORM);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_MASK_RCNN_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_MASK_RCNN_CAPS));

void
gst_maskrcnn_base_transform_class_add_pad_templates (GstElementClass * klass)
{
  gst_element_class_add_static_pad_template (klass, &sink_template);
  gst_element_class_add_static_pad_template (klass, &src_template);
}

gboolean
gst_maskrcnn_base_transform_cuda_frames (GstMaskRcnnBaseTransform * self)
{
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private (self);

  return priv->cuda_frames;
}

/* ------------------------------------------------------------ CUDA context */

#ifdef GST_MASK_RCNN_HAVE_CUDA
static void
cuda_settings (GstMaskRcnnBaseTransform * self, gint * device_id,
    gboolean * wants_cuda)
{
  *device_id = -1;
  *wants_cuda = TRUE;
  GST_MASK_RCNN_BASE_TRANSFORM_GET_CLASS (self)->cuda_settings (self,
      device_id, wants_cuda);
}

GstCudaContext *
gst_maskrcnn_base_transform_get_cuda_context (GstMaskRcnnBaseTransform * self)
{
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private (self);

  return priv->cuda_ctx;
}

gboolean
gst_maskrcnn_base_transform_ensure_cuda_context (GstMaskRcnnBaseTransform *
    self, gchar ** why)
{
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private (self);
  gint device_id;
  gboolean wants_cuda;

  cuda_settings (self, &device_id, &wants_cuda);
  return gst_maskrcnn_cuda_ensure_context (GST_ELEMENT (self), device_id,
      &priv->cuda_ctx, why);
}

void
gst_maskrcnn_base_transform_look_for_cuda_context (GstMaskRcnnBaseTransform *
    self)
{
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private (self);
  gint device_id;
  gboolean wants_cuda;
  const gchar *no_driver = NULL;
  gchar *why = NULL;

  cuda_settings (self, &device_id, &wants_cuda);
  if (!wants_cuda || priv->cuda_ctx)
    return;
  if (!gst_maskrcnn_cuda_load (&no_driver)) {
    GST_INFO_OBJECT (self, "no CUDA context: %s", no_driver);
    return;
  }
  if (!gst_maskrcnn_cuda_ensure_context (GST_ELEMENT (self), device_id,
          &priv->cuda_ctx, &why)) {
    GST_INFO_OBJECT (self, "no CUDA context: %s", why);
    g_free (why);
  }
}

/* `caps` with its CUDA-memory structures first (in their order), then the
 * others; without the CUDA ones where `allow_cuda` is FALSE. */
static GstCaps *
cuda_first (GstCaps * caps, gboolean allow_cuda)
{
  GstCaps *cuda = gst_caps_new_empty (), *other = gst_caps_new_empty ();
  guint i, n = gst_caps_get_size (caps);

  for (i = 0; i < n; i++) {
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    gboolean is_cuda = f && !gst_caps_features_is_any (f) &&
        gst_caps_features_contains (f, GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY);

    if (is_cuda && !allow_cuda)
      continue;
    gst_caps_append_structure_full (is_cuda ? cuda : other,
        gst_structure_copy (gst_caps_get_structure (caps, i)),
        f ? gst_caps_features_copy (f) : NULL);
  }
  return gst_caps_merge (cuda, other);
}
#endif /* GST_MASK_RCNN_HAVE_CUDA */

/* ------------------------------------------------------------ vfuncs */

static void
gst_maskrcnn_base_transform_set_context (GstElement * element,
    GstContext * context)
{
#ifdef GST_MASK_RCNN_HAVE_CUDA
  GstMaskRcnnBaseTransform *self = GST_MASK_RCNN_BASE_TRANSFORM (element);
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private (self);
  gint device_id;
  gboolean wants_cuda;

  cuda_settings (self, &device_id, &wants_cuda);
  gst_maskrcnn_cuda_handle_set_context (element, context, device_id,
      &priv->cuda_ctx);
#endif
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

/* A context query is answered with the shared context. A caps query's
 * answer gets its memory:CUDAMemory structures first, so that a neighbour
 * that can give either (cudaupload, whose own order prefers system memory,
 * or a hardware decoder) keeps the frames on the device; an element that
 * takes no device frames leaves them out, since offering them would only
 * make a CUDA neighbour fail later, in set_caps. */
static gboolean
gst_maskrcnn_base_transform_query (GstBaseTransform * trans,
    GstPadDirection direction, GstQuery * query)
{
#ifdef GST_MASK_RCNN_HAVE_CUDA
  GstMaskRcnnBaseTransform *self = GST_MASK_RCNN_BASE_TRANSFORM (trans);
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private (self);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CONTEXT && priv->cuda_ctx &&
      gst_cuda_handle_context_query (GST_ELEMENT (trans), query,
          priv->cuda_ctx))
    return TRUE;
#endif
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction,
          query))
    return FALSE;
#ifdef GST_MASK_RCNN_HAVE_CUDA
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *caps = NULL;
    gint device_id;
    gboolean wants_cuda;

    gst_query_parse_caps_result (query, &caps);
    if (caps && !gst_caps_is_any (caps) && !gst_caps_is_empty (caps)) {
      GstCaps *ordered;

      cuda_settings (self, &device_id, &wants_cuda);
      ordered = cuda_first (caps, wants_cuda);
      gst_query_set_caps_result (query, ordered);
      gst_caps_unref (ordered);
    }
  }
#endif
  return TRUE;
}

static gboolean
gst_maskrcnn_base_transform_set_caps (GstBaseTransform * trans,
    GstCaps * incaps, GstCaps * outcaps)
{
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private
      (GST_MASK_RCNN_BASE_TRANSFORM (trans));

  priv->cuda_frames = FALSE;
#ifdef GST_MASK_RCNN_HAVE_CUDA
  priv->cuda_frames = gst_maskrcnn_caps_are_cuda (incaps);
#endif
  return TRUE;
}

/* GstBaseTransform's proposal, plus GstVideoMeta, since frames are read
 * through GstVideoFrame (any strides and offsets). */
static gboolean
gst_maskrcnn_base_transform_propose_allocation (GstBaseTransform * trans,
    GstQuery * decide_query, GstQuery * query)
{
  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->propose_allocation (trans,
          decide_query, query))
    return FALSE;
  if (!gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL))
    gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  return TRUE;
}

/* The context is looked for from NULL to READY, before nvcodec neighbours
 * look for theirs when they start (READY to PAUSED), so that they adopt the
 * primary context the engine needs. */
static GstStateChangeReturn
gst_maskrcnn_base_transform_change_state (GstElement * element,
    GstStateChange transition)
{
  GstStateChangeReturn ret;
#ifdef GST_MASK_RCNN_HAVE_CUDA
  GstMaskRcnnBaseTransform *self = GST_MASK_RCNN_BASE_TRANSFORM (element);
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private (self);

  if (transition == GST_STATE_CHANGE_NULL_TO_READY)
    gst_maskrcnn_base_transform_look_for_cuda_context (self);
#endif
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
#ifdef GST_MASK_RCNN_HAVE_CUDA
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_clear_object (&priv->cuda_ctx);
#endif
  return ret;
}

static void
gst_maskrcnn_base_transform_finalize (GObject * object)
{
#ifdef GST_MASK_RCNN_HAVE_CUDA
  GstMaskRcnnBaseTransformPrivate *priv =
      gst_maskrcnn_base_transform_get_instance_private
      (GST_MASK_RCNN_BASE_TRANSFORM (object));

  gst_clear_object (&priv->cuda_ctx);
#endif
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_maskrcnn_base_transform_default_cuda_settings (GstMaskRcnnBaseTransform *
    self, gint * device_id, gboolean * wants_cuda)
{
  *device_id = -1;
  *wants_cuda = TRUE;
}

static void
gst_maskrcnn_base_transform_class_init (GstMaskRcnnBaseTransformClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (gst_maskrcnn_base_transform_debug,
      "maskrcnnbasetransform", 0,
      "gst-maskrcnn elements' base: CUDA context and caps");

  gobject_class->finalize = gst_maskrcnn_base_transform_finalize;

  /* The shared CUDA context: adopted, looked for and dropped, answered. */
  element_class->set_context =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_base_transform_set_context);
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_base_transform_change_state);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_maskrcnn_base_transform_query);
  klass->cuda_settings = gst_maskrcnn_base_transform_default_cuda_settings;

  /* Whether the frames are in CUDA memory, for the subclasses. */
  trans_class->set_caps =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_base_transform_set_caps);

  /* Frames are read through GstVideoFrame: any strides and offsets. */
  trans_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_maskrcnn_base_transform_propose_allocation);

  gst_type_mark_as_plugin_api (GST_TYPE_MASK_RCNN_BASE_TRANSFORM, 0);
}

static void
gst_maskrcnn_base_transform_init (GstMaskRcnnBaseTransform * self)
{
}

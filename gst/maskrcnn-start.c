/* gst-maskrcnn: the maskrcnn element at start: its settings, handed to the
 * one function that makes or finds its engine (maskrcnn-shared.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmaskrcnn-priv.h"

#define GST_CAT_DEFAULT gst_maskrcnn_debug

gboolean
gst_maskrcnn_start_engine (GstMaskRcnn * self)
{
  GstMaskRcnnSharedSettings settings = { 0, };
  GError *error = NULL;
  gchar *debug = NULL, *id;
  gint cuda_device = -1;

  GST_OBJECT_LOCK (self);
  self->running = TRUE;
  id = g_strdup (self->instance_id && *self->instance_id ?
      self->instance_id : NULL);
  settings.model = g_strdup (self->model_path);
  settings.backend = self->backend;
  settings.device_id = self->device_id;
  settings.threads = self->threads;
  settings.precision = self->precision;
  settings.batch_size = self->batch_size;
  settings.thresholds = self->thresholds;
  GST_OBJECT_UNLOCK (self);

#ifdef GST_MASK_RCNN_HAVE_CUDA
  {
    GstMaskRcnnBaseTransform *base = GST_MASK_RCNN_BASE_TRANSFORM (self);
    GstCudaContext *ctx;

    gst_maskrcnn_base_transform_look_for_cuda_context (base);
    ctx = gst_maskrcnn_base_transform_get_cuda_context (base);
    if (ctx)
      cuda_device = gst_maskrcnn_cuda_context_device (ctx);
  }
#endif

  self->shared = gst_maskrcnn_shared_acquire (GST_ELEMENT (self), id,
      &settings, cuda_device, &error, &debug);
  gst_maskrcnn_shared_settings_clear (&settings);
  g_free (id);
  if (!self->shared) {
    POST_ERROR (self, error->domain, error->code, g_strdup (error->message),
        debug);
    g_error_free (error);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  g_free (self->running_model);
  self->running_model =
      g_strdup (gst_maskrcnn_shared_model_path (self->shared));
  GST_OBJECT_UNLOCK (self);

  self->have_info = FALSE;
  self->frame_index = 0;
  return TRUE;
}

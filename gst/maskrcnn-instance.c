/* gst-maskrcnn: owned copies of GstMaskRcnnInstance (its boxed type) and
 * the masks as GBytes.
 *
 * The instance the iterator fills borrows from the buffer, which is fine in
 * C but not for bindings (a Python object may outlive the buffer) nor for
 * another thread (the publisher's worker). A copy owns its label and a
 * reference to the mask data instead; the mask buffer is immutable once
 * attached, so sharing it is safe.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-meta.h"
#include "maskrcnn-meta-priv.h"

G_DEFINE_BOXED_TYPE (GstMaskRcnnInstance, gst_maskrcnn_instance,
    gst_maskrcnn_instance_copy, gst_maskrcnn_instance_free);

GstMaskRcnnInstance *
gst_maskrcnn_instance_copy (const GstMaskRcnnInstance * instance)
{
  GstMaskRcnnInstance *copy;

  g_return_val_if_fail (instance != NULL, NULL);

  copy = g_new (GstMaskRcnnInstance, 1);
  *copy = *instance;
  copy->roi = NULL;
  copy->label = g_strdup (instance->label ? instance->label : "");
  if (instance->mask)
    gst_buffer_ref (instance->mask);
  _gst_maskrcnn_instance_copy_set_track_id (copy,
      gst_maskrcnn_instance_get_track_id (instance));
  return copy;
}

void
gst_maskrcnn_instance_free (GstMaskRcnnInstance * instance)
{
  g_return_if_fail (instance != NULL);

  /* A copy's label is its own (gst_maskrcnn_instance_copy()). */
  _gst_maskrcnn_instance_copy_set_track_id (instance, 0);
  g_free ((gchar *) instance->label);
  if (instance->mask)
    gst_buffer_unref (instance->mask);
  g_free (instance);
}

gboolean
gst_maskrcnn_instance_has_mask (const GstMaskRcnnInstance * instance)
{
  g_return_val_if_fail (instance != NULL, FALSE);

  return instance->mask != NULL;
}

GBytes *
gst_maskrcnn_instance_get_mask (const GstMaskRcnnInstance * instance)
{
  gsize size;
  guint8 *data;

  g_return_val_if_fail (instance != NULL, NULL);

  if (!instance->mask || instance->width <= 0 || instance->height <= 0)
    return NULL;
  size = (gsize) instance->width * instance->height;
  data = g_try_malloc (size);
  if (!data)
    return NULL;
  if (!gst_maskrcnn_instance_read_mask (instance, data, instance->width,
          instance->height, instance->width)) {
    g_free (data);
    return NULL;
  }
  return g_bytes_new_take (data, size);
}

GBytes *
gst_maskrcnn_instance_get_frame_mask (const GstMaskRcnnInstance * instance,
    gint frame_width, gint frame_height)
{
  gsize size;
  guint8 *data;

  g_return_val_if_fail (instance != NULL, NULL);

  if (!instance->mask || frame_width <= 0 || frame_height <= 0)
    return NULL;
  size = (gsize) frame_width * frame_height;
  data = g_try_malloc0 (size);
  if (!data)
    return NULL;
  if (!gst_maskrcnn_instance_rasterize (instance, data, frame_width,
          frame_height, frame_width, 255)) {
    g_free (data);
    return NULL;
  }
  return g_bytes_new_take (data, size);
}

GList *
gst_maskrcnn_buffer_copy_instances (GstBuffer * buffer)
{
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  GList *list = NULL;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  while (gst_maskrcnn_buffer_iterate_instances (buffer, &state, &inst))
    list = g_list_prepend (list, gst_maskrcnn_instance_copy (&inst));
  return g_list_reverse (list);
}

/* gst-maskrcnn: GstMaskRcnnDetection, an owned copy of one instance.
 *
 * The GstMaskRcnnInstance that the iterator fills borrows from the buffer,
 * which is fine in C but not for bindings (a Python object may outlive the
 * buffer) nor for another thread (the publisher's worker). A detection
 * copies the label and takes a reference to the mask data instead; the mask
 * buffer is immutable once attached, so sharing it is safe.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-meta.h"

#include <string.h>

G_DEFINE_BOXED_TYPE (GstMaskRcnnDetection, gst_maskrcnn_detection,
    gst_maskrcnn_detection_ref, gst_maskrcnn_detection_unref);

GstMaskRcnnDetection *
gst_maskrcnn_detection_new_from_instance (const GstMaskRcnnInstance * instance)
{
  GstMaskRcnnDetection *d;

  g_return_val_if_fail (instance != NULL, NULL);

  d = g_new0 (GstMaskRcnnDetection, 1);
  d->ref_count = 1;
  d->label = g_strdup (instance->label ? instance->label : "");
  d->class_id = instance->class_id;
  d->score = instance->confidence;
  d->x = instance->x;
  d->y = instance->y;
  d->width = instance->width;
  d->height = instance->height;
  d->stale = instance->stale;
  d->age = instance->age;
  if (instance->mask) {
    d->mask_data = gst_buffer_ref (instance->mask);
    d->mask_width = instance->mask_width;
    d->mask_height = instance->mask_height;
  }
  return d;
}

GstMaskRcnnDetection *
gst_maskrcnn_detection_ref (GstMaskRcnnDetection * detection)
{
  g_return_val_if_fail (detection != NULL, NULL);

  g_atomic_int_inc (&detection->ref_count);
  return detection;
}

void
gst_maskrcnn_detection_unref (GstMaskRcnnDetection * detection)
{
  g_return_if_fail (detection != NULL);

  if (!g_atomic_int_dec_and_test (&detection->ref_count))
    return;
  g_free (detection->label);
  if (detection->mask_data)
    gst_buffer_unref (detection->mask_data);
  g_free (detection);
}

gboolean
gst_maskrcnn_detection_has_mask (const GstMaskRcnnDetection * detection)
{
  g_return_val_if_fail (detection != NULL, FALSE);

  return detection->mask_data != NULL;
}

/* The borrowed view the reading functions of maskrcnn-meta.c take, so that
 * the resampling is written once. */
static void
detection_as_instance (const GstMaskRcnnDetection * d,
    GstMaskRcnnInstance * inst)
{
  memset (inst, 0, sizeof (*inst));
  inst->label = d->label;
  inst->class_id = d->class_id;
  inst->confidence = d->score;
  inst->x = d->x;
  inst->y = d->y;
  inst->width = d->width;
  inst->height = d->height;
  inst->stale = d->stale;
  inst->age = d->age;
  inst->mask = d->mask_data;
  inst->mask_width = d->mask_width;
  inst->mask_height = d->mask_height;
}

GBytes *
gst_maskrcnn_detection_get_mask (const GstMaskRcnnDetection * detection)
{
  GstMaskRcnnInstance inst;
  gsize size;
  guint8 *data;

  g_return_val_if_fail (detection != NULL, NULL);

  if (!detection->mask_data || detection->width <= 0 ||
      detection->height <= 0)
    return NULL;
  detection_as_instance (detection, &inst);
  size = (gsize) detection->width * detection->height;
  data = g_try_malloc (size);
  if (!data)
    return NULL;
  if (!gst_maskrcnn_instance_read_mask (&inst, data, detection->width,
          detection->height, detection->width)) {
    g_free (data);
    return NULL;
  }
  return g_bytes_new_take (data, size);
}

GBytes *
gst_maskrcnn_detection_get_frame_mask (const GstMaskRcnnDetection *
    detection, gint frame_width, gint frame_height)
{
  GstMaskRcnnInstance inst;
  gsize size;
  guint8 *data;

  g_return_val_if_fail (detection != NULL, NULL);

  if (!detection->mask_data || frame_width <= 0 || frame_height <= 0)
    return NULL;
  detection_as_instance (detection, &inst);
  size = (gsize) frame_width * frame_height;
  data = g_try_malloc0 (size);
  if (!data)
    return NULL;
  if (!gst_maskrcnn_instance_rasterize (&inst, data, frame_width,
          frame_height, frame_width, 255)) {
    g_free (data);
    return NULL;
  }
  return g_bytes_new_take (data, size);
}

GList *
gst_maskrcnn_buffer_get_instances (GstBuffer * buffer)
{
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  GList *list = NULL;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  while (gst_maskrcnn_buffer_iterate_instances (buffer, &state, &inst))
    list = g_list_prepend (list,
        gst_maskrcnn_detection_new_from_instance (&inst));
  return g_list_reverse (list);
}
